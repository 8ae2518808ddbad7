using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using GhostChat.Server.EmbeddedTurn;
using GhostChat.Server.Tests.Infrastructure;
using GhostChat.Turn.Client;

namespace GhostChat.Server.Tests.EmbeddedTurn;

/// <summary><c>GhostChat:Turn:UdpBatchedIo</c>, <c>UdpBatchSize</c> and <c>UdpGro</c> reach the embedded server; a bad size stops the start.</summary>
public sealed class TurnUdpBatchingTests
{
    private static Dictionary<string, string?> Settings() => new()
    {
        ["GhostChat:Turn:Enabled"] = "true",
        ["GhostChat:Turn:ListenAddresses:0"] = "127.0.0.1",
        ["GhostChat:Turn:UdpPort"] = "0",
        ["GhostChat:Turn:TcpPort"] = "0",
    };

    [Fact]
    public async Task Default_BatchedOnLinux_AndAnswers()
    {
        await using var server = await TestServer.StartAsync(Settings());
        var turn = server.Services.GetRequiredService<EmbeddedTurnHost>().Server!;
        Assert.Equal(OperatingSystem.IsLinux() && Environment.Is64BitProcess, turn.RelayBatched);
        using var probe = StunProbe.Open(localAddress: IPAddress.Loopback);
        var answer = await probe.BindingAsync(turn.UdpEndPoints[0], timeout: TimeSpan.FromSeconds(10));
        Assert.Equal(IPAddress.Loopback, answer.Mapped.Address);
    }

    [Fact]
    public async Task UdpBatchedIoFalse_PortablePath_AndAnswers()
    {
        var settings = Settings();
        settings["GhostChat:Turn:UdpBatchedIo"] = "false";
        settings["GhostChat:Turn:UdpBatchSize"] = "8";
        await using var server = await TestServer.StartAsync(settings);
        var host = server.Services.GetRequiredService<EmbeddedTurnHost>();
        Assert.False(host.Options.UdpBatchedIo);
        Assert.Equal(8, host.Options.UdpBatchSize);
        Assert.False(host.Server!.RelayBatched);
        using var probe = StunProbe.Open(localAddress: IPAddress.Loopback);
        var answer = await probe.BindingAsync(host.Server.UdpEndPoints[0], timeout: TimeSpan.FromSeconds(10));
        Assert.Equal(IPAddress.Loopback, answer.Mapped.Address);
    }

    /// <summary>
    /// GRO on by default: 40 Binding requests sent as one GSO message (UDP_SEGMENT on the sending socket) are each
    /// answered, and <c>ghostchat_turn_udp_coalesced_total</c> counts the 40 that arrived coalesced; with
    /// <c>GhostChat:Turn:UdpGro=false</c> they are answered too and the count stays 0.
    /// </summary>
    [Theory]
    [InlineData(null, 40)]
    [InlineData("false", 0)]
    public async Task UdpGro_BindingsSentAsOneGsoMessage_EachAnsweredAndCounted(string? gro, int coalesced)
    {
        if (!OperatingSystem.IsLinux() || !Environment.Is64BitProcess)
        {
            return;
        }
        var settings = Settings();
        if (gro is not null)
        {
            settings["GhostChat:Turn:UdpGro"] = gro;
        }
        await using var server = await TestServer.StartAsync(settings);
        var turn = server.Services.GetRequiredService<EmbeddedTurnHost>().Server!;
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        const int count = 40;
        const int size = 20;
        // UDP_SEGMENT (SOL_UDP 17, option 103): the kernel cuts each send into datagrams of this size.
        var segment = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(segment, size);
        sender.SetRawSocketOption(17, 103, segment);
        var requests = new byte[count * size];
        for (int i = 0; i < count; i++)
        {
            var request = requests.AsSpan(i * size, size);
            BinaryPrimitives.WriteUInt16BigEndian(request, 0x0001);
            BinaryPrimitives.WriteUInt32BigEndian(request[4..], 0x2112A442);
            request[8..].Fill((byte)(i + 1));
        }
        sender.SendTo(requests, turn.UdpEndPoints[0]);
        var answered = new HashSet<byte>();
        var buffer = new byte[1500];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (answered.Count < count)
        {
            var result = await sender.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), timeout.Token);
            Assert.Equal(0x0101, BinaryPrimitives.ReadUInt16BigEndian(buffer));
            Assert.True(answered.Add(buffer[8]), "answered twice: " + buffer[8]);
        }
        Assert.Equal(coalesced, await server.MetricAsync("ghostchat_turn_udp_coalesced_total"));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("257")]
    public async Task UdpBatchSize_OutOfRange_RefusesToStartWithTheKeyNamed(string size)
    {
        var settings = Settings();
        settings["GhostChat:Turn:UdpBatchSize"] = size;
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => TestServer.StartAsync(settings));
        Assert.Contains("UdpBatchSize", ex.Message, StringComparison.Ordinal);
    }
}
