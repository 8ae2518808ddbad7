using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net.WebSockets;
using System.Text;
using GhostChat.Server.Signaling;

namespace GhostChat.Server.Tests.Signaling;

/// <summary>
/// The fast path's WebSocket layer alone, over in-memory pipes: client frames are written into
/// its input byte by byte or several at once, its output is read back and decoded. No sockets,
/// no clocks.
/// </summary>
public sealed class PipeWebSocketTests
{
    private sealed class Harness : IDuplexPipe
    {
        public Pipe ToServer { get; } = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        public Pipe FromServer { get; }

        public Harness(long pauseWriterThreshold = 0)
        {
            FromServer = new Pipe(new PipeOptions(
                pauseWriterThreshold: pauseWriterThreshold, resumeWriterThreshold: pauseWriterThreshold / 2, useSynchronizationContext: false));
            Socket = new PipeWebSocket(this);
        }

        public PipeWebSocket Socket { get; }
        public PipeReader Input => ToServer.Reader;
        public PipeWriter Output => FromServer.Writer;

        public async Task SendAsync(byte[] bytes)
        {
            await ToServer.Writer.WriteAsync(bytes);
        }

        /// <summary>Reads one whole message through the socket under test.</summary>
        public async Task<(WebSocketMessageType Type, byte[] Data)> ReceiveMessageAsync(int chunk = 7)
        {
            var data = new List<byte>();
            var buffer = new byte[chunk];
            while (true)
            {
                var result = await Socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
                data.AddRange(buffer.AsSpan(0, result.Count).ToArray());
                if (result.MessageType == WebSocketMessageType.Close || result.EndOfMessage)
                {
                    return (result.MessageType, data.ToArray());
                }
            }
        }

