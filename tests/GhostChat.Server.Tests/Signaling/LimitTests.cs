using System.Net.WebSockets;

namespace GhostChat.Server.Tests.Signaling;

public sealed class LimitTests
{
    private static async Task<Received> RefusalAsync(TestServer server, string id, Action<ClientWebSocketOptions>? configure = null)
    {
        await using var client = await PeerClient.ConnectAsync(server.WebSocketUri(id, "t-" + id), configure);
        var message = await client.ReceiveAsync();
        await client.WaitClosedAsync();
        return message;
    }

    [Fact]
    public async Task MessageRate_OverBurstIsDropped_ThenSocketClosed()
    {
        // On the fake clock no tokens come back, so exactly the burst gets through.
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Signaling:Limits:MessageBurst"] = "10",
            ["GhostChat:Signaling:Limits:OverRateFramesBeforeClose"] = "5",
        }, fakeTime: true);
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");
        for (var i = 0; i < 14; i++)
        {
            await a.SendAsync(new { type = "CANDIDATE", dst = "bob", payload = i });
        }
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(i, (await b.ReceiveAsync()).Payload.GetInt32());
        }
        Assert.Null(await b.TryReceiveAsync(TimeSpan.FromMilliseconds(200)));
        Assert.Equal(WebSocketState.Open, a.State);

        await a.SendAsync(new { type = "CANDIDATE", dst = "bob", payload = 99 });
        var (status, reason) = await a.WaitClosedAsync();
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
        Assert.Equal("message rate limit exceeded", reason);
    }

    [Fact]
    public async Task MessageFlood_ClientStillReadsThe1008CloseAndItsReason()
    {
        // The server must not reset the connection over the flood's unread frames (the client would see 1006).
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Signaling:Limits:MessageBurst"] = "5",
            ["GhostChat:Signaling:Limits:MessagesPerSecond"] = "5",
            ["GhostChat:Signaling:Limits:OverRateFramesBeforeClose"] = "20",
        });
        var frame = System.Text.Encoding.UTF8.GetBytes("{\"type\":\"CANDIDATE\",\"dst\":\"nobody\",\"payload\":{\"candidate\":\"x\"}}");
        for (var round = 0; round < 3; round++)
        {
            await using var a = await server.RegisterAsync("flooder" + round);
            try
            {
                for (var i = 0; i < 400; i++)
                {
                    await a.SendRawAsync(frame, WebSocketMessageType.Text);
                }
            }
            catch (WebSocketException)
            {
                // the server closed while we were still writing
            }
            var (status, reason) = await a.WaitClosedAsync();
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
            Assert.Equal("message rate limit exceeded", reason);
        }
    }

    [Fact]
    public async Task MessageRate_RefillsOverTime()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Signaling:Limits:MessageBurst"] = "2",
            ["GhostChat:Signaling:Limits:MessagesPerSecond"] = "1",
        }, fakeTime: true);
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");
        await a.SendAsync(new { type = "OFFER", dst = "bob", payload = 1 });
        await a.SendAsync(new { type = "OFFER", dst = "bob", payload = 2 });
        await a.SendAsync(new { type = "OFFER", dst = "bob", payload = 3 }); // dropped
        Assert.Equal(1, (await b.ReceiveAsync()).Payload.GetInt32());
        Assert.Equal(2, (await b.ReceiveAsync()).Payload.GetInt32());
        Assert.Null(await b.TryReceiveAsync(TimeSpan.FromMilliseconds(200)));

        server.Time!.Advance(TimeSpan.FromSeconds(1));
        await a.SendAsync(new { type = "OFFER", dst = "bob", payload = 4 });
        Assert.Equal(4, (await b.ReceiveAsync()).Payload.GetInt32());
    }

    [Fact]
    public async Task SocketsPerAddress_AreCapped_AndFreedOnClose()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Signaling:Limits:MaxSocketsPerIp"] = "2" });
        var a = await server.RegisterAsync("a");
        await using var b = await server.RegisterAsync("b");
        var refusal = await RefusalAsync(server, "c");
        Assert.Equal("ERROR", refusal.Type);
        Assert.StartsWith("Too many connections from your network address", refusal.ErrorMessage, StringComparison.Ordinal);

        await a.CloseAsync();
        await a.DisposeAsync();
        await Eventually.MetricAsync(server, "ghostchat_signaling_sockets", 1);
        await using var c = await server.RegisterAsync("c");
    }

    [Fact]
    public async Task ConnectRatePerAddress_IsLimited_AndRecovers()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Signaling:Limits:ConnectBurstPerIp"] = "3",
            ["GhostChat:Signaling:Limits:ConnectsPerSecondPerIp"] = "1",
        }, fakeTime: true);
        await using var a = await server.RegisterAsync("a");
        await using var b = await server.RegisterAsync("b");
        await using var c = await server.RegisterAsync("c");
        var refusal = await RefusalAsync(server, "d");
        Assert.StartsWith("Connecting too often", refusal.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(1, await server.MetricAsync("ghostchat_signaling_rejections_total", "reason=\"connect_rate\""));

        server.Time!.Advance(TimeSpan.FromSeconds(1));
        await using var d = await server.RegisterAsync("d");
    }

    [Fact]
    public async Task GlobalSocketCap_RefusesWithCapacityMessage()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Signaling:Limits:MaxSockets"] = "2" });
        await using var a = await server.RegisterAsync("a");
        await using var b = await server.RegisterAsync("b");
        var refusal = await RefusalAsync(server, "c");
        Assert.StartsWith("Server is at capacity", refusal.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ForwardedFor_FromTrustedProxy_SeparatesClients()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Signaling:Limits:MaxSocketsPerIp"] = "1",
            ["GhostChat:Network:TrustedProxies:0"] = "127.0.0.1",
        });
        await using var a = await server.RegisterAsync("a", configure: o => o.SetRequestHeader("X-Forwarded-For", "198.51.100.1"));
        await using var b = await server.RegisterAsync("b", configure: o => o.SetRequestHeader("X-Forwarded-For", "198.51.100.2"));
        var refusal = await RefusalAsync(server, "c", o => o.SetRequestHeader("X-Forwarded-For", "198.51.100.1"));
        Assert.StartsWith("Too many connections", refusal.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ForwardedFor_WithoutTrustedProxy_IsIgnored()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Signaling:Limits:MaxSocketsPerIp"] = "1" });
        await using var a = await server.RegisterAsync("a", configure: o => o.SetRequestHeader("X-Forwarded-For", "198.51.100.1"));
        var refusal = await RefusalAsync(server, "b", o => o.SetRequestHeader("X-Forwarded-For", "198.51.100.2"));
        Assert.StartsWith("Too many connections", refusal.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SlowReceiver_IsClosed_SenderKeepsWorking()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Signaling:Limits:MaxOutboundFramesPerSocket"] = "8",
            ["GhostChat:Signaling:Limits:MessageBurst"] = "100000",
            ["GhostChat:Signaling:Limits:MessagesPerSecond"] = "100000",
        });
        await using var a = await server.RegisterAsync("alice");
        await using var c = await server.RegisterAsync("carol");
        // bob connects with a raw socket and never reads: kernel buffers fill, then the outbound queue.
        using var bob = new ClientWebSocket();
        await bob.ConnectAsync(server.WebSocketUri("bob", "tb"), CancellationToken.None);

        var payload = new string('x', 60_000);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (await server.MetricAsync("ghostchat_signaling_rejections_total", "reason=\"slow_consumer\"") < 1)
        {
            Assert.True(DateTime.UtcNow < deadline, "the never-reading socket was never closed");
            for (var i = 0; i < 50; i++)
            {
                await a.SendAsync(new { type = "CANDIDATE", dst = "bob", payload });
            }
        }

        // The never-reading socket is really gone (its blocked sends were abandoned), not just marked.
        await Eventually.MetricAsync(server, "ghostchat_signaling_sockets", 2);

        await a.SendAsync(new { type = "OFFER", dst = "carol", payload = "fine" });
        Received next;
        do
        {
            next = await c.ReceiveAsync();
        }
        while (next.Type != "OFFER");
        Assert.Equal("fine", next.Payload.GetString());
    }
}
