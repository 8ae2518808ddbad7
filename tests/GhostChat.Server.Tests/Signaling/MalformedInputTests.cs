using System.Net.WebSockets;
using System.Text;

namespace GhostChat.Server.Tests.Signaling;

/// <summary>
/// Every kind of bad frame is ignored and counted; the sender's socket keeps relaying and nobody
/// else is touched. (The reference server wedges the socket on most of these.)
/// </summary>
public sealed class MalformedInputTests
{
    public static TheoryData<string, byte[], WebSocketMessageType> BadFrames() => new()
    {
        { "invalid_json", Encoding.UTF8.GetBytes("not json"), WebSocketMessageType.Text },
        { "invalid_json", Encoding.UTF8.GetBytes("{\"type\":\"OFFER\",\"dst\":\"bob\""), WebSocketMessageType.Text },
        { "invalid_json", Encoding.UTF8.GetBytes("{\"type\":\"OFFER\",\"dst\":\"bob\"} trailing"), WebSocketMessageType.Text },
        { "invalid_json", Encoding.UTF8.GetBytes("{\"type\":\"OFFER\",\"dst\":\"bob\",} "), WebSocketMessageType.Text },
        { "invalid_json", [], WebSocketMessageType.Text },
        { "invalid_json", Encoding.UTF8.GetBytes("{\"type\":\"OFFER\",\"dst\":\"\\ud800\",\"payload\":1}"), WebSocketMessageType.Text }, // a lone surrogate: no string
        { "not_an_object", Encoding.UTF8.GetBytes("123"), WebSocketMessageType.Text },
        { "not_an_object", Encoding.UTF8.GetBytes("null"), WebSocketMessageType.Text },
        { "not_an_object", Encoding.UTF8.GetBytes("\"OFFER\""), WebSocketMessageType.Text },
        { "not_an_object", Encoding.UTF8.GetBytes("[{\"type\":\"OFFER\",\"dst\":\"bob\"}]"), WebSocketMessageType.Text },
        { "invalid_utf8", [0xff, 0xfe, 0xfd, 0x00, 0x01], WebSocketMessageType.Binary },
        { "invalid_utf8", [(byte)'{', (byte)'"', 0xc3, 0x28, (byte)'"', (byte)':', (byte)'1', (byte)'}'], WebSocketMessageType.Binary },
        { "invalid_json", [0x00, 0x01, 0x02, 0x03], WebSocketMessageType.Binary },
        { "too_deep", Encoding.UTF8.GetBytes("{\"type\":\"OFFER\",\"dst\":\"bob\",\"payload\":" + new string('[', 40) + new string(']', 40) + "}"), WebSocketMessageType.Text },
        { "too_large", Encoding.UTF8.GetBytes("{\"type\":\"OFFER\",\"dst\":\"bob\",\"payload\":\"" + new string('x', 70_000) + "\"}"), WebSocketMessageType.Text },
    };

    [Theory]
    [MemberData(nameof(BadFrames))]
    public async Task BadFrame_IsCountedAndIgnored_SocketAndOthersKeepWorking(string kind, byte[] frame, WebSocketMessageType type)
    {
        await using var server = await TestServer.StartAsync();
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");
        await using var c = await server.RegisterAsync("carol");
        await using var d = await server.RegisterAsync("dave");

        await a.SendRawAsync(frame, type);
        await a.SendAsync(new { type = "OFFER", dst = "bob", payload = "after" });
        await c.SendAsync(new { type = "ANSWER", dst = "dave", payload = "others" });

        var next = await b.ReceiveAsync();
        Assert.Equal("after", next.Payload.GetString()); // the bad frame relayed nothing and wedged nothing
        Assert.Equal("others", (await d.ReceiveAsync()).Payload.GetString());
        Assert.Equal(1, await server.MetricAsync("ghostchat_signaling_frames_malformed_total", $"kind=\"{kind}\""));
        Assert.Equal(WebSocketState.Open, a.State);
        Assert.Null(await a.TryReceiveAsync(TimeSpan.FromMilliseconds(100))); // never an ERROR: the client would treat it as fatal
    }

