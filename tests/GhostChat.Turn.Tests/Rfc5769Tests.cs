using System.Net;
using System.Text;
using GhostChat.Turn.Stun;

namespace GhostChat.Turn.Tests;

/// <summary>RFC 5769 test vectors: MESSAGE-INTEGRITY, FINGERPRINT and XOR-MAPPED-ADDRESS.</summary>
public sealed class Rfc5769Tests
{
    private const string ShortTermPassword = "VOkJxbRl1RmTxUk/WvJxBt";

    internal static readonly byte[] SampleRequest = Convert.FromHexString(
        "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e74" +
        "002400046e0001ff80290008932ff9b151263b36000600096576746a3a68367659202020" +
        "000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf");

    internal static readonly byte[] SampleIpv4Response = Convert.FromHexString(
        "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220" +
        "002000080001a147e112a643000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7" +
        "80280004c07d4c96");

    internal static readonly byte[] SampleIpv6Response = Convert.FromHexString(
        "010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220" +
        "002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9" +
        "00080014a382954e4be67bf11784c97c8292c275bfe3ed4180280004c8fb0b4c");

    internal static readonly byte[] SampleLongTermRequest = Convert.FromHexString(
        "000100602112a44278ad3433c6ad72c029da412e00060012e3839ee38388e383aae38383e382afe382b90000" +
        "0015001c662f2f3439396b39353464364f4c33346f4c39465354767936347341" +
        "0014000b6578616d706c652e6f726700" +
        "00080014f67024656dd64a3e02b8e0712e85c9a28ca89666");

    [Fact]
    public void SampleRequest_ShortTermKey_IntegrityAndFingerprintVerify()
    {
        Assert.True(StunMessage.TryParse(SampleRequest, out var m));
        Assert.True(m.HasFingerprint);
        Assert.Equal(StunClass.Request, m.Class);
        Assert.Equal(StunConst.Binding, m.Method);
        Assert.Equal("evtj:h6vY", StunMessage.ReadString(SampleRequest, m.Username));
        Assert.True(StunIntegrity.Verify(SampleRequest, m.IntegrityOffset, Encoding.UTF8.GetBytes(ShortTermPassword)));
        Assert.False(StunIntegrity.Verify(SampleRequest, m.IntegrityOffset, Encoding.UTF8.GetBytes("wrong")));
    }

    [Fact]
    public void SampleIpv4Response_XorMappedAddress_Decodes()
    {
        Assert.True(StunMessage.TryParse(SampleIpv4Response, out var m));
        Assert.True(StunMessage.TryReadXorAddress(SampleIpv4Response, m.XorMappedAddress, out var mapped));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.1"), 32853), mapped.ToEndPoint());
        Assert.True(StunIntegrity.Verify(SampleIpv4Response, m.IntegrityOffset, Encoding.UTF8.GetBytes(ShortTermPassword)));
    }

    [Fact]
    public void SampleIpv6Response_XorMappedAddress_Decodes()
    {
        Assert.True(StunMessage.TryParse(SampleIpv6Response, out var m));
        Assert.True(StunMessage.TryReadXorAddress(SampleIpv6Response, m.XorMappedAddress, out var mapped));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8:1234:5678:11:2233:4455:6677"), 32853), mapped.ToEndPoint());
        Assert.True(StunIntegrity.Verify(SampleIpv6Response, m.IntegrityOffset, Encoding.UTF8.GetBytes(ShortTermPassword)));
    }

    [Fact]
    public void SampleLongTermRequest_LongTermKey_IntegrityVerifies()
    {
        Assert.True(StunMessage.TryParse(SampleLongTermRequest, out var m));
        var username = StunMessage.ReadString(SampleLongTermRequest, m.Username);
        Assert.Equal("\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9", username);
        Assert.Equal("example.org", StunMessage.ReadString(SampleLongTermRequest, m.Realm));
        Assert.Equal("f//499k954d6OL34oL9FSTvy64sA", StunMessage.ReadString(SampleLongTermRequest, m.Nonce));
        // "The\u00ADM\u00AAtr\u2168" after SASLprep.
        var key = StunIntegrity.LongTermKey(username, "example.org", "TheMatrIX");
        Assert.True(StunIntegrity.Verify(SampleLongTermRequest, m.IntegrityOffset, key));
    }

    [Fact]
    public void Writer_RebuildsSampleIpv4Response_ByteForByte()
    {
        var buffer = new byte[128];
        var w = new StunWriter(buffer, StunConst.Binding, StunClass.Success, SampleIpv4Response.AsSpan(8, 12));
        w.AddString(StunConst.Software, "test vector");
        w.AddXorAddress(StunConst.XorMappedAddress, PeerKey.FromEndPoint(new IPEndPoint(IPAddress.Parse("192.0.2.1"), 32853)));
        w.AddMessageIntegrity(Encoding.UTF8.GetBytes(ShortTermPassword));
        w.AddFingerprint();
        // The RFC pads SOFTWARE with a space; we pad with zero (RFC 8489), so compare around the padding byte.
        var written = w.Written.ToArray();
        Assert.Equal(SampleIpv4Response.Length, written.Length);
        Assert.Equal(SampleIpv4Response[..35], written[..35]);
        Assert.Equal(0, written[35]);
        Assert.Equal(SampleIpv4Response.AsSpan(36, 8).ToArray(), written.AsSpan(36, 8).ToArray());
        Assert.True(StunMessage.TryParse(written, out var m));
        Assert.True(StunIntegrity.Verify(written, m.IntegrityOffset, Encoding.UTF8.GetBytes(ShortTermPassword)));
    }

    [Fact]
    public void SampleRequest_OneBitFlipped_FingerprintRejects()
    {
        var copy = (byte[])SampleRequest.Clone();
        copy[30] ^= 0x01;
        Assert.False(StunMessage.TryParse(copy, out _));
    }
}
