using System.Net.Sockets;
using System.Text;

namespace GhostChat.Server.Tests.Signaling;

/// <summary>
/// Clean WebSocket upgrades to the signaling path are served from the connection (the fast path);
/// everything else reaches Kestrel's HTTP parser untouched, and a hostile request never stops the
/// server from serving others. These run on Kestrel's socket transport
/// (<c>GhostChat:Signaling:SocketLoop=false</c>), where the fast path is Kestrel connection middleware;
/// the rest of the suite runs on the socket loop (the default), which hands all but clean upgrades to
/// that same middleware.
/// </summary>
public sealed class ConnectionFastPathTests
{
    /// <summary>A test server on Kestrel's socket transport, the loop off.</summary>
    private static Task<TestServer> StartKestrelAsync(Dictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?>(settings ?? []) { ["GhostChat:Signaling:SocketLoop"] = "false" };
        return TestServer.StartAsync(all);
    }

    [Fact]
    public async Task CleanUpgrade_SocketLoopOff_IsServedByTheFastPath()
    {
        await using var server = await StartKestrelAsync();
        await using var a = await server.RegisterAsync("alice");
        Assert.Equal(1, await server.MetricAsync("ghostchat_signaling_connections_total", "path=\"connection\""));
        Assert.Equal(0, await server.MetricAsync("ghostchat_signaling_connections_total", "path=\"http\""));
    }

