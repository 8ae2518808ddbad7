using System.Buffers.Binary;
using System.Net;
using GhostChat.Turn.Stun;

namespace GhostChat.Turn.Tests;

/// <summary>Fuzzed and malformed input never throws out of the handler and never stops the server.</summary>
public sealed class MalformedInputTests
{
    [Fact]
    public void Parser_RandomAndMutatedBytes_NeverThrows()
    {
        var random = new Random(1234);
        var seeds = new[] { Rfc5769Tests.SampleRequest, Rfc5769Tests.SampleIpv4Response, Rfc5769Tests.SampleIpv6Response, Rfc5769Tests.SampleLongTermRequest };
        for (int i = 0; i < 200_000; i++)
        {
            byte[] packet;
            if (i % 2 == 0)
            {
                packet = new byte[random.Next(0, 200)];
                random.NextBytes(packet);
                if (packet.Length >= 8 && i % 4 == 0)
                {
                    packet[0] &= 0x3F;
                    BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(4), StunConst.MagicCookie);
                    BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)(packet.Length - 20));
                }
            }
            else
            {
                packet = Mutate(seeds[random.Next(seeds.Length)], random);
            }
            if (StunMessage.TryParse(packet, out var m))
            {
                // Reading what the parser found must stay in bounds too.
                for (int p = 0; p < m.PeerCount; p++)
                {
                    StunMessage.TryReadXorAddress(packet, m.Peers[p], out _);
                }
                StunMessage.ReadString(packet, m.Username);
                StunMessage.ReadUInt32(packet, m.Lifetime);
                if (m.IntegrityOffset > 0)
                {
                    StunIntegrity.Verify(packet, m.IntegrityOffset, [1, 2, 3]);
                }
            }
        }
    }

    internal static byte[] Mutate(byte[] seed, Random random)
    {
        var p = (byte[])seed.Clone();
        switch (random.Next(5))
        {
            case 0:
                p[random.Next(p.Length)] = (byte)random.Next(256);
                return p;
            case 1:
                return p[..random.Next(p.Length)];
            case 2:
                // Lying attribute length.
                BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(22), (ushort)random.Next(65536));
                return p;
            case 3:
                // Lying message length.
                BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)random.Next(65536));
                return p;
            default:
                var longer = new byte[p.Length + random.Next(1, 40)];
                p.CopyTo(longer, 0);
                random.NextBytes(longer.AsSpan(p.Length));
                return longer;
        }
    }

    [Fact]
    public async Task Server_GarbageFromOneClient_OthersStillServed()
    {
        await using var server = await TestServer.StartAsync(o => o.AllowedPeers = ["127.0.0.1/32"]);
        await using var attacker = await server.AllocatedClientAsync("mallory");
        await attacker.ChannelBindAsync(0x4000, new IPEndPoint(IPAddress.Loopback, 9));
        var random = new Random(42);
        var seeds = new[] { Rfc5769Tests.SampleRequest, Rfc5769Tests.SampleLongTermRequest };
        for (int i = 0; i < 3000; i++)
        {
            byte[] packet = (i % 3) switch
            {
                0 => RandomBytes(random),
                1 => Mutate(seeds[random.Next(seeds.Length)], random),
                _ => BadChannelData(random),
            };
            attacker.SendRaw(packet);
        }
        // Over TCP: a stream of junk, then the connection is dropped by the server.
        using (var tcp = new System.Net.Sockets.TcpClient())
        {
            await tcp.ConnectAsync(server.Tcp);
            var junk = new byte[4096];
            random.NextBytes(junk);
            junk[0] = 0x00; // looks like STUN with a lying length
            await tcp.GetStream().WriteAsync(junk);
        }

        await using var other = server.Client();
        var mapped = await other.BindingAsync();
        Assert.Equal(IPAddress.Loopback, mapped.Address);
        await using var allocated = await server.AllocatedClientAsync("bob");
        Assert.Equal(0, server.Server.HandlerFaults);
    }

    [Fact]
    public async Task Server_UnknownComprehensionRequiredAttribute_Answers420()
    {
        await using var server = await TestServer.StartAsync();
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        socket.Connect(server.Udp);
        var buffer = new byte[64];
        var w = new StunWriter(buffer, StunConst.Binding, StunClass.Request, new byte[12]);
        w.AddUInt32(0x7FFF, 1);
        socket.Send(w.Written);
        var answer = new byte[512];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        int n = await socket.ReceiveAsync(answer, System.Net.Sockets.SocketFlags.None, cts.Token);
        Assert.True(StunMessage.TryParse(answer.AsSpan(0, n), out var m));
        Assert.Equal(StunClass.Error, m.Class);
        Assert.Equal(4, answer[m.ErrorCode.Offset + 2]);
        Assert.Equal(20, answer[m.ErrorCode.Offset + 3]);
    }

    private static byte[] RandomBytes(Random random)
    {
        var p = new byte[random.Next(1, 1500)];
        random.NextBytes(p);
        return p;
    }

    private static byte[] BadChannelData(Random random)
    {
        var p = new byte[random.Next(4, 64)];
        random.NextBytes(p);
        p[0] = (byte)(0x40 | (p[0] & 0x3F));
        return p;
    }

    [Fact]
    public async Task TcpConnection_ThatNeverAllocates_IsClosedAfterTheIdleTimeout()
    {
        await using var server = await TestServer.StartAsync(o => o.UnallocatedStreamTimeout = TimeSpan.FromMilliseconds(500));
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(server.Tcp);
        var read = await tcp.GetStream().ReadAsync(new byte[16]).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, read); // the server closed the silent connection
    }
}