        /// <summary>Decodes server frames (unmasked) from everything written so far.</summary>
        public async Task<List<(byte Opcode, bool Fin, byte[] Payload)>> ReadServerFramesAsync(int expected)
        {
            var frames = new List<(byte, bool, byte[])>();
            while (frames.Count < expected)
            {
                var result = await FromServer.Reader.ReadAsync();
                var bytes = result.Buffer.ToArray();
                var at = 0;
                while (at + 2 <= bytes.Length)
                {
                    var length = (long)(bytes[at + 1] & 0x7F);
                    var header = 2;
                    if (length == 126)
                    {
                        length = BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(at + 2));
                        header = 4;
                    }
                    else if (length == 127)
                    {
                        length = (long)BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(at + 2));
                        header = 10;
                    }
                    if (at + header + length > bytes.Length)
                    {
                        break;
                    }
                    Assert.Equal(0, bytes[at + 1] & 0x80); // a server never masks
                    frames.Add(((byte)(bytes[at] & 0x0F), (bytes[at] & 0x80) != 0, bytes.AsSpan(at + header, (int)length).ToArray()));
                    at += header + (int)length;
                }
                FromServer.Reader.AdvanceTo(result.Buffer.GetPosition(at), result.Buffer.End);
            }
            return frames;
        }
    }

    /// <summary>A client frame as a browser sends it: masked with <paramref name="mask"/>.</summary>
    internal static byte[] ClientFrame(byte opcode, byte[] payload, bool fin = true, uint mask = 0x9A3C_51E7, byte firstByteExtra = 0, bool masked = true)
    {
        var header = new List<byte> { (byte)((fin ? 0x80 : 0) | firstByteExtra | opcode) };
        var maskBit = masked ? 0x80 : 0;
        if (payload.Length < 126)
        {
            header.Add((byte)(maskBit | payload.Length));
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            header.Add((byte)(maskBit | 126));
            header.Add((byte)(payload.Length >> 8));
            header.Add((byte)payload.Length);
        }
        else
        {
            header.Add((byte)(maskBit | 127));
            var length = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(length, (ulong)payload.Length);
            header.AddRange(length);
        }
        var key = BitConverter.GetBytes(mask);
        if (masked)
        {
            header.AddRange(key);
        }
        var body = payload.Select((b, i) => masked ? (byte)(b ^ key[i % 4]) : b);
        return [.. header, .. body];
    }

    private static byte[] Text(string s) => Encoding.UTF8.GetBytes(s);

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(125)]
    [InlineData(126)]
    [InlineData(65535)]
    [InlineData(65536)]
    public async Task Receive_EveryLengthEncoding_UnmasksThePayload(int length)
    {
        var h = new Harness();
        var payload = Enumerable.Range(0, length).Select(i => (byte)('a' + i % 26)).ToArray();
        await h.SendAsync(ClientFrame(0x1, payload));
        var (type, data) = await h.ReceiveMessageAsync(chunk: 4093);
        Assert.Equal(WebSocketMessageType.Text, type);
        Assert.Equal(payload, data);
    }

    [Fact]
    public async Task Receive_FramesArrivingOneByteAtATime_AndSeveralInOneWrite_AreTheSameMessages()
    {
        var h = new Harness();
        var frames = new[] { ClientFrame(0x1, Text("""{"type":"HEARTBEAT"}""")), ClientFrame(0x1, Text("héllo ✓ 𝄞")), ClientFrame(0x2, [1, 2, 3]) };
        var reading = Task.Run(async () => new[] { await h.ReceiveMessageAsync(3), await h.ReceiveMessageAsync(3), await h.ReceiveMessageAsync(3) });
        foreach (var b in frames[0].Concat(frames[1]))
        {
            await h.SendAsync([b]); // a multi-byte UTF-8 sequence split across reads too
        }
        await h.SendAsync(frames[2]);
        var got = await reading;
        Assert.Equal("""{"type":"HEARTBEAT"}""", Encoding.UTF8.GetString(got[0].Data));
        Assert.Equal("héllo ✓ 𝄞", Encoding.UTF8.GetString(got[1].Data));
        Assert.Equal(WebSocketMessageType.Binary, got[2].Type);
        Assert.Equal(new byte[] { 1, 2, 3 }, got[2].Data);
    }

    [Fact]
    public async Task Receive_FragmentedMessage_WithAPingBetweenFragments_IsOneMessage_AndThePingIsAnswered()
    {
        var h = new Harness();
        await h.SendAsync([.. ClientFrame(0x1, Text("{\"a\":"), fin: false), .. ClientFrame(0x9, Text("p!")), .. ClientFrame(0x0, Text("1}"))]);
        var (type, data) = await h.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Text, type);
        Assert.Equal("{\"a\":1}", Encoding.UTF8.GetString(data));
        var pong = Assert.Single(await h.ReadServerFramesAsync(1));
        Assert.Equal((0xA, true, "p!"), (pong.Opcode, pong.Fin, Encoding.UTF8.GetString(pong.Payload)));
    }

    [Fact]
    public async Task ZeroByteReceive_WaitsForAFrame_WithoutTakingItsPayload()
    {
        var h = new Harness();
        var probe = h.Socket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None).AsTask();
        Assert.False(probe.IsCompleted); // nothing sent yet: it waits
        await h.SendAsync(ClientFrame(0x1, Text("hello")));
        var first = await probe;
        Assert.Equal((0, false), (first.Count, first.EndOfMessage));
        var (_, data) = await h.ReceiveMessageAsync();
        Assert.Equal("hello", Encoding.UTF8.GetString(data));

        await h.SendAsync(ClientFrame(0x1, []));
        var empty = await h.Socket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None);
        Assert.Equal((0, true), (empty.Count, empty.EndOfMessage)); // an empty message ends at once
    }

    [Fact]
    public async Task WaitForInput_CompletesWhenBytesArrive_TakesNone_AndTheFrameIsReadWhole()
    {
        var h = new Harness();
        var waiting = h.Socket.WaitForInputAsync(CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted); // nothing sent yet: it waits
        var frame = ClientFrame(0x1, Text("hello, idle socket"));
        await h.SendAsync(frame[..3]); // part of the header only
        h.Socket.EndWaitForInput(await waiting);
        var rest = h.SendAsync(frame[3..]);
        var (_, data) = await h.ReceiveMessageAsync(); // parses from the bytes the wait left in place
        await rest;
        Assert.Equal("hello, idle socket", Encoding.UTF8.GetString(data));

        // Two frames in one write: one wait, both messages.
        await h.SendAsync([.. ClientFrame(0x1, Text("a")), .. ClientFrame(0x1, Text("b"))]);
        h.Socket.EndWaitForInput(await h.Socket.WaitForInputAsync(CancellationToken.None));
        Assert.Equal("a", Encoding.UTF8.GetString((await h.ReceiveMessageAsync()).Data));
        h.Socket.EndWaitForInput(await h.Socket.WaitForInputAsync(CancellationToken.None));
        Assert.Equal("b", Encoding.UTF8.GetString((await h.ReceiveMessageAsync()).Data));
    }

    [Fact]
    public async Task WaitForInput_InTheMiddleOfAFrame_ReturnsAtOnce_AndTheRestIsStillRead()
    {
        var h = new Harness();
        await h.SendAsync(ClientFrame(0x1, Text("0123456789")));
        var first = await h.Socket.ReceiveAsync(new byte[4].AsMemory(), CancellationToken.None);
        Assert.Equal((4, false), (first.Count, first.EndOfMessage));
        var wait = h.Socket.WaitForInputAsync(CancellationToken.None);
        Assert.True(wait.IsCompleted);
        h.Socket.EndWaitForInput(await wait); // nothing to hand back
        var rest = new byte[16];
        var second = await h.Socket.ReceiveAsync(rest.AsMemory(), CancellationToken.None);
        Assert.Equal("456789", Encoding.UTF8.GetString(rest, 0, second.Count));
        Assert.True(second.EndOfMessage);
    }

    [Fact]
    public async Task WaitForInput_Aborted_EndThrows_AndTheSocketIsAborted()
    {
        var h = new Harness();
        var waiting = h.Socket.WaitForInputAsync(CancellationToken.None).AsTask();
        h.Socket.Abort(); // shutdown (or the close timeout) while the socket is idle
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => h.Socket.EndWaitForInput(await waiting));
        Assert.Equal(WebSocketState.Aborted, h.Socket.State);
        Assert.True((await h.Socket.WaitForInputAsync(CancellationToken.None)).Buffer.IsEmpty); // nothing more to wait for
    }

    [Fact]
    public async Task WaitForInput_ClientGoesAwayWhileIdle_TheNextReceiveThrowsPremature()
    {
        var h = new Harness();
        var waiting = h.Socket.WaitForInputAsync(CancellationToken.None).AsTask();
        await h.ToServer.Writer.CompleteAsync();
        h.Socket.EndWaitForInput(await waiting);
        var error = await Assert.ThrowsAsync<WebSocketException>(async () => await h.Socket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None));
        Assert.Equal(WebSocketError.ConnectionClosedPrematurely, error.WebSocketErrorCode);
    }

    [Fact]
    public async Task WaitForInput_MalformedHeaderArrives_TheNextReceiveFailsWith1002()
    {
        var h = new Harness();
        var waiting = h.Socket.WaitForInputAsync(CancellationToken.None).AsTask();
        await h.SendAsync(ClientFrame(0x1, Text("x"), masked: false));
        h.Socket.EndWaitForInput(await waiting);
        await Assert.ThrowsAsync<WebSocketException>(async () => await h.Socket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None));
        var close = Assert.Single(await h.ReadServerFramesAsync(1));
        Assert.Equal((0x8, 1002), (close.Opcode, BinaryPrimitives.ReadUInt16BigEndian(close.Payload)));
    }

    public static TheoryData<string, byte[]> ProtocolErrors() => new()
    {
        { "RSV1 without an extension", ClientFrame(0x1, Text("x"), firstByteExtra: 0x40) },
        { "unmasked client frame", ClientFrame(0x1, Text("x"), masked: false) },
        { "reserved opcode", ClientFrame(0x3, Text("x")) },
        { "fragmented ping", ClientFrame(0x9, Text("x"), fin: false) },
        { "ping longer than 125 bytes", ClientFrame(0x9, new byte[126]) },
        { "continuation outside a message", ClientFrame(0x0, Text("x")) },
        { "new message inside a fragmented one", [.. ClientFrame(0x1, Text("x"), fin: false), .. ClientFrame(0x1, Text("y"))] },
        { "close with a one-byte body", ClientFrame(0x8, [3]) },
        { "close with a reserved code", ClientFrame(0x8, [0x03, 0xED]) }, // 1005 may never be sent
        { "64-bit length with the top bit set", [0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4] },
    };

    [Theory]
    [MemberData(nameof(ProtocolErrors))]
    public async Task ProtocolError_FailsWith1002_AndThrows(string name, byte[] bytes)
    {
        var h = new Harness();
        await h.SendAsync(bytes);
        var error = await Assert.ThrowsAsync<WebSocketException>(async () => await h.ReceiveMessageAsync());
        Assert.Contains("protocol", error.Message, StringComparison.OrdinalIgnoreCase);
        var close = Assert.Single(await h.ReadServerFramesAsync(1));
        Assert.Equal(0x8, close.Opcode);
        Assert.Equal((ushort)WebSocketCloseStatus.ProtocolError, BinaryPrimitives.ReadUInt16BigEndian(close.Payload));
        Assert.Equal(WebSocketState.Aborted, h.Socket.State);
        _ = name;
    }

    [Theory]
    [InlineData(new byte[] { (byte)'{', 0xFF, (byte)'}' })]
    [InlineData(new byte[] { 0xE2, 0x9C })] // a sequence cut off at the end of the message
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })] // a UTF-16 surrogate encoded in UTF-8
    public async Task InvalidUtf8InText_FailsWith1007(byte[] payload)
    {
        var h = new Harness();
        await h.SendAsync(ClientFrame(0x1, payload));
        await Assert.ThrowsAsync<WebSocketException>(async () => await h.ReceiveMessageAsync(chunk: 1));
        var close = Assert.Single(await h.ReadServerFramesAsync(1));
        Assert.Equal((ushort)WebSocketCloseStatus.InvalidPayloadData, BinaryPrimitives.ReadUInt16BigEndian(close.Payload));
    }

    [Fact]
    public async Task ClientCloses_ReceiveReportsIt_ThenOurCloseCompletesTheHandshake()
    {
        var h = new Harness();
        await h.SendAsync(ClientFrame(0x8, [0x03, 0xE8, .. Text("bye")]));
        var result = await h.Socket.ReceiveAsync(new byte[16].AsMemory(), CancellationToken.None);
        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal((WebSocketCloseStatus.NormalClosure, "bye", WebSocketState.CloseReceived), (h.Socket.CloseStatus!.Value, h.Socket.CloseStatusDescription, h.Socket.State));
        await h.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        Assert.Equal(WebSocketState.Closed, h.Socket.State);
        Assert.Equal(0x8, Assert.Single(await h.ReadServerFramesAsync(1)).Opcode);
    }

    [Fact]
    public async Task ConnectionEndsWithoutClose_ReceiveThrows()
    {
        var h = new Harness();
        await h.SendAsync(ClientFrame(0x1, Text("hello"))[..4]); // half a header, then the end
        await h.ToServer.Writer.CompleteAsync();
        var error = await Assert.ThrowsAsync<WebSocketException>(async () => await h.ReceiveMessageAsync());
        Assert.Equal(WebSocketError.ConnectionClosedPrematurely, error.WebSocketErrorCode);
    }

    [Fact]
    public async Task SendTextFrames_WritesTheWholeBatchAsSeparateMessages_InOrder()
    {
        var h = new Harness();
        var queue = new Queue<byte[]>(Enumerable.Range(1, 20).Select(i => Text($"m{i}")));
        await h.Socket.SendTextFramesAsync(Text("m0"), queue, CancellationToken.None);
        var frames = await h.ReadServerFramesAsync(21);
        Assert.Equal(Enumerable.Range(0, 21).Select(i => $"m{i}"), frames.Select(f => Encoding.UTF8.GetString(f.Payload)));
        Assert.All(frames, f => Assert.Equal((0x1, true), (f.Opcode, f.Fin)));
    }

    [Fact]
    public async Task SendTextFrames_BatchLargerThanTheFlushThreshold_FlushesOnTheWay_AndWaitsForAFullSendBuffer()
    {
        // The transport takes at most 64 KiB before its reader drains it: the batch must flush in
        // the middle and wait there (a full send buffer), and finish once the reader catches up.
        var h = new Harness(pauseWriterThreshold: 64 * 1024);
        var big = new byte[30_000];
        Array.Fill(big, (byte)'x');
        var queue = new Queue<byte[]>(Enumerable.Range(0, 9).Select(_ => big));
        var sending = h.Socket.SendTextFramesAsync(big, queue, CancellationToken.None).AsTask();
        await Task.Yield();
        Assert.False(sending.IsCompleted); // 300 KB cannot all be flushed until someone reads
        var frames = await h.ReadServerFramesAsync(10);
        await sending;
        Assert.Equal(10, frames.Count);
        Assert.All(frames, f => Assert.Equal(big.Length, f.Payload.Length));
    }

    [Fact]
    public async Task Send_BlockedOnAFullBuffer_EndsWhenCancelled_AndTheSocketIsAborted()
    {
        var h = new Harness(pauseWriterThreshold: 1024);
        using var cancel = new CancellationTokenSource();
        var sending = h.Socket.SendAsync(new byte[4096].AsMemory(), WebSocketMessageType.Text, true, cancel.Token).AsTask();
        Assert.False(sending.IsCompleted);
        await cancel.CancelAsync(); // the close timeout of a session whose peer stopped reading
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sending);
        Assert.Equal(WebSocketState.Aborted, h.Socket.State);
        await Assert.ThrowsAsync<WebSocketException>(async () => await h.Socket.SendAsync(new byte[1].AsMemory(), WebSocketMessageType.Text, true, CancellationToken.None));
    }

    [Fact]
    public async Task ReaderGoneWhileSending_SendFails_WithAWebSocketException()
    {
        var h = new Harness();
        await h.FromServer.Reader.CompleteAsync(); // the connection went away
        await Assert.ThrowsAsync<WebSocketException>(async () => await h.Socket.SendTextFramesAsync(Text("x"), null, CancellationToken.None));
    }

    [Fact]
    public async Task Abort_WhileAReceiveWaits_EndsTheReceive()
    {
        var h = new Harness();
        var receiving = h.Socket.ReceiveAsync(new byte[16].AsMemory(), CancellationToken.None).AsTask();
        h.Socket.Abort();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => receiving);
        Assert.Equal(WebSocketState.Aborted, h.Socket.State);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public void Unmask_FromAnyKeyOffset_MatchesTheByteByByteDefinition(int offset)
    {
        // Every length through three 32-byte vectors and the 8-byte and byte tails after them.
        var key = new byte[] { 0x12, 0x34, 0x56, 0x78 };
        for (var length = 0; length <= 110; length++)
        {
            var data = Enumerable.Range(0, length).Select(i => (byte)(i * 7)).ToArray();
            var expected = data.Select((b, i) => (byte)(b ^ key[(i + offset) % 4])).ToArray();
            var at = offset;
            PipeWebSocket.Unmask(data, BinaryPrimitives.ReadUInt32LittleEndian(key), ref at);
            Assert.Equal(expected, data);
            Assert.Equal((offset + length) % 4, at);
        }
    }

    /// <summary>Waits for input and tries the one-step take (the broker's fast path); the read is handed back either way.</summary>
    private static async Task<(bool Taken, byte[] Data)> TakeAsync(Harness h, int maxBytes = 1 << 20)
    {
        var waited = await h.Socket.WaitForInputAsync(CancellationToken.None);
        if (h.Socket.TryTakeMessage(waited, maxBytes, out var buffer, out var count))
        {
            var data = buffer.AsSpan(0, count).ToArray();
            ArrayPool<byte>.Shared.Return(buffer);
            return (true, data);
        }
        h.Socket.EndWaitForInput(waited);
        return (false, []);
    }

    [Fact]
    public async Task TryTakeMessage_WholeFramesThere_TakesOneAtATime_UnmaskedAndExact()
    {
        var h = new Harness();
        var big = Enumerable.Range(0, 70_000).Select(i => (byte)('a' + i % 26)).ToArray();
        await h.SendAsync([.. ClientFrame(0x1, Text("{\"type\":\"OFFER\"}")), .. ClientFrame(0x2, [1, 2, 3]), .. ClientFrame(0x1, []), .. ClientFrame(0x1, big)]);
        foreach (var expected in new[] { Text("{\"type\":\"OFFER\"}"), [1, 2, 3], [], big }) // binary too: the broker's parser judges it
        {
            var (taken, data) = await TakeAsync(h);
            Assert.True(taken);
            Assert.Equal(expected, data);
        }
        // Nothing left: the next wait waits.
        Assert.False(h.Socket.WaitForInputAsync(CancellationToken.None).AsTask().IsCompleted);
    }

    public static TheoryData<string, byte[]> NotTakenInOneStep() => new()
    {
        { "half a frame", ClientFrame(0x1, Text("hello, world"))[..9] },
        { "a fragment", [.. ClientFrame(0x1, Text("hel"), fin: false), .. ClientFrame(0x0, Text("lo"))] },
        { "a ping first", [.. ClientFrame(0x9, Text("p")), .. ClientFrame(0x1, Text("hello"))] },
        { "over the size limit", ClientFrame(0x1, new byte[101]) },
    };

    [Theory]
    [MemberData(nameof(NotTakenInOneStep))]
    public async Task TryTakeMessage_AnythingButOneWholeMessage_TakesNothing_AndTheGeneralPathStillReadsIt(string name, byte[] bytes)
    {
        var h = new Harness();
        var pong = name == "a ping first";
        var half = name == "half a frame";
        await h.SendAsync(bytes);
        Assert.False((await TakeAsync(h, maxBytes: 100)).Taken);
        if (half)
        {
            await h.SendAsync(ClientFrame(0x1, Text("hello, world"))[9..]);
        }
        var (type, data) = await h.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Text, type);
        Assert.Equal(name == "over the size limit" ? new byte[101] : Text(name == "a fragment" ? "hello" : half ? "hello, world" : "hello"), data);
        if (pong)
        {
            Assert.Equal(0xA, Assert.Single(await h.ReadServerFramesAsync(1)).Opcode);
        }
    }

    [Fact]
    public async Task TryTakeMessage_InvalidUtf8InText_TakesNothing_AndTheSocketFailsWith1007()
    {
        var h = new Harness();
        await h.SendAsync(ClientFrame(0x1, [(byte)'{', 0xFF, (byte)'}']));
        Assert.False((await TakeAsync(h)).Taken);
        await Assert.ThrowsAsync<WebSocketException>(async () => await h.ReceiveMessageAsync());
        var close = Assert.Single(await h.ReadServerFramesAsync(1));
        Assert.Equal((ushort)WebSocketCloseStatus.InvalidPayloadData, BinaryPrimitives.ReadUInt16BigEndian(close.Payload));
    }

    [Fact]
    public async Task TryTakeMessage_MalformedHeader_TakesNothing_AndTheSocketFailsWith1002()
    {
        var h = new Harness();
        await h.SendAsync(ClientFrame(0x1, Text("x"), masked: false));
        Assert.False((await TakeAsync(h)).Taken);
        await Assert.ThrowsAsync<WebSocketException>(async () => await h.ReceiveMessageAsync());
        var close = Assert.Single(await h.ReadServerFramesAsync(1));
        Assert.Equal((ushort)WebSocketCloseStatus.ProtocolError, BinaryPrimitives.ReadUInt16BigEndian(close.Payload));
    }
}
