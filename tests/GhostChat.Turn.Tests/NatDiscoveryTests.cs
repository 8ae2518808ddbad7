using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using GhostChat.Turn.Client;
using GhostChat.Turn.Server;
using GhostChat.Turn.Stun;

namespace GhostChat.Turn.Tests;

/// <summary>The STUN second port (RFC 5780): off by default, RESPONSE-ORIGIN / OTHER-ADDRESS, CHANGE-REQUEST, malformed input.</summary>
public sealed class NatDiscoveryTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Off_ByDefault_NoRfc5780AttributesAndChangeRequestIs420()
    {
        Assert.Equal(-1, new TurnServerOptions().AlternatePort);
        await using var server = await TestServer.StartAsync();
        Assert.Empty(server.Server.AlternateEndPoints);
        Assert.Equal(-1, server.Server.AlternatePort);
        using var probe = StunProbe.Open(localAddress: IPAddress.Loopback);
        var answer = await probe.BindingAsync(server.Udp, timeout: Wait);
        Assert.Equal(probe.LocalEndPoint, answer.Mapped);
        Assert.Null(answer.ResponseOrigin);
        Assert.Null(answer.OtherAddress);
        var ex = await Assert.ThrowsAsync<TurnException>(() => probe.BindingAsync(server.Udp, changePort: true, timeout: Wait));
        Assert.Equal(420, ex.Code);
    }

    [Fact]
    public async Task AlternatePort_AnswersOnBothPorts_WithResponseOriginAndOtherAddress()
    {
        await using var server = await TestServer.StartAsync(o => o.AlternatePort = 0);
        var alternate = Assert.Single(server.Server.AlternateEndPoints);
        Assert.Equal(alternate.Port, server.Server.AlternatePort);
        Assert.NotEqual(server.Udp.Port, alternate.Port);

        using var probe = StunProbe.Open(localAddress: IPAddress.Loopback);
        var primary = await probe.BindingAsync(server.Udp, timeout: Wait);
        var second = await probe.BindingAsync(alternate, timeout: Wait);
        Assert.Equal(probe.LocalEndPoint, primary.Mapped);
        Assert.Equal(primary.Mapped, second.Mapped);
        Assert.Equal(server.Udp, primary.ResponseOrigin);
        Assert.Equal(alternate, primary.OtherAddress);
        Assert.Equal(alternate, second.ResponseOrigin);
        Assert.Equal(server.Udp, second.OtherAddress);
        Assert.Equal(server.Udp, primary.From);
        Assert.Equal(alternate, second.From);
    }

    [Fact]
    public async Task ChangePort_AnswersFromTheOtherPort_ChangeIpWithoutAlternateAddressIs420()
    {
        await using var server = await TestServer.StartAsync(o => o.AlternatePort = 0);
        var alternate = server.Server.AlternateEndPoints[0];
        using var probe = StunProbe.Open(localAddress: IPAddress.Loopback);

        var changed = await probe.BindingAsync(server.Udp, changePort: true, timeout: Wait);
        Assert.Equal(alternate, changed.From);
        Assert.Equal(alternate, changed.ResponseOrigin);
        Assert.Equal(probe.LocalEndPoint, changed.Mapped);

        var back = await probe.BindingAsync(alternate, changePort: true, timeout: Wait);
        Assert.Equal(server.Udp, back.From);
        Assert.Equal(server.Udp, back.ResponseOrigin);

        // Flags 0: an empty change is an ordinary answer from where the request went.
        var none = await SendRawAsync(server.Udp, changeRequest: [0, 0, 0, 0]);
        Assert.Equal(server.Udp, none.From);
        Assert.Equal(0x0101, none.Type);

        var ex = await Assert.ThrowsAsync<TurnException>(() => probe.BindingAsync(server.Udp, changeIp: true, timeout: Wait));
        Assert.Equal(420, ex.Code);
        ex = await Assert.ThrowsAsync<TurnException>(() => probe.BindingAsync(server.Udp, changeIp: true, changePort: true, timeout: Wait));
        Assert.Equal(420, ex.Code);
    }

    [Fact]
    public async Task AlternateAddress_ChangesAddressPortOrBoth()
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.AlternatePort = 0;
            o.AlternateAddress = "127.0.0.2";
        });
        var eps = server.Server.AlternateEndPoints;
        Assert.Equal(3, eps.Count);
        var altPort = eps[0].Port;
        var a1p2 = new IPEndPoint(IPAddress.Loopback, altPort);
        var a2p1 = new IPEndPoint(IPAddress.Parse("127.0.0.2"), server.Udp.Port);
        var a2p2 = new IPEndPoint(IPAddress.Parse("127.0.0.2"), altPort);
        Assert.Equal([a1p2, a2p1, a2p2], eps);

        using var probe = StunProbe.Open(localAddress: IPAddress.Loopback);
        var plain = await probe.BindingAsync(server.Udp, timeout: Wait);
        Assert.Equal(a2p2, plain.OtherAddress);
        Assert.Equal(server.Udp, plain.ResponseOrigin);
        Assert.Equal(a1p2, (await probe.BindingAsync(server.Udp, changePort: true, timeout: Wait)).From);
        Assert.Equal(a2p1, (await probe.BindingAsync(server.Udp, changeIp: true, timeout: Wait)).From);
        var both = await probe.BindingAsync(server.Udp, changeIp: true, changePort: true, timeout: Wait);
        Assert.Equal(a2p2, both.From);
        Assert.Equal(a2p2, both.ResponseOrigin);
        // From the far corner, OTHER-ADDRESS points back to the primary.
        var far = await probe.BindingAsync(a2p2, timeout: Wait);
        Assert.Equal(server.Udp, far.OtherAddress);
        Assert.Equal(probe.LocalEndPoint, far.Mapped);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(8)]
    public async Task MalformedChangeRequest_Is400_AndTheServerGoesOn(int length)
    {
        await using var server = await TestServer.StartAsync(o => o.AlternatePort = 0);
        var answer = await SendRawAsync(server.Udp, changeRequest: new byte[length]);
        Assert.Equal(0x0111, answer.Type); // Binding error response
        Assert.Equal(400, answer.ErrorCode);
        using var probe = StunProbe.Open(localAddress: IPAddress.Loopback);
        Assert.Equal(probe.LocalEndPoint, (await probe.BindingAsync(server.Udp, timeout: Wait)).Mapped);
        Assert.Equal(0, server.Server.HandlerFaults);
    }

    [Fact]
    public async Task ChangeRequestWithAnotherUnknownAttribute_Is420ListingOnlyTheUnknownOne()
    {
        await using var server = await TestServer.StartAsync(o => o.AlternatePort = 0);
        var answer = await SendRawAsync(server.Udp, changeRequest: [0, 0, 0, 2], extraUnknown: 0x7777);
        Assert.Equal(420, answer.ErrorCode);
        Assert.Equal([0x7777], answer.UnknownAttributes);
    }

    [Fact]
    public async Task AlternatePort_ServesBindingOnly_AndDropsTurnAndGarbage()
    {
        await using var server = await TestServer.StartAsync(o => o.AlternatePort = 0);
        var alternate = server.Server.AlternateEndPoints[0];
        await using (var client = TurnClient.ConnectUdp(alternate))
        {
            client.InitialRto = TimeSpan.FromMilliseconds(100);
            client.MaxTries = 3;
            var c = server.Credential();
            var ex = await Assert.ThrowsAsync<TurnException>(() => client.AllocateAsync(c.Username, c.Password));
            Assert.Equal(0, ex.Code); // no answer at all: not even a 401 challenge leaves the STUN-only port
            client.SendRaw(RandomNumberGenerator.GetBytes(64));
            client.SendRaw([0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4]);
        }
        Assert.Equal(0, server.Server.AllocationCount);
        using var probe = StunProbe.Open(localAddress: IPAddress.Loopback);
        Assert.NotNull((await probe.BindingAsync(alternate, timeout: Wait)).ResponseOrigin);
        Assert.Equal(0, server.Server.HandlerFaults);
        Assert.True(server.Server.DroppedPackets >= 2);
    }

    [Fact]
    public async Task BindingOverTcp_WithChangeRequest_Is420EvenWhenRfc5780IsOn()
    {
        await using var server = await TestServer.StartAsync(o => o.AlternatePort = 0);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.Tcp);
        var stream = tcp.GetStream();
        var request = BuildBinding([0, 0, 0, 2], 0, out _);
        await stream.WriteAsync(request);
        var header = new byte[20];
        await stream.ReadExactlyAsync(header);
        var body = new byte[BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2))];
        await stream.ReadExactlyAsync(body);
        Assert.True(StunMessage.TryParse([.. header, .. body], out var m));
        Assert.Equal(StunClass.Error, m.Class);
    }

    [Theory]
    [InlineData(-2, null, "AlternatePort must be 0–65535")]
    [InlineData(3478, null, "AlternatePort must differ from UdpPort")]
    [InlineData(-1, "127.0.0.2", "AlternateAddress needs AlternatePort")]
    [InlineData(3479, "not-an-ip", "is not a specific IP address")]
    [InlineData(3479, "127.0.0.1", "must be another address of the same family")]
    [InlineData(3479, "::1", "must be another address of the same family")]
    public void Options_RefuseBadAlternateSettings(int port, string? address, string expected)
    {
        var options = new TurnServerOptions { ListenAddresses = ["127.0.0.1"], Secrets = [TestServer.Secret], AlternatePort = port, AlternateAddress = address };
        Assert.Contains(options.Validate(), e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Options_AlternateAddressNeedsASpecificListenAddress()
    {
        var options = new TurnServerOptions { Secrets = [TestServer.Secret], AlternatePort = 3479, AlternateAddress = "10.0.0.2" };
        Assert.Contains(options.Validate(), e => e.Contains("needs a specific first ListenAddresses entry", StringComparison.Ordinal));
        Assert.Empty(new TurnServerOptions { Secrets = [TestServer.Secret], AlternatePort = 3479 }.Validate());
    }

    [Fact]
    public async Task CoturnNatDiscovery_ReportsEndpointIndependentMappingAndFiltering()
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.AlternatePort = 0;
            o.AlternateAddress = "127.0.0.2";
        });
        var result = await ProcessRunner.RunAsync("/usr/bin/turnutils_natdiscovery", ["-m", "-f", "-p", server.Udp.Port.ToString(CultureInfo.InvariantCulture), "127.0.0.1"], TimeSpan.FromSeconds(60));
        var output = result.Output;
        Assert.Contains("Endpoint Independent Mapping", output, StringComparison.Ordinal);
        Assert.Contains("Endpoint Independent Filtering", output, StringComparison.Ordinal);
        Assert.Equal(0, server.Server.HandlerFaults);
    }

    private sealed record RawAnswer(ushort Type, int ErrorCode, ushort[] UnknownAttributes, IPEndPoint From);

    private static byte[] BuildBinding(byte[] changeRequest, ushort extraUnknown, out byte[] tid)
    {
        tid = RandomNumberGenerator.GetBytes(12);
        var buffer = new byte[128];
        var w = new StunWriter(buffer, StunConst.Binding, StunClass.Request, tid);
        w.AddBytes(StunConst.ChangeRequest, changeRequest);
        if (extraUnknown != 0)
        {
            w.AddBytes(extraUnknown, [1, 2, 3, 4]);
        }
        w.AddFingerprint();
        return w.Written.ToArray();
    }

    private static async Task<RawAnswer> SendRawAsync(IPEndPoint server, byte[] changeRequest, ushort extraUnknown = 0)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var request = BuildBinding(changeRequest, extraUnknown, out var tid);
        var buffer = new byte[1500];
        for (int attempt = 0; attempt < 10; attempt++)
        {
            await socket.SendToAsync(request, SocketFlags.None, server);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                var r = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cts.Token);
                var packet = buffer[..r.ReceivedBytes];
                Assert.True(StunMessage.TryParse(packet, out var m));
                Assert.Equal(tid, packet[8..20]);
                int code = m.ErrorCode.Present ? ((packet[m.ErrorCode.Offset + 2] & 7) * 100) + packet[m.ErrorCode.Offset + 3] : 0;
                var unknown = new List<ushort>();
                int pos = 20;
                while (pos + 4 <= packet.Length)
                {
                    ushort type = BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(pos));
                    int len = BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(pos + 2));
                    if (type == StunConst.UnknownAttributes)
                    {
                        for (int i = 0; i + 1 < len; i += 2)
                        {
                            unknown.Add(BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(pos + 4 + i)));
                        }
                    }
                    pos += 4 + ((len + 3) & ~3);
                }
                return new RawAnswer(m.Type, code, [.. unknown], (IPEndPoint)r.RemoteEndPoint);
            }
            catch (OperationCanceledException)
            {
            }
        }
        throw new TimeoutException("no answer from " + server);
    }
}
