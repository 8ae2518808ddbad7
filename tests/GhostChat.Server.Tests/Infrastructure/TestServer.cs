using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace GhostChat.Server.Tests.Infrastructure;

/// <summary>
/// The real GhostChat server (the same composition root as the product) on a real loopback socket
/// with an ephemeral port, optionally on a fake clock. Dispose stops it.
/// </summary>
public sealed class TestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestServer(WebApplication app, FakeTimeProvider? time, CapturingLoggerProvider logs)
    {
        _app = app;
        Time = time;
        Logs = logs;
        Urls = [.. app.Urls.Select(u => new Uri(u.EndsWith('/') ? u : u + "/"))];
        BaseUri = Urls.First(u => u.Scheme == "http");
        Http = new HttpClient { BaseAddress = BaseUri, Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri BaseUri { get; }

    /// <summary>Every address the server listens on.</summary>
    public IReadOnlyList<Uri> Urls { get; }

    public HttpClient Http { get; }

    /// <summary>The server's clock when started with <c>fakeTime: true</c>.</summary>
    public FakeTimeProvider? Time { get; }

    public CapturingLoggerProvider Logs { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>Starts a server. <paramref name="settings"/> are configuration keys such as <c>GhostChat:Signaling:Key</c>.</summary>
    public static async Task<TestServer> StartAsync(IDictionary<string, string?>? settings = null, bool fakeTime = false, string urls = "http://127.0.0.1:0")
    {
        var all = new Dictionary<string, string?>
        {
            ["GhostChat:Turn:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "Debug",
            ["Logging:LogLevel:Microsoft"] = "Warning",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>())
        {
            all[k] = v;
        }

        var time = fakeTime ? new FakeTimeProvider(DateTimeOffset.UtcNow) : null;
        var logs = new CapturingLoggerProvider();
        var app = await GhostChatInProcess.StartAsync(all, urls, builder =>
        {
            builder.Logging.AddProvider(logs);
            if (time is not null)
            {
                builder.Services.AddSingleton<TimeProvider>(time);
            }
        });
        return new TestServer(app, time, logs);
    }

    public Uri WebSocketUri(string? id, string? token, string? key = "peerjs", string path = "/")
    {
        var query = new List<string>();
        if (key is not null) query.Add("key=" + Uri.EscapeDataString(key));
        if (id is not null) query.Add("id=" + Uri.EscapeDataString(id));
        if (token is not null) query.Add("token=" + Uri.EscapeDataString(token));
        var builder = new UriBuilder(BaseUri) { Scheme = "ws", Path = path + "peerjs", Query = string.Join('&', query) };
        return builder.Uri;
    }

    /// <summary>Connects and waits for OPEN.</summary>
    public async Task<PeerClient> RegisterAsync(string id, string? token = null, Action<System.Net.WebSockets.ClientWebSocketOptions>? configure = null)
    {
        var client = await PeerClient.ConnectAsync(WebSocketUri(id, token ?? "tok-" + id), configure);
        var open = await client.ReceiveAsync();
        Assert.Equal("OPEN", open.Type);
        return client;
    }

    public async Task<string> MetricsAsync() => await Http.GetStringAsync("metrics");

    /// <summary>Sum of a Prometheus series' values whose line contains every fragment in <paramref name="labels"/>.</summary>
    public async Task<double> MetricAsync(string name, params string[] labels)
    {
        var text = await MetricsAsync();
        double sum = 0;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(name, StringComparison.Ordinal) && (line.Length == name.Length || line[name.Length] is '{' or ' ')
                && labels.All(l => line.Contains(l, StringComparison.Ordinal)))
            {
                sum += double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        return sum;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Keeps every log record so tests can check what the server writes (privacy).</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<(LogLevel Level, string Category, string Message)> Records { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => owner.Records.Enqueue((logLevel, category, formatter(state, exception) + (exception is null ? "" : " " + exception)));
    }
}
