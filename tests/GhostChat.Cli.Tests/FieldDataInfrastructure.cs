using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using GhostChat.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace GhostChat.Cli.Tests;

/// <summary>
/// The real GhostChat server (same composition root) on 127.0.0.1 with field data on (memory store) and the per-address
/// limits off, for the stats and feedback commands; <paramref name="settings"/> override (feature off, other operators).
/// </summary>
internal sealed class FieldDataServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FieldDataServer(WebApplication app)
    {
        _app = app;
        Url = new Uri(app.Urls.First());
        Http = new HttpClient { BaseAddress = Url };
    }

    public Uri Url { get; }

    /// <summary>The address as the commands take it.</summary>
    public string Address => Url.ToString();

    public HttpClient Http { get; }

    public static async Task<FieldDataServer> StartAsync(IDictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["GhostChat:Turn:Enabled"] = "false",
            ["GhostChat:Telemetry:Reports:Burst"] = "0",
            ["GhostChat:Telemetry:Feedback:Burst"] = "0",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>())
        {
            all[k] = v;
        }
        var app = GhostChatHost.Build(["--urls", "http://127.0.0.1:0"], builder =>
        {
            builder.Configuration.AddInMemoryCollection(all);
            builder.Logging.ClearProviders();
        });
        await app.StartAsync();
        return new FieldDataServer(app);
    }

    /// <summary>Posts a report as a browser that agreed would; the server must count it (204).</summary>
    public async Task PostReportAsync(string json)
    {
        using var response = await Http.PostAsync("api/telemetry", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    /// <summary>Posts feedback as the app's "Send feedback" does; the server must keep it (204).</summary>
    public async Task PostFeedbackAsync(string json)
    {
        using var response = await Http.PostAsync("api/feedback", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>A real HTTP server on 127.0.0.1 that answers every request with one canned status, content type and body.</summary>
internal sealed class CannedServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private CannedServer(WebApplication app)
    {
        _app = app;
        Address = app.Urls.First();
    }

    public string Address { get; }

    /// <summary>Paths asked, in order.</summary>
    public List<string> Requests { get; } = [];

    /// <summary>Starts it; with <paramref name="https"/>, over TLS with a self-signed certificate no machine trusts.</summary>
    public static async Task<CannedServer> StartAsync(int status, string? contentType, string body, bool https = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        if (https)
        {
            builder.WebHost.UseKestrelHttpsConfiguration();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.UseHttps(SelfSigned())));
        }
        else
        {
            builder.WebHost.UseUrls("http://127.0.0.1:0");
        }
        builder.Logging.ClearProviders();
        var app = builder.Build();
        CannedServer? server = null;
        app.Run(async context =>
        {
            server!.Requests.Add(context.Request.Method + " " + context.Request.Path + context.Request.QueryString);
            context.Response.StatusCode = status;
            if (contentType is not null)
            {
                context.Response.ContentType = contentType;
            }
            await context.Response.WriteAsync(body);
        });
        await app.StartAsync();
        server = new CannedServer(app);
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pkcs12), null);
    }
}

/// <summary>Reads the Spectre tables the commands print.</summary>
internal static class TableText
{
    /// <summary>The cells of the table row whose first cell is <paramref name="first"/> (the first such row).</summary>
    public static string[] Row(string output, string first) =>
        Rows(output).FirstOrDefault(cells => cells[0] == first) ?? throw new InvalidOperationException($"no row '{first}' in:\n{output}");

    /// <summary>Every table row (header rows included) as trimmed cells.</summary>
    public static IEnumerable<string[]> Rows(string output) =>
        output.Split('\n')
            .Select(l => l.TrimEnd('\r'))
            .Where(l => l.StartsWith('│'))
            .Select(l => l.Trim('│').Split('│').Select(c => c.Trim()).ToArray());
}
