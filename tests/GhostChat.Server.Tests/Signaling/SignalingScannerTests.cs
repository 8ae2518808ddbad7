using System.Text;
using System.Text.Json;
using GhostChat.Server.Signaling;

namespace GhostChat.Server.Tests.Signaling;

/// <summary>
/// The broker's frame scanner (<see cref="SignalingFrames.TryParse"/>) against the parser it replaced
/// (<see cref="Utf8JsonReader"/> reading the whole frame, kept here as the oracle): the same verdict,
/// type, dst and payload for hand-written malformed frames and for every truncation and thousands of
/// one-byte mutations of real frames; and the relayed frame copied together byte for byte as the JSON
/// writer wrote it.
/// </summary>
public sealed class SignalingScannerTests
{
    private const int Depth = 16;

    private static readonly string[] Seeds =
    [
        """{"type":"OFFER","payload":{"sdp":{"type":"offer","sdp":"v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"},"type":"media","connectionId":"mc_x","browser":"chrome","metadata":{"a":[1,-2.5e+3,true,false,null]}},"dst":"bob"}""",
        """{"type":"CANDIDATE","payload":{"candidate":{"candidate":"candidate:1 1 udp 2122260223 10.0.0.1 54321 typ host","sdpMLineIndex":0,"sdpMid":"0"},"type":"data","connectionId":"dc_1"},"dst":"gc1-0123456789abcdef0123456789abcdef"}""",
        """ {"dst" : "b" , "type" : "ANSWER" , "payload" : [ {} , [ ] , "\u00e9\n\"\\\/" , 0 , -0.0E-0 ] } """,
        """{"type":"HEARTBEAT"}""",
        """{"type":"LEAVE","dst":"peer one"}""",
    ];

