using System.Net.WebSockets;

namespace GhostChat.Server.Tests.Signaling;

public sealed class QueueAndLivenessTests
{
    [Fact]
    public async Task OfflineDestination_MessagesQueued_FlushedInOrderAfterOpen()
    {
        await using var server = await TestServer.StartAsync(fakeTime: true);
        await using var a = await server.RegisterAsync("alice");
        for (var i = 0; i < 5; i++)
        {
            await a.SendAsync(new { type = i % 2 == 0 ? "OFFER" : "CANDIDATE", dst = "bob", payload = i });
        }
        await Eventually.MetricAsync(server, "ghostchat_signaling_messages_queued_total", 5);

        await using var b = await PeerClient.ConnectAsync(server.WebSocketUri("bob", "t"));
        Assert.Equal("OPEN", (await b.ReceiveAsync()).Type);
        for (var i = 0; i < 5; i++)
        {
            var message = await b.ReceiveAsync();
            Assert.Equal("alice", message.Src);
            Assert.Equal(i, message.Payload.GetInt32());
        }
    }

    [Fact]
    public async Task QueueOlderThanExpireTimeout_SendsOneExpirePerSender()
    {
        await using var server = await TestServer.StartAsync(fakeTime: true);
        await using var a = await server.RegisterAsync("alice");
        await using var c = await server.RegisterAsync("carol");
        await a.SendAsync(new { type = "OFFER", dst = "bob", payload = 1 });
        await a.SendAsync(new { type = "CANDIDATE", dst = "bob", payload = 2 });
        await c.SendAsync(new { type = "OFFER", dst = "bob", payload = 3 });
        await Eventually.MetricAsync(server, "ghostchat_signaling_messages_queued_total", 3);

        server.Time!.Advance(TimeSpan.FromSeconds(4));
        Assert.Null(await a.TryReceiveAsync(TimeSpan.FromMilliseconds(200))); // not yet

        server.Time.Advance(TimeSpan.FromSeconds(2));
        var expire = await a.ReceiveAsync();
        Assert.Equal("""{"type":"EXPIRE","src":"bob","dst":"alice"}""", expire.Raw);
        Assert.Equal("""{"type":"EXPIRE","src":"bob","dst":"carol"}""", (await c.ReceiveAsync()).Raw);
        Assert.Null(await a.TryReceiveAsync(TimeSpan.FromMilliseconds(200))); // one per pair

        await using var b = await server.RegisterAsync("bob"); // the queue is gone
        Assert.Null(await b.TryReceiveAsync(TimeSpan.FromMilliseconds(200)));
    }

    [Fact]
    public async Task PeerBackBeforeExpiry_GetsWhatWasQueuedWhileAway()
    {
        await using var server = await TestServer.StartAsync(fakeTime: true);
        await using var a = await server.RegisterAsync("alice");
        var b = await server.RegisterAsync("bob", "tb");
        await b.CloseAsync();
        await b.DisposeAsync();
        await Eventually.MetricAsync(server, "ghostchat_signaling_peers", 1);

        await a.SendAsync(new { type = "OFFER", dst = "bob", payload = "while away" });
        await Eventually.MetricAsync(server, "ghostchat_signaling_messages_queued_total", 1);
        server.Time!.Advance(TimeSpan.FromSeconds(3));

        await using var back = await server.RegisterAsync("bob", "tb");
        Assert.Equal("while away", (await back.ReceiveAsync()).Payload.GetString());
    }

    [Fact]
    public async Task QueueFullPerPeer_SenderGetsExpireAtOnce_QueuedOnesStillDelivered()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Signaling:Limits:MaxQueuedMessagesPerPeer"] = "3" }, fakeTime: true);
        await using var a = await server.RegisterAsync("alice");
        for (var i = 0; i < 4; i++)
        {
            await a.SendAsync(new { type = "CANDIDATE", dst = "bob", payload = i });
        }
        Assert.Equal("""{"type":"EXPIRE","src":"bob","dst":"alice"}""", (await a.ReceiveAsync()).Raw);
        Assert.Equal(1, await server.MetricAsync("ghostchat_signaling_rejections_total", "reason=\"queue_full\""));

        await using var b = await server.RegisterAsync("bob");
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(i, (await b.ReceiveAsync()).Payload.GetInt32());
        }
        Assert.Null(await b.TryReceiveAsync(TimeSpan.FromMilliseconds(200)));
    }

    [Fact]
    public async Task QueueBytesPerPeer_AndTotal_AreBounded()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Signaling:Limits:MaxQueuedBytesPerPeer"] = "3000",
            ["GhostChat:Signaling:Limits:MaxQueuedBytesTotal"] = "5000",
        }, fakeTime: true);
        await using var a = await server.RegisterAsync("alice");
        var big = new string('x', 2000);
        await a.SendAsync(new { type = "OFFER", dst = "bob", payload = big });   // fits bob
        await a.SendAsync(new { type = "OFFER", dst = "bob", payload = big });   // bob over 3000 bytes
        Assert.Equal("bob", (await a.ReceiveAsync()).Src);
        await a.SendAsync(new { type = "OFFER", dst = "carol", payload = big }); // fits carol (~4100 total)
        await a.SendAsync(new { type = "OFFER", dst = "dave", payload = big });  // over the 5000 total
        var expire = await a.ReceiveAsync();
        Assert.Equal("EXPIRE", expire.Type);
        Assert.Equal("dave", expire.Src);
        Assert.InRange(await server.MetricAsync("ghostchat_signaling_queue_bytes"), 4000, 5000);
    }

    [Fact]
    public async Task SilentSocket_ClosedAfterAliveTimeout_AndUnregistered()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Signaling:AliveTimeout"] = "00:00:10" }, fakeTime: true);
        await using var a = await server.RegisterAsync("alice", "t1");
        server.Time!.Advance(TimeSpan.FromSeconds(9));
        Assert.Null(await a.TryReceiveAsync(TimeSpan.FromMilliseconds(200)));
        Assert.Equal(WebSocketState.Open, a.State);

        server.Time.Advance(TimeSpan.FromSeconds(2));
        var (status, _) = await a.WaitClosedAsync();
        Assert.Equal((WebSocketCloseStatus)4002, status);
        await using var again = await server.RegisterAsync("alice", "t2");
    }

    [Fact]
    public async Task AnyFrame_CountsAsLiveness_NotOnlyHeartbeat()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Signaling:AliveTimeout"] = "00:00:10" }, fakeTime: true);
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");
        for (var i = 0; i < 3; i++)
        {
            server.Time!.Advance(TimeSpan.FromSeconds(6));
            await a.SendAsync(new { type = "CANDIDATE", dst = "bob", payload = i }); // never a HEARTBEAT
            await b.SendAsync(new { type = "CANDIDATE", dst = "bob", payload = -1 }); // bob keeps itself alive; seeing it back proves it was handled
            var seen = new[] { (await b.ReceiveAsync()).Payload.GetInt32(), (await b.ReceiveAsync()).Payload.GetInt32() };
            Assert.Equal([-1, i], seen.Order());
        }
        Assert.Equal(WebSocketState.Open, a.State);
    }
}