    [Fact]
    public async Task FrameJustUnderTheSizeLimit_IsRelayed()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Signaling:Limits:MaxFrameBytes"] = "20000" });
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");
        var prefix = "{\"type\":\"OFFER\",\"dst\":\"bob\",\"payload\":\"";
        var text = prefix + new string('x', 20000 - prefix.Length - 2) + "\"}";
        Assert.Equal(20000, text.Length);
        await a.SendTextAsync(text);
        Assert.Equal(20000 - prefix.Length - 2, (await b.ReceiveAsync()).Payload.GetString()!.Length);
    }

    [Fact]
    public async Task RepeatedMalformedFrames_CloseTheSocketWithPolicyViolation_OthersUnaffected()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Signaling:Limits:MalformedFramesBeforeClose"] = "5" });
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");
        await using var c = await server.RegisterAsync("carol");
        for (var i = 0; i < 4; i++)
        {
            await a.SendTextAsync("garbage " + i);
        }
        await a.SendAsync(new { type = "OFFER", dst = "bob", payload = "still fine" });
        Assert.Equal("still fine", (await b.ReceiveAsync()).Payload.GetString());

        await a.SendTextAsync("one too many");
        var (status, reason) = await a.WaitClosedAsync();
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
        Assert.Equal("too many malformed frames", reason);

        await c.SendAsync(new { type = "OFFER", dst = "bob", payload = "from carol" });
        Assert.Equal("from carol", (await b.ReceiveAsync()).Payload.GetString());
        Assert.Equal(1, await server.MetricAsync("ghostchat_signaling_rejections_total", "reason=\"malformed_frames\""));
    }

    [Fact]
    public async Task InvalidUtf8InATextFrame_FailsThatWebSocketPerRfc6455_OthersUnaffected()
    {
        // RFC 6455 §8.1: an endpoint receiving invalid UTF-8 in a text message must fail the connection (1007).
        // Browsers never send such frames; the id is released so the client can reconnect.
        await using var server = await TestServer.StartAsync();
        await using var a = await server.RegisterAsync("alice", "ta");
        await using var b = await server.RegisterAsync("bob");
        await using var c = await server.RegisterAsync("carol");
        await a.SendRawAsync([(byte)'{', 0xff, 0xfe, (byte)'}'], WebSocketMessageType.Text);
        var (status, _) = await a.WaitClosedAsync();
        Assert.True(status is WebSocketCloseStatus.InvalidPayloadData or null, $"closed with {status}");

        await c.SendAsync(new { type = "OFFER", dst = "bob", payload = "others" });
        Assert.Equal("others", (await b.ReceiveAsync()).Payload.GetString());
        await Eventually.MetricAsync(server, "ghostchat_signaling_peers", 2); // alice's id is released
        await using var back = await server.RegisterAsync("alice", "another");
    }

    [Fact]
    public async Task RandomGarbage_NeverStopsTheServer()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Signaling:Limits:MalformedFramesBeforeClose"] = "1000" });
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");
        var random = new Random(20261125);
        var pieces = new[] { "{", "}", "[", "]", "\"type\"", ":", ",", "\"OFFER\"", "\"dst\"", "\"bob\"", "\"payload\"", "1", "null", "\\u0000", "\"", " ", "\\", "\uD800" };
        for (var i = 0; i < 300; i++)
        {
            byte[] frame;
            if (i % 3 == 0)
            {
                frame = new byte[random.Next(0, 200)];
                random.NextBytes(frame);
            }
            else
            {
                var sb = new StringBuilder();
                for (var j = random.Next(1, 30); j > 0; j--)
                {
                    sb.Append(pieces[random.Next(pieces.Length)]);
                }
                frame = Encoding.UTF8.GetBytes(sb.ToString());
            }
            // Random bytes go in binary frames: invalid UTF-8 in a text frame fails the WebSocket itself (see below).
            await a.SendRawAsync(frame, i % 3 == 0 ? WebSocketMessageType.Binary : WebSocketMessageType.Text);
            if (i % 50 == 0)
            {
                await Task.Delay(1100); // stay under the per-socket message rate
            }
        }

        await a.SendAsync(new { type = "OFFER", dst = "bob", payload = "survived" });
        Received next;
        do
        {
            next = await b.ReceiveAsync(); // random frames may form valid messages to bob; skip them
        }
        while (next.Json.ValueKind != System.Text.Json.JsonValueKind.Object || !(next.Json.TryGetProperty("payload", out var p) && p.ValueKind == System.Text.Json.JsonValueKind.String && p.GetString() == "survived"));
        var health = await server.Http.GetStringAsync("healthz");
        Assert.Equal("Healthy", health);
    }
}