    /// <summary>Hand-written: truncated, escaped dst/type/names, duplicate keys, numbers, non-object payloads, a client's own src.</summary>
    public static TheoryData<string> Malformed =>
    [
        "", " ", "{", "}", "{\"type\"", "{\"type\":", "{\"type\":\"OFFER\"", "{\"type\":\"OFFER\",", "{\"type\":\"OFF",
        "{\"type\":\"OFFER\",\"dst\":\"b\",\"payload\":{\"a\":[1,2", "{\"type\":\"OFFER\",\"dst\":\"b\",\"payload\":\"x}",
        """{"type":"OFFER","dst":"b\u006fb"}""", """{"type":"OFFER","dst":"\ud800"}""", """{"type":"OFFER","dst":"\ud83d\ude00"}""",
        """{"type":"OFFER","dst":"b\"ob"}""", """{"type":"OFFER","dst":"b\/ob"}""", """{"type":"OFFER","dst":"b\x"}""", """{"type":"OFFER","dst":"b\u00"}""",
        """{"type":"OFFER","dst":"bob\"}""", "{\"type\":\"OFFER\",\"dst\":\"b\tob\"}", """{"type":"OFFER","dst":"bøb"}""", """{"type":"OFFER","dst":"b<o>b&"}""",
        """{"type":"OF\u0046ER","dst":"b"}""", """{"\u0064st":"b","type":"OFFER"}""", """{"typ\u0065":"ANSWER","dst":"b"}""",
        """{"type":"OFFER","dst":"a","dst":"b","type":"ANSWER","payload":1,"payload":2}""", """{"type":"OFFER","type":7,"dst":"b"}""",
        """{"type":"OFFER","dst":"b","dst":null}""", """{"type":"OFFER","dst":"b","dst":["b"]}""",
        """{"type":"OFFER","dst":"b","payload":123456789012345678901234567890e999999}""", """{"type":"OFFER","dst":"b","payload":-0.5}""",
        """{"type":"OFFER","dst":"b","payload":-}""", """{"type":"OFFER","dst":"b","payload":01}""", """{"type":"OFFER","dst":"b","payload":1.}""",
        """{"type":"OFFER","dst":"b","payload":.5}""", """{"type":"OFFER","dst":"b","payload":1e}""", """{"type":"OFFER","dst":"b","payload":+1}""",
        """{"type":"OFFER","dst":"b","payload":1E+2}""", """{"type":"OFFER","dst":"b","payload":NaN}""", """{"type":"OFFER","dst":"b","payload":Infinity}""",
        """{"type":"OFFER","dst":"b","payload":"text"}""", """{"type":"OFFER","dst":"b","payload":[1,"2",null]}""", """{"type":"OFFER","dst":"b","payload":true}""",
        """{"type":"OFFER","dst":"b","payload":tru}""", """{"type":"OFFER","dst":"b","payload":nulll}""", """{"type":"OFFER","dst":"b","payload":[1,]}""",
        """{"type":"OFFER","dst":"b","payload":{"a":1,}}""", """{"type":"OFFER","dst":"b","payload":{"a" 1}}""", """{"type":"OFFER","dst":"b","payload":{1:1}}""",
        """{"type":"OFFER","dst":"b","payload":[1 2]}""", """{"type":"OFFER","dst":"b","payload":{"a":1}]}""", """{"type":"OFFER","dst":"b","payload":[}""",
        """{"src":"mallory","type":"OFFER","dst":"b","payload":{}}""", """{"type":"OFFER","dst":"b","payload":{},"src":"mallory"}""",
        """{"type":"OFFER","dst":"b"} """, "{\"type\":\"OFFER\",\"dst\":\"b\"}\u00a0", "\ufeff{\"type\":\"OFFER\",\"dst\":\"b\"}",
        """{"type":"OFFER","dst":"b"}//""", """{"type":"OFFER","dst":"b"}0""", "{\"type\":\"OFFER\"\f,\"dst\":\"b\"}", "{\"type\":\"OFFER\"\v,\"dst\":\"b\"}",
        "[" + new string('[', 15) + new string(']', 15) + "]", new string('[', 17) + new string(']', 17), new string('[', 17),
        "{\"payload\":" + new string('[', 15) + new string(']', 15) + "}", "{\"payload\":" + new string('[', 16) + "1" + new string(']', 16) + "}",
        "{\"payload\":" + new string('[', 16) + "}", "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":{\"j\":{\"k\":{\"l\":{\"m\":{\"n\":{\"o\":{\"p\":{}}}}}}}}}}}}}}}}}",
        "123", "-1", "\"s\"", "null", "[]", "[1,", "true false", "{}", "{ }", "{\"\":1}", "{\"type\":\"OFFER\",\"dst\":\"\"}",
    ];

    [Theory]
    [MemberData(nameof(Malformed))]
    public void HandWrittenFrames_SameAsTheReaderItReplaced(string text) => AssertSame(Encoding.UTF8.GetBytes(text));

    [Fact]
    public void EveryTruncationOfRealFrames_SameAsTheReaderItReplaced()
    {
        foreach (var seed in Seeds)
        {
            var bytes = Encoding.UTF8.GetBytes(seed);
            for (var length = 0; length <= bytes.Length; length++)
            {
                AssertSame(bytes.AsSpan(0, length).ToArray());
            }
        }
    }

    [Fact]
    public void MutatedRealFrames_SameAsTheReaderItReplaced()
    {
        var random = new Random(19);
        var alphabet = "{}[]\":,\\ \t\r\nu0123456789aefnrltsx-+.E/\u0001"u8.ToArray();
        foreach (var seed in Seeds)
        {
            var original = Encoding.UTF8.GetBytes(seed);
            for (var round = 0; round < 4000; round++)
            {
                var bytes = new List<byte>(original);
                for (var edits = random.Next(1, 4); edits > 0 && bytes.Count > 0; edits--)
                {
                    var at = random.Next(bytes.Count);
                    switch (random.Next(3))
                    {
                        case 0: bytes.RemoveAt(at); break;
                        case 1: bytes.Insert(at, alphabet[random.Next(alphabet.Length)]); break;
                        default: bytes[at] = alphabet[random.Next(alphabet.Length)]; break;
                    }
                }
                AssertSame([.. bytes]);
            }
        }
    }

    [Fact]
    public void BuildRelay_IsTheJsonWritersFrameByteForByte()
    {
        string[] frames =
        [
            .. Seeds, """{"type":"OFFER","dst":"b\u006fb","payload":1}""", """{"type":"OFFER","dst":"bøb"}""", """{"type":"OFFER","dst":"b<o>b&'"}""",
            """{"src":"mallory","type":"ANSWER","dst":"b","payload":{"src":"x"},"src":"eve","extra":[1]}""", """{"type":"EXPIRE","dst":"b c-d_e.f"}""",
        ];
        foreach (var src in new[] { "alice", "gc1-0123456789abcdef0123456789abcdef", "a b_c-d", "a\"b" })
        {
            foreach (var text in frames)
            {
                Assert.Equal(MalformedKind.None, SignalingFrames.TryParse(Encoding.UTF8.GetBytes(text), Depth, out var frame));
                var viaWriter = SignalingFrames.Build(frame.Type, src, frame.Dst, frame.Payload, frame.HasPayload);
                Assert.Equal(Encoding.UTF8.GetString(viaWriter), Encoding.UTF8.GetString(SignalingFrames.BuildRelay(frame.Type, src, frame)));
            }
        }
        // The client's own src never reaches the destination: the broker's replaces it, in the reference's key order.
        SignalingFrames.TryParse("""{"src":"mallory","type":"OFFER","dst":"bob","payload":{"k":1},"src":"eve"}"""u8, Depth, out var forged);
        Assert.Equal("""{"type":"OFFER","src":"alice","dst":"bob","payload":{"k":1}}""", Encoding.UTF8.GetString(SignalingFrames.BuildRelay(forged.Type, "alice", forged)));
    }

    [Fact]
    public void ParseAndBuildRelay_AllocateOnlyTheRelayedFrameAndTheDstString()
    {
        var bytes = Encoding.UTF8.GetBytes(Seeds[0]);
        var relayed = 0;
        for (var i = 0; i < 3; i++) // run-in
        {
            SignalingFrames.TryParse(bytes, Depth, out var warm);
            relayed = SignalingFrames.BuildRelay(warm.Type, "alice", warm).Length;
        }
        const int Rounds = 100;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Rounds; i++)
        {
            SignalingFrames.TryParse(bytes, Depth, out var frame);
            SignalingFrames.BuildRelay(frame.Type, "alice", frame);
        }
        var perMessage = (GC.GetAllocatedBytesForCurrentThread() - before) / Rounds;
        static long Rounded(long size) => (size + 7) & ~7L;
        var frameBytes = Rounded(IntPtr.Size * 3 + relayed); // array header (type, length) + the bytes
        var dstBytes = Rounded(IntPtr.Size * 2 + 4 + 2 * ("bob".Length + 1)); // string header, length, UTF-16 and the terminator
        Assert.True(perMessage <= frameBytes + dstBytes, $"{perMessage} B per parsed and built frame; the frame and dst are {frameBytes} + {dstBytes} B");
    }

