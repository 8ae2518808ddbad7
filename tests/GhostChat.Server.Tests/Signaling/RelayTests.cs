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
