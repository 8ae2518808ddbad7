using System.Text;
using GhostChat.Server.Signaling;

namespace GhostChat.Server.Tests.Signaling;

public sealed class SignalingFramesTests
{
    private static (MalformedKind Kind, MessageType Type, string? Dst, string? Payload) Parse(string text, int depth = 16)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var kind = SignalingFrames.TryParse(bytes, depth, out var frame);
        return (kind, frame.Type, frame.Dst, frame.HasPayload ? Encoding.UTF8.GetString(frame.Payload) : null);
    }

    [Theory]
    [InlineData("""{"type":"OFFER","dst":"b","payload":{"x":[1,2]}}""", "Offer", "b", """{"x":[1,2]}""")]
    [InlineData("""{"payload":"s","dst":"b","type":"CANDIDATE"}""", "Candidate", "b", "\"s\"")]
    [InlineData("""{"type":"HEARTBEAT"}""", "Heartbeat", null, null)]
    [InlineData("""{"\u0074ype":"LEAVE","dst":"b"}""", "Leave", "b", null)]
    [InlineData("""{"type":"OFFER","type":"ANSWER","dst":"a","dst":"b"}""", "Answer", "b", null)] // last wins, like JSON.parse
    [InlineData("""{"type":"offer","dst":"b"}""", "Unknown", "b", null)] // types are case-sensitive
    [InlineData("""{"type":1,"dst":{"x":1}}""", "Unknown", null, null)]
    [InlineData(" \r\n{\"type\":\"EXPIRE\",\"dst\":\"b\",\"payload\":  null } \n", "Expire", "b", "null")]
    public void TryParse_WellFormedObjects(string text, string type, string? dst, string? payload)
    {
        var parsed = Parse(text);
        Assert.Equal(MalformedKind.None, parsed.Kind);
        Assert.Equal(type, parsed.Type.ToString());
        Assert.Equal(dst, parsed.Dst);
        Assert.Equal(payload, parsed.Payload);
    }

    [Theory]
    [InlineData("", "InvalidJson")]
    [InlineData("not json", "InvalidJson")]
    [InlineData("""{"type":"OFFER","dst":"bob" """, "InvalidJson")]
    [InlineData("""{"type":"OFFER"} trailing""", "InvalidJson")]
    [InlineData("""{"type":"OFFER"}{"type":"OFFER"}""", "InvalidJson")]
    [InlineData("""{"type":"OFFER",}""", "InvalidJson")]
    [InlineData("""{"type":"OFFER" /* c */}""", "InvalidJson")]
    [InlineData("""{'type':'OFFER'}""", "InvalidJson")]
    [InlineData("123", "NotAnObject")]
    [InlineData("null", "NotAnObject")]
    [InlineData("\"s\"", "NotAnObject")]
    [InlineData("[]", "NotAnObject")]
    [InlineData("[1,", "InvalidJson")]
    public void TryParse_Malformed(string text, string expected) => Assert.Equal(expected, Parse(text).Kind.ToString());

    [Fact]
    public void TryParse_TooDeep()
    {
        Assert.Equal(MalformedKind.TooDeep, Parse("{\"payload\":" + new string('[', 20) + new string(']', 20) + "}", depth: 16).Kind);
        Assert.Equal(MalformedKind.None, Parse("{\"payload\":" + new string('[', 10) + new string(']', 10) + "}", depth: 16).Kind);
    }

    [Fact]
    public void TryParse_InvalidUtf8()
    {
        byte[] bytes = [(byte)'{', (byte)'"', 0xc3, 0x28, (byte)'"', (byte)':', (byte)'1', (byte)'}'];
        Assert.Equal(MalformedKind.InvalidUtf8, SignalingFrames.TryParse(bytes, 16, out _));
    }

    [Fact]
    public void Build_WritesReferenceKeyOrderAndEscapesStrings()
    {
        var frame = SignalingFrames.Build(MessageType.Offer, "a\"b", "c", "{\"k\":1}"u8, hasPayload: true);
        Assert.Equal("{\"type\":\"OFFER\",\"src\":\"a\\\"b\",\"dst\":\"c\",\"payload\":{\"k\":1}}", Encoding.UTF8.GetString(frame));
        Assert.Equal("""{"type":"EXPIRE","src":"x","dst":"y"}""", Encoding.UTF8.GetString(SignalingFrames.Expire("x", "y")));
        Assert.Equal("""{"type":"ERROR","payload":{"msg":"it's <bad>"}}""", Encoding.UTF8.GetString(SignalingFrames.Error("it's <bad>")));
    }

    // The relay path reads dst as the bytes in the receive buffer; the string is made only when asked for or escaped.
    [Theory]
    [InlineData("""{"type":"OFFER","dst":"bob"}""", "bob", true, false)]
    [InlineData("""{"type":"OFFER","dst":""}""", "", true, true)]
    [InlineData("""{"type":"OFFER"}""", null, false, true)]
    [InlineData("""{"type":"OFFER","dst":7}""", null, false, true)]
    [InlineData("""{"type":"OFFER","dst":"bob","dst":null}""", null, false, true)] // the last one wins
    [InlineData("""{"type":"OFFER","dst":"b\u006fb"}""", "bob", false, false)] // escaped: unescaped into a string
    [InlineData("""{"type":"OFFER","dst":"b\u006fb","dst":"eve"}""", "eve", true, false)]
    [InlineData("""{"type":"OFFER","dst":"bøb"}""", "bøb", true, false)] // UTF-8, not escaped: bytes, not plain
    public void TryParse_Dst_AsBytesUnlessEscaped(string text, string? dst, bool asBytes, bool nullOrEmpty)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        Assert.Equal(MalformedKind.None, SignalingFrames.TryParse(bytes, 16, out var frame));
        Assert.Equal(dst, frame.Dst);
        Assert.Equal(asBytes ? dst : "", Encoding.UTF8.GetString(frame.DstUtf8));
        Assert.Equal(nullOrEmpty, frame.DstIsNullOrEmpty);
    }

    [Theory]
    [InlineData("""{"type":"OFFER","dst":"bob","payload":{"sdp":"v=0\r\n"}}""", "alice", true)]
    [InlineData("""{"type":"LEAVE","dst":"bob"}""", "alice", true)]
    [InlineData("""{"type":"CANDIDATE","dst":"bob","payload":null}""", "room-x_1.2", true)]
    [InlineData("""{"type":"OFFER","dst":"b\u006fb","payload":1}""", "alice", false)] // escaped dst: the JSON writer's way
    [InlineData("""{"type":"OFFER","dst":"bøb","payload":1}""", "alice", false)]
    [InlineData("""{"type":"OFFER","dst":"bob","payload":1}""", "al\"ice", false)] // a src that needs escaping
    public void TryRelay_WritesWhatBuildWrites_OnlyWhenNothingNeedsEscaping(string text, string src, bool direct)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        Assert.Equal(MalformedKind.None, SignalingFrames.TryParse(bytes, 16, out var frame));
        var expected = SignalingFrames.Build(frame.Type, src, frame.Dst, frame.Payload, frame.HasPayload);
        Assert.Equal(direct, SignalingFrames.TryRelay(frame.Type, src, frame, out var relay));
        if (direct)
        {
            Assert.Equal(expected.Length, relay.Length);
            var written = new byte[relay.Length + 2];
            relay.WriteTo(written.AsSpan(1, relay.Length));
            Assert.Equal(Encoding.UTF8.GetString(expected), Encoding.UTF8.GetString(written, 1, relay.Length));
            Assert.Equal(0, written[0]); // nothing outside its span
            Assert.Equal(0, written[^1]);
            Assert.Equal(expected, relay.ToArray());
        }
        Assert.Equal(expected, SignalingFrames.BuildRelay(frame.Type, src, frame));
    }

    [Fact]
    public void LocalSessionLookup_FindsAnIdByItsUtf8_WithoutAString()
    {
        var bob = (PeerSession)System.Runtime.CompilerServices.RuntimeHelpers.GetUninitializedObject(typeof(PeerSession));
        var longest = new string('l', PeerIds.MaxIdLength);
        var sessions = new System.Collections.Concurrent.ConcurrentDictionary<string, PeerSession>(StringComparer.Ordinal) { ["bob"] = bob, [longest] = bob };
        var lookup = sessions.GetAlternateLookup<ReadOnlySpan<char>>();
        Assert.Same(bob, LocalSessionLookup.Find(lookup, "bob"u8));
        Assert.Same(bob, LocalSessionLookup.Find(lookup, Encoding.ASCII.GetBytes(longest)));
        Assert.Null(LocalSessionLookup.Find(lookup, "Bob"u8)); // ordinal
        Assert.Null(LocalSessionLookup.Find(lookup, "bo"u8));
        Assert.Null(LocalSessionLookup.Find(lookup, ""u8));
        Assert.Null(LocalSessionLookup.Find(lookup, Encoding.ASCII.GetBytes(longest + "l"))); // longer than any id
        Assert.Null(LocalSessionLookup.Find(lookup, [0x62, 0xc3])); // not UTF-8 (the parser refuses such frames anyway)
    }
}