    private static void AssertSame(byte[] bytes)
    {
        var expected = Oracle(bytes);
        string actual;
        try
        {
            var kind = SignalingFrames.TryParse(bytes, Depth, out var frame);
            actual = Describe(kind, frame.Type, frame.Dst, frame.HasPayload ? frame.Payload : default, frame.HasPayload);
        }
        catch (InvalidOperationException)
        {
            actual = "threw InvalidOperationException"; // never: the scanner throws on no input
        }
        Assert.True(expected == actual, $"frame {Convert.ToHexString(bytes)} ({Encoding.UTF8.GetString(bytes)}): reader {expected}, scanner {actual}");
    }

    private static string Describe(MalformedKind kind, MessageType type, string? dst, ReadOnlySpan<byte> payload, bool hasPayload)
        => kind != MalformedKind.None ? kind.ToString() : $"{type} dst={dst ?? "(none)"} payload={(hasPayload ? Convert.ToHexString(payload) : "(none)")}";

    /// <summary>The parser before the scanner (SignalingFrames.TryParse at f64439b), verbatim but for its result (its type names: SignalingFrames.ReadType, unchanged).</summary>
    private static string Oracle(ReadOnlySpan<byte> utf8)
    {
        const int maxDepth = Depth;
        if (!System.Text.Unicode.Utf8.IsValid(utf8))
        {
            return nameof(MalformedKind.InvalidUtf8);
        }

        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = maxDepth, CommentHandling = JsonCommentHandling.Disallow });
        var type = MessageType.Unknown;
        string? dst = null;
        int payloadStart = -1, payloadEnd = -1;
        try
        {
            if (!reader.Read())
            {
                return nameof(MalformedKind.InvalidJson);
            }
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                return reader.Read() ? nameof(MalformedKind.InvalidJson) : nameof(MalformedKind.NotAnObject);
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    type = reader.TokenType == JsonTokenType.String ? SignalingFrames.ReadType(ref reader) : MessageType.Unknown;
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("dst"u8))
                {
                    reader.Read();
                    dst = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("payload"u8))
                {
                    reader.Read();
                    payloadStart = (int)reader.TokenStartIndex;
                    reader.Skip();
                    payloadEnd = (int)reader.BytesConsumed;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.CurrentDepth != 0 || reader.Read())
            {
                return nameof(MalformedKind.InvalidJson);
            }
        }
        catch (JsonException ex)
        {
            var tooDeep = reader.CurrentDepth >= maxDepth - 1 && ex.Message.Contains("maximum configured depth", StringComparison.Ordinal);
            return tooDeep ? nameof(MalformedKind.TooDeep) : nameof(MalformedKind.InvalidJson);
        }
        catch (InvalidOperationException)
        {
            // GetString on a dst with an escaped lone surrogate: this threw out of the old parser and
            // ended the sender's session unhandled; the scanner counts the frame as malformed instead
            // (the one intended difference, MalformedInputTests covers it end to end).
            return nameof(MalformedKind.InvalidJson);
        }
        return Describe(MalformedKind.None, type, dst, payloadStart >= 0 ? utf8[payloadStart..payloadEnd] : default, payloadStart >= 0);
    }
}
