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
}
