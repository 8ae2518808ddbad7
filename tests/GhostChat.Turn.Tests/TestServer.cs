using System.Net;
using System.Net.Sockets;
using GhostChat.Turn.Auth;
using GhostChat.Turn.Client;
using GhostChat.Turn.Server;

namespace GhostChat.Turn.Tests;

/// <summary>Our TURN server on 127.0.0.1, free ports, a known secret; disposed by the test that made it.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    public const string Secret = "test-secret-0123456789abcdef";
    private static int _nextRange;

    private TestServer(TurnServer server, TurnServerOptions options, TimeProvider time, Refusals refusals)
    {
        Server = server;
        Options = options;
        Time = time;
        Refusals = refusals;
    }

    /// <summary>This server's <c>ghostchat.turn.refusals</c> by reason.</summary>
    public Refusals Refusals { get; }

    public TurnServer Server { get; }

    public TurnServerOptions Options { get; }

    public TimeProvider Time { get; }

    public IPEndPoint Udp => Server.UdpEndPoints[0];

    public IPEndPoint Tcp => Server.TcpEndPoints[0];

    public static async Task<TestServer> StartAsync(Action<TurnServerOptions>? configure = null, TimeProvider? time = null)
    {
        // Each server gets its own slice of relay ports so parallel test classes do not collide.
        int slice = Interlocked.Increment(ref _nextRange) % 20;
        var options = new TurnServerOptions
        {
            ListenAddresses = ["127.0.0.1"],
            UdpPort = 0,
            TcpPort = 0,
            Secrets = [Secret],
            RelayMinPort = 40000 + (slice * 500),
            RelayMaxPort = 40000 + (slice * 500) + 499,
            UdpReceiveLoops = 2,
            MaxCredentialLifetime = TimeSpan.FromHours(25),
        };
        configure?.Invoke(options);
        time ??= TimeProvider.System;
        // One port for UDP and TCP (coturn's clients take a single -p): take a free UDP port, then bind both to it.
        for (int attempt = 0; ; attempt++)
        {
            options.UdpPort = options.TcpPort = FreePorts.Udp();
            var refusals = new Refusals();
            var server = new TurnServer(options, timeProvider: time, meterFactory: refusals);
            try
            {
                await server.StartAsync();
                return new TestServer(server, options, time, refusals);
            }
            catch (SocketException) when (attempt < 20)
            {
                await server.DisposeAsync();
                refusals.Dispose();
            }
        }
    }

    public TurnCredential Credential(string user = "alice", TimeSpan? ttl = null) =>
        TurnRestCredentials.Create(Secret, user, ttl ?? TimeSpan.FromHours(1), Time.GetUtcNow());

    public TurnClient Client() => TurnClient.ConnectUdp(Udp);

    public async Task<TurnClient> AllocatedClientAsync(string user = "alice")
    {
        var client = Client();
        var c = Credential(user);
        await client.AllocateAsync(c.Username, c.Password);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Refusals.Dispose();
    }
}

/// <summary>
/// The meter factory of one test server, and a listener on its instruments only (tests run in parallel): counts
/// <c>ghostchat.turn.refusals</c> by its <c>reason</c> tag.
/// </summary>
internal sealed class Refusals : System.Diagnostics.Metrics.IMeterFactory
{
    private readonly System.Diagnostics.Metrics.MeterListener _listener = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _counts = new();

    public Refusals()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, this) && instrument.Name == "ghostchat.turn.refusals")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "reason" && tag.Value is string reason)
                {
                    _counts.AddOrUpdate(reason, value, (_, v) => v + value);
                }
            }
        });
        _listener.Start();
    }

    /// <summary>Refusals counted so far for <paramref name="reason"/>.</summary>
    public long this[string reason] => _counts.GetValueOrDefault(reason);

    public System.Diagnostics.Metrics.Meter Create(System.Diagnostics.Metrics.MeterOptions options) =>
        new(options.Name, options.Version, options.Tags, this);

    public void Dispose() => _listener.Dispose();
}

/// <summary>A UDP socket on 127.0.0.1 standing in for a peer.</summary>
internal sealed class UdpPeer : IDisposable
{
    public UdpPeer()
    {
        Socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        Socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
    }

    public Socket Socket { get; }

    public IPEndPoint EndPoint => (IPEndPoint)Socket.LocalEndPoint!;

    public async Task<(byte[] Data, IPEndPoint From)> ReceiveAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[65536];
        var r = await Socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cts.Token);
        return (buffer[..r.ReceivedBytes], (IPEndPoint)r.RemoteEndPoint);
    }

    public void Dispose() => Socket.Dispose();
}

internal static class Wait
{
    /// <summary>Polls a condition that an event elsewhere makes true; fails after a generous timeout.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, int timeoutMs = 20000)
    {
        var deadline = Environment.TickCount64 + timeoutMs;
        while (!condition())
        {
            if (Environment.TickCount64 > deadline)
            {
                Assert.Fail("Timed out waiting for " + what);
            }
            await Task.Delay(10);
        }
    }
}