    [Fact]
    public async Task FastPathOff_TheHttpPipelineServesTheSameProtocol()
    {
        await using var server = await StartKestrelAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Signaling:ConnectionFastPath"] = "false",
            ["GhostChat:Signaling:Limits:MaxSocketsPerIp"] = "2",
            ["GhostChat:Network:TrustedProxies:0"] = "127.0.0.1",
        });
        await using var a = await server.RegisterAsync("alice", configure: o => o.SetRequestHeader("X-Forwarded-For", "198.51.100.1"));
        await using var b = await server.RegisterAsync("bob", configure: o => o.SetRequestHeader("X-Forwarded-For", "198.51.100.2"));
        await using var c = await server.RegisterAsync("carol", configure: o => o.SetRequestHeader("X-Forwarded-For", "198.51.100.3"));
        await a.SendAsync(new { type = "OFFER", dst = "bob", payload = 1 });
        Assert.Equal("alice", (await b.ReceiveAsync()).Src);
        Assert.Equal(3, await server.MetricAsync("ghostchat_signaling_connections_total", "path=\"http\""));
    }

    [Fact]
    public async Task UpgradeAfterAnotherRequestOnTheSameConnection_IsServedByHttp()
    {
        await using var server = await StartKestrelAsync();
        using var tcp = await ConnectAsync(server);
        var stream = tcp.GetStream();
        await Send(stream, "GET /peerjs/id HTTP/1.1\r\nHost: x\r\n\r\n");
        var head = await ReadHeadAsync(stream);
        Assert.StartsWith("HTTP/1.1 200", head, StringComparison.Ordinal);
        var length = int.Parse(head.Split("\r\n").Single(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))[15..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        await stream.ReadExactlyAsync(new byte[length]); // the id
        await Send(stream, Upgrade("/peerjs?key=peerjs&id=alice&token=t"));
        Assert.StartsWith("HTTP/1.1 101", await ReadHeadAsync(stream), StringComparison.Ordinal);
        Assert.Equal(1, await server.MetricAsync("ghostchat_signaling_connections_total", "path=\"http\""));
    }

    public static TheoryData<string, string> HostileRequests() => new()
    {
        { "no upgrade headers", "GET /peerjs?key=peerjs&id=a&token=t HTTP/1.1\r\nHost: x\r\n\r\n" },
        { "short key", "GET /peerjs?key=peerjs&id=a&token=t HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: c2hvcnQ=\r\n\r\n" },
        { "wrong version", "GET /peerjs?key=peerjs&id=a&token=t HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" },
        { "repeated key", "GET /peerjs?key=peerjs&id=a&token=t HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" },
        { "folded header", "GET /peerjs?key=peerjs&id=a&token=t HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n continued\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" },
        { "control characters", "GET /peerjs?key=peerjs&id=a&token=t HTTP/1.1\r\nHost: x\u0001\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" },
        { "bare LF", "GET /peerjs?key=peerjs&id=a&token=t HTTP/1.1\nHost: x\nUpgrade: websocket\n\n" },
        { "huge header", "GET /peerjs?key=peerjs&id=a&token=t HTTP/1.1\r\nHost: x\r\nX-Pad: " + new string('a', 40_000) + "\r\n\r\n" },
        { "body with upgrade", "GET /peerjs?key=peerjs&id=a&token=t HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\nhello" },
        { "binary garbage", "\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u00fc\u0003\u0003garbage\r\n\r\n" },
        { "other method", "POST /peerjs?key=peerjs&id=a&token=t HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" },
    };

    [Theory]
    [MemberData(nameof(HostileRequests))]
    public async Task HostileUpgradeRequest_GetsAnHttpAnswerOrClose_AndOthersKeepBeingServed(string name, string request)
    {
        await using var server = await StartKestrelAsync();
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");

        using (var tcp = await ConnectAsync(server))
        {
            var stream = tcp.GetStream();
            await stream.WriteAsync(Encoding.Latin1.GetBytes(request));
            var answer = await ReadHeadAsync(stream);
            Assert.True(answer.Length == 0 || (answer.StartsWith("HTTP/1.1 4", StringComparison.Ordinal) && !answer.Contains(" 101 ", StringComparison.Ordinal)), $"{name}: {answer}");
        }

        await a.SendAsync(new { type = "OFFER", dst = "bob", payload = name });
        Assert.Equal(name, (await b.ReceiveAsync()).Payload.GetString());
        await using var c = await server.RegisterAsync("carol");
        Assert.Equal(0, await server.MetricAsync("ghostchat_signaling_peers") - 3);
    }

    // Attack: the operator restricts AllowedHosts (DNS rebinding, a stray name pointing here); the fast
    // path must not accept a signaling socket the rest of the app would refuse.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Upgrade_HostOutsideAllowedHosts_RefusedLikeTheRestOfTheApp(bool socketLoop)
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["AllowedHosts"] = "chat.example.org;127.0.0.1",
            ["GhostChat:Signaling:SocketLoop"] = socketLoop ? "true" : "false",
        });
        foreach (var request in new[] { Upgrade("/peerjs?key=peerjs&id=mallory&token=t", "evil.example"), "GET /healthz HTTP/1.1\r\nHost: evil.example\r\n\r\n" })
        {
            using var tcp = await ConnectAsync(server);
            await Send(tcp.GetStream(), request);
            Assert.StartsWith("HTTP/1.1 400", await ReadHeadAsync(tcp.GetStream()), StringComparison.Ordinal);
        }
        // The allowed name (any port, any case) is still served on the fast path (on the loop where it runs).
        using (var tcp = await ConnectAsync(server))
        {
            await Send(tcp.GetStream(), Upgrade("/peerjs?key=peerjs&id=alice&token=t", "Chat.Example.org:8080"));
            Assert.StartsWith("HTTP/1.1 101", await ReadHeadAsync(tcp.GetStream()), StringComparison.Ordinal);
        }
        var path = socketLoop && GhostChat.Server.Signaling.Loop.SignalingLoopTransport.Supported ? "path=\"loop\"" : "path=\"connection\"";
        Assert.Equal(1, await server.MetricAsync("ghostchat_signaling_connections_total", path));
        Assert.Equal(0, await server.MetricAsync("ghostchat_signaling_connections_total", "path=\"http\""));
    }

    // The operator narrows AllowedHosts while the server runs (configuration reload): the fast path
    // follows at once, as the pipeline's host filtering does. It read the list once before.
    [Fact]
    public async Task Upgrade_AllowedHostsNarrowedWhileRunning_FastPathFollows()
    {
        await using var server = await StartKestrelAsync(new Dictionary<string, string?> { ["AllowedHosts"] = "*" });
        using (var tcp = await ConnectAsync(server))
        {
            await Send(tcp.GetStream(), Upgrade("/peerjs?key=peerjs&id=alice&token=t", "evil.example"));
            Assert.StartsWith("HTTP/1.1 101", await ReadHeadAsync(tcp.GetStream()), StringComparison.Ordinal);
        }
        var config = (IConfigurationRoot)server.Services.GetRequiredService<IConfiguration>();
        config["AllowedHosts"] = "chat.example.org";
        config.Reload();
        using (var tcp = await ConnectAsync(server))
        {
            await Send(tcp.GetStream(), Upgrade("/peerjs?key=peerjs&id=mallory&token=t", "evil.example"));
            Assert.StartsWith("HTTP/1.1 400", await ReadHeadAsync(tcp.GetStream()), StringComparison.Ordinal);
        }
        using (var tcp = await ConnectAsync(server))
        {
            await Send(tcp.GetStream(), Upgrade("/peerjs?key=peerjs&id=bob&token=t", "chat.example.org"));
            Assert.StartsWith("HTTP/1.1 101", await ReadHeadAsync(tcp.GetStream()), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task StalledHandshake_DoesNotHoldUpOthers()
    {
        await using var server = await StartKestrelAsync();
        using var stalled = await ConnectAsync(server);
        await stalled.GetStream().WriteAsync("GET /peerjs?key=peerjs&id=slow&token=t HTTP/1.1\r\nHost: x\r\n"u8.ToArray()); // and never finishes
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");
        await a.SendAsync(new { type = "OFFER", dst = "bob", payload = 1 });
        Assert.Equal("alice", (await b.ReceiveAsync()).Src);
    }

    internal static string Upgrade(string target, string host = "x") =>
        $"GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

    internal static async Task<TcpClient> ConnectAsync(TestServer server)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(server.BaseUri.Host, server.BaseUri.Port);
        return tcp;
    }

    internal static Task Send(NetworkStream stream, string text) => stream.WriteAsync(Encoding.ASCII.GetBytes(text)).AsTask();

    /// <summary>Reads up to the end of the response head, or "" if the server closes first.</summary>
    internal static async Task<string> ReadHeadAsync(NetworkStream stream)
    {
        var received = new List<byte>();
        var buffer = new byte[1];
        using var cts = new CancellationTokenSource(PeerClient.DefaultWait);
        try
        {
            while (!Encoding.ASCII.GetString([.. received]).Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                if (await stream.ReadAsync(buffer, cts.Token) == 0)
                {
                    break;
                }
                received.Add(buffer[0]);
            }
        }
        catch (IOException)
        {
        }
        return Encoding.ASCII.GetString([.. received]);
    }
}
