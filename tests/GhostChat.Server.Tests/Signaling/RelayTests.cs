using System.Net.WebSockets;
using System.Text;

namespace GhostChat.Server.Tests.Signaling;

public sealed class RelayTests
{
    [Theory]
    [InlineData("OFFER")]
    [InlineData("ANSWER")]
    [InlineData("CANDIDATE")]
    [InlineData("LEAVE")]
    [InlineData("EXPIRE")]
    public async Task Relay_OverwritesSrc_RebuildsEnvelopeInReferenceKeyOrder(string type)
    {
        await using var server = await TestServer.StartAsync();
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");

        await a.SendTextAsync("{\"extra\":true,\"payload\":{\"sdp\":{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"},\"connectionId\":\"dc_1\",\"n\":[1,2.5,null]},\"src\":\"mallory\",\"dst\":\"bob\",\"type\":\"" + type + "\"}");

        var received = await b.ReceiveAsync();
        Assert.Equal("{\"type\":\"" + type + "\",\"src\":\"alice\",\"dst\":\"bob\",\"payload\":{\"sdp\":{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"},\"connectionId\":\"dc_1\",\"n\":[1,2.5,null]}}", received.Raw);
    }

    [Theory]
    [InlineData("\"a string\"")]
    [InlineData("42")]
    [InlineData("null")]
    [InlineData("[1,{\"x\":\"<b>\"}]")]
    public async Task Relay_PassesAnyPayloadThroughUntouched(string payload)
    {
        await using var server = await TestServer.StartAsync();
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");
        await a.SendTextAsync("{\"type\":\"CANDIDATE\",\"dst\":\"bob\",\"payload\":" + payload + "}");
        Assert.Equal("{\"type\":\"CANDIDATE\",\"src\":\"alice\",\"dst\":\"bob\",\"payload\":" + payload + "}", (await b.ReceiveAsync()).Raw);
    }

    [Fact]
    public async Task Relay_WithoutPayload_OmitsIt()
    {
        await using var server = await TestServer.StartAsync();
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");
        await a.SendTextAsync("""{"type":"OFFER","dst":"bob"}""");
        Assert.Equal("""{"type":"OFFER","src":"alice","dst":"bob"}""", (await b.ReceiveAsync()).Raw);
    }

    [Fact]
    public async Task BinaryFrameWithJson_IsRelayedAsText()
    {
        await using var server = await TestServer.StartAsync();
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");
        await a.SendRawAsync(Encoding.UTF8.GetBytes("""{"type":"OFFER","dst":"bob","payload":1}"""), WebSocketMessageType.Binary);
        Assert.Equal("""{"type":"OFFER","src":"alice","dst":"bob","payload":1}""", (await b.ReceiveAsync()).Raw);
    }

    // A dst that is escaped or not ASCII is not written straight into the socket's buffer: it goes
    // the general way (a string and an array), and arrives all the same.
    [Fact]
    public async Task Relay_ToAnEscapedOrNonAsciiDst_IsDelivered_WithDstUnescaped()
    {
        await using var server = await TestServer.StartAsync();
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");
        await a.SendTextAsync("""{"type":"OFFER","dst":"b\u006fb","payload":1}""");
        Assert.Equal("""{"type":"OFFER","src":"alice","dst":"bob","payload":1}""", (await b.ReceiveAsync()).Raw);
        await a.SendTextAsync("""{"type":"OFFER","dst":"bøb","payload":2}""");
        await a.SendTextAsync("""{"type":"OFFER","dst":"bob","payload":3}""");
        Assert.Equal(3, (await b.ReceiveAsync()).Payload.GetInt32()); // "bøb" is nobody here (queued for it)
    }

    // Several peers send to one at once (on the socket loop, from several loop threads): each
    // message is written straight into the destination's buffer when it is idle, or waits as bytes
    // behind the one in flight; none is lost, none is cut, and each sender's order holds.
    [Fact]
    public async Task ManySendersToOnePeer_AtOnce_AllArrive_InEachSendersOrder()
    {
        const int Senders = 6, PerSender = 150;
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Signaling:Limits:MessageBurst"] = "100000",
            ["GhostChat:Signaling:Limits:MessagesPerSecond"] = "100000",
        });
        await using var bob = await server.RegisterAsync("bob");
        var senders = new List<PeerClient>();
        try
        {
            for (var i = 0; i < Senders; i++)
            {
                senders.Add(await server.RegisterAsync("s" + i));
            }
            var padding = new string('p', 300);
            var sending = senders.Select(async (s, i) =>
            {
                for (var n = 0; n < PerSender; n++)
                {
                    await s.SendTextAsync("{\"type\":\"CANDIDATE\",\"dst\":\"bob\",\"payload\":[" + n + ",\"" + padding + "\"]}");
                }
            }).ToList();
            var next = new int[Senders];
            for (var got = 0; got < Senders * PerSender; got++)
            {
                var message = await bob.ReceiveAsync();
                var from = int.Parse(message.Src![1..], System.Globalization.CultureInfo.InvariantCulture);
                Assert.Equal(next[from]++, message.Payload[0].GetInt32());
                Assert.Equal(padding, message.Payload[1].GetString());
            }
            await Task.WhenAll(sending);
            Assert.All(next, n => Assert.Equal(PerSender, n));
        }
        finally
        {
            foreach (var s in senders)
            {
                await s.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task SelfSend_IsDelivered()
    {
        await using var server = await TestServer.StartAsync();
        await using var a = await server.RegisterAsync("alice");
        await a.SendAsync(new { type = "OFFER", dst = "alice", payload = 1 });
        Assert.Equal("alice", (await a.ReceiveAsync()).Dst);
    }

    [Fact]
    public async Task Heartbeat_AndUnknownTypes_AreNotRelayed_SocketKeepsWorking()
    {
        await using var server = await TestServer.StartAsync();
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");
        await a.SendAsync(new { type = "HEARTBEAT", dst = "bob" });
        await a.SendAsync(new { type = "WHATEVER", dst = "bob", payload = 1 });
        await a.SendAsync(new { dst = "bob", payload = 1 });
        await a.SendAsync(new { type = 7, dst = "bob" });
        await a.SendAsync(new { type = "OFFER", dst = "bob", payload = "after" });

        var next = await b.ReceiveAsync();
        Assert.Equal("OFFER", next.Type); // nothing before it
        Assert.Equal("after", next.Payload.GetString());
        Assert.Equal(3, await server.MetricAsync("ghostchat_signaling_frames_ignored_total")); // HEARTBEAT is not "ignored"
    }

    [Fact]
    public async Task OfferWithoutDst_IsDropped()
    {
        await using var server = await TestServer.StartAsync();
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");
        await a.SendAsync(new { type = "OFFER", payload = 1 });
        await a.SendAsync(new { type = "OFFER", dst = "", payload = 2 });
        await a.SendAsync(new { type = "OFFER", dst = "bob", payload = 3 });
        Assert.Equal(3, (await b.ReceiveAsync()).Payload.GetInt32());
    }

    [Theory]
    [InlineData("LEAVE")]
    [InlineData("EXPIRE")]
    public async Task LeaveAndExpire_ToOfflinePeer_AreDroppedNotQueued(string type)
    {
        await using var server = await TestServer.StartAsync();
        await using var a = await server.RegisterAsync("alice");
        await a.SendAsync(new { type, dst = "bob" });
        await a.SendAsync(new { type = "OFFER", dst = "bob", payload = "queued" });
        await Task.Delay(200); // let both frames be handled before bob arrives

        await using var b = await server.RegisterAsync("bob");
        var first = await b.ReceiveAsync();
        Assert.Equal("OFFER", first.Type);
        Assert.Equal("queued", first.Payload.GetString());
    }

    [Fact]
    public async Task LeaveWithoutDst_UnregistersAndClosesTheSender()
    {
        await using var server = await TestServer.StartAsync();
        await using var a = await server.RegisterAsync("alice", "t1");
        await a.SendAsync(new { type = "LEAVE" });
        var (status, reason) = await a.WaitClosedAsync();
        Assert.Equal(WebSocketCloseStatus.NormalClosure, status);
        Assert.Equal("left", reason);

        await using var other = await server.RegisterAsync("alice", "another-token"); // the id is free again
        Assert.Equal(WebSocketState.Open, other.State);
    }

    [Fact]
    public async Task SocketClose_FreesTheIdAtOnce_AndNobodyGetsLeave()
    {
        await using var server = await TestServer.StartAsync();
        await using var watcher = await server.RegisterAsync("watcher");
        var a = await server.RegisterAsync("alice", "t1");
        await a.CloseAsync();
        await a.DisposeAsync();

        await using var again = await server.RegisterAsync("alice", "t2");
        Assert.Null(await watcher.TryReceiveAsync(TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public async Task AbruptDisconnect_FreesTheId()
    {
        await using var server = await TestServer.StartAsync();
        var a = await server.RegisterAsync("alice", "t1");
        a.Abort();
        await a.DisposeAsync();

        // The server notices the dead TCP connection; the id is then free for another token.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            await using var again = await PeerClient.ConnectAsync(server.WebSocketUri("alice", "t2"));
            var reply = await again.ReceiveAsync();
            if (reply.Type == "OPEN")
            {
                break;
            }
            Assert.True(DateTime.UtcNow < deadline, "the id stayed taken after its socket died");
            await Task.Delay(100);
        }
    }
}
