using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using GhostChat.Turn.Client;
using GhostChat.Turn.Stun;
using Microsoft.Extensions.Time.Testing;

namespace GhostChat.Turn.Tests;

/// <summary>
/// Attacks on the server's limits, over real sockets: challenge floods from spoofed sources (raw IP sockets, so
/// root), connection floods, trickling and stalled TCP clients, allocation floods from one source, allocations
/// that try to outlive their credential.
/// </summary>
public sealed class AbuseTests
{
    private const int FloodSources = 70_000;

    [Fact]
    public async Task ChallengeFlood_FromSeventyThousandSpoofedIPv4Sources_LegitimateClientIsStillChallenged() =>
        await FloodThenChallengeAsync(IPAddress.Loopback, i => new IPAddress([127, (byte)(1 + (i >> 16)), (byte)(i >> 8), (byte)i]));

    [Fact]
    public async Task ChallengeFlood_FromSeventyThousandAddressesOfOneIPv6Slash64_OthersAreStillChallenged() =>
        await FloodThenChallengeAsync(IPAddress.IPv6Loopback, i =>
        {
            var bytes = new byte[16];
            bytes[0] = 0xfd;
            bytes[7] = 1;
            BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(8), (ulong)i * 0x9E3779B97F4A7C15UL);
            return new IPAddress(bytes);
        });

    [Theory]
    [InlineData("2001:db8:1:2::7", "2001:db8:1:2:ffff:ffff:ffff:ffff", true)]
    [InlineData("2001:db8:1:2::7", "2001:db8:1:3::7", false)]
    [InlineData("192.0.2.1", "::ffff:192.0.2.1", true)]
    [InlineData("192.0.2.1", "192.0.2.2", false)]
    public void SourceBucket_IsTheIPv4AddressOrTheIPv6Slash64(string a, string b, bool same)
    {
        static PeerKey Bucket(string ip) => PeerKey.FromEndPoint(new IPEndPoint(IPAddress.Parse(ip), 1234)).SourceBucket;
        Assert.Equal(same, Bucket(a) == Bucket(b));
        var now = DateTimeOffset.UtcNow;
        var ca = GhostChat.Turn.Auth.TurnRestCredentials.CreateForClient(TestServer.Secret, IPAddress.Parse(a), TimeSpan.FromHours(12), now);
        var cb = GhostChat.Turn.Auth.TurnRestCredentials.CreateForClient(TestServer.Secret, IPAddress.Parse(b), TimeSpan.FromHours(12), now);
        Assert.Equal(same, ca.Username == cb.Username);
    }

    [Fact]
    public async Task Challenges_BeyondTheBudgetOfOneSource_AreDroppedUntilTheNextSecond()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await TestServer.StartAsync(o => { o.UnauthorizedPerSecondPerSource = 3; o.UdpReceiveLoops = 1; }, time);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(401, await UnauthenticatedAllocateAsync(socket, server.Udp));
        }
        Assert.Equal(0, await UnauthenticatedAllocateAsync(socket, server.Udp, TimeSpan.FromMilliseconds(500)));
        Assert.Equal(1, server.Refusals["challenge_rate"]);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(401, await UnauthenticatedAllocateAsync(socket, server.Udp));
    }

    [Fact]
    public async Task TcpConnections_BeyondThePerSourceCap_AreClosed_AnotherSourceIsServed()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxStreamConnectionsPerSource = 3);
        var held = new List<TurnClient>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                var c = await TurnClient.ConnectTcpAsync(server.Tcp);
                held.Add(c);
                await c.BindingAsync();
            }
            Assert.True(await RefusedOnArrivalAsync(IPAddress.Loopback, server.Tcp), "the fourth connection from one source stayed open");

            using var other = await ConnectFromAsync(IPAddress.Parse("127.0.0.2"), server.Tcp);
            Assert.Equal(StunClass.Success, await BindingOverStreamAsync(other));
            Assert.Equal(1, server.Refusals["source_connection_cap"]);
        }
        finally
        {
            foreach (var c in held)
            {
                await c.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task TcpConnections_BeyondTheServerCap_AreClosed()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxStreamConnections = 2);
        using var a = await ConnectFromAsync(IPAddress.Parse("127.0.0.3"), server.Tcp);
        using var b = await ConnectFromAsync(IPAddress.Parse("127.0.0.4"), server.Tcp);
        Assert.Equal(StunClass.Success, await BindingOverStreamAsync(a));
        Assert.Equal(StunClass.Success, await BindingOverStreamAsync(b));
        Assert.True(await RefusedOnArrivalAsync(IPAddress.Parse("127.0.0.5"), server.Tcp), "a connection beyond the server's cap stayed open");
        Assert.Equal(1, server.Refusals["connection_cap"]);
        a.Dispose();
        await Wait.UntilAsync(() => Connect(server.Tcp) is { } d && BindingWorks(d), "a free slot after one connection closed");
    }

    [Fact]
    public async Task TcpConnection_TricklingBytesThatNeverMakeAMessage_IsClosedAtTheFirstMessageDeadline()
    {
        await using var server = await TestServer.StartAsync(o => { o.StreamFirstMessageTimeout = TimeSpan.FromMilliseconds(800); o.UnallocatedStreamTimeout = TimeSpan.FromSeconds(60); });
        using var socket = await ConnectFromAsync(IPAddress.Loopback, server.Tcp);
        // A STUN header announcing 1000 bytes of attributes, sent a byte every 100 ms: never a whole message.
        Assert.True(await TrickleUntilClosedAsync(socket, TimeSpan.FromSeconds(6)), "a connection trickling bytes outlived the first-message deadline");
        await Wait.UntilAsync(() => server.Refusals["first_message_timeout"] == 1, "the refusal to be counted");
    }

    [Fact]
    public async Task TcpConnection_TricklingBytesAfterAValidMessage_IsClosedAtTheIdleTimeout()
    {
        await using var server = await TestServer.StartAsync(o => o.UnallocatedStreamTimeout = TimeSpan.FromMilliseconds(800));
        using var socket = await ConnectFromAsync(IPAddress.Loopback, server.Tcp);
        Assert.Equal(StunClass.Success, await BindingOverStreamAsync(socket));
        Assert.True(await TrickleUntilClosedAsync(socket, TimeSpan.FromSeconds(6)), "bytes that make no message kept an idle connection open");
        await Wait.UntilAsync(() => server.Refusals["idle_timeout"] == 1, "the refusal to be counted");
    }

    [Fact]
    public async Task TcpConnection_ValidMessages_KeepItOpenPastTheIdleTimeout()
    {
        await using var server = await TestServer.StartAsync(o => { o.UnallocatedStreamTimeout = TimeSpan.FromMilliseconds(800); o.StreamFirstMessageTimeout = TimeSpan.FromMilliseconds(800); });
        using var socket = await ConnectFromAsync(IPAddress.Loopback, server.Tcp);
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(StunClass.Success, await BindingOverStreamAsync(socket));
            await Task.Delay(250);
        }
    }

    [Fact]
    public async Task TcpClient_ThatStopsReading_NeverBlocksTheRelay_AndIsDisconnected()
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.AllowedPeers = ["127.0.0.1/32"];
            o.StreamWriteTimeout = TimeSpan.FromSeconds(1);
            o.MaxBytesPerSecondPerAllocation = 0;
        });
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await socket.ConnectAsync(server.Tcp);
        using var peer = new UdpPeer();
        var stalled = new RawStreamClient(socket);
        var relayed = await stalled.AllocateAsync(server.Credential("stalled"));
        await stalled.CreatePermissionAsync(peer.EndPoint);
        Assert.Equal(1, server.Server.AllocationCount);

        // The client reads nothing from now on; its peer sends as fast as it can.
        var payload = new byte[1200];
        var deadline = Environment.TickCount64 + 20_000;
        while (server.Server.AllocationCount > 0 && Environment.TickCount64 < deadline)
        {
            for (int i = 0; i < 200; i++)
            {
                peer.Socket.SendTo(payload, relayed);
            }
            await Task.Delay(5);
        }
        Assert.Equal(0, server.Server.AllocationCount);
        Assert.True(server.Refusals["send_queue_full"] > 0);
        Assert.Equal(1, server.Refusals["write_timeout"]);
    }

    [Fact]
    public async Task Allocate_ManyUsersFromOneSource_RefusedAtTheSourceQuota_AnotherSourceIsServed()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxAllocationsPerSource = 3);
        var clients = new List<TurnClient>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                clients.Add(await server.AllocatedClientAsync("user" + i));
            }
            await using var fourth = server.Client();
            var credential = server.Credential("user3");
            var ex = await Assert.ThrowsAsync<TurnException>(() => fourth.AllocateAsync(credential.Username, credential.Password));
            Assert.Equal(486, ex.Code);
            Assert.Equal(1, server.Refusals["source_quota"]);

            await using var other = TurnClient.ConnectUdp(server.Udp, IPAddress.Parse("127.0.0.2"));
            await other.AllocateAsync(credential.Username, credential.Password);
            // Freeing one lets the first source allocate again.
            await clients[0].RefreshAsync(TimeSpan.Zero);
            clients.Add(await server.AllocatedClientAsync("user4"));
        }
        finally
        {
            foreach (var c in clients)
            {
                await c.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Allocation_NeverOutlivesItsCredential_RefreshAfterExpiryRefused401()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await TestServer.StartAsync(time: time);
        await using var client = server.Client();
        var credential = server.Credential("short", TimeSpan.FromSeconds(120));
        var allocation = await client.AllocateAsync(credential.Username, credential.Password, TimeSpan.FromSeconds(3600));
        Assert.InRange(allocation.Lifetime.TotalSeconds, 1, 120);

        time.Advance(TimeSpan.FromSeconds(60));
        Assert.InRange((await client.RefreshAsync(TimeSpan.FromSeconds(3600))).TotalSeconds, 1, 60);

        time.Advance(TimeSpan.FromSeconds(61));
        var ex = await Assert.ThrowsAsync<TurnException>(() => client.RefreshAsync(TimeSpan.FromSeconds(3600)));
        Assert.Equal(401, ex.Code);
        Assert.Equal(0, server.Server.AllocationCount);
        Assert.Equal(1, server.Refusals["credential_expired"]);
    }

    /// <summary>
    /// A server on <paramref name="listen"/> gets an unauthenticated Allocate from each of <see cref="FloodSources"/>
    /// spoofed sources; then a client on the same loopback address must still get its 401.
    /// </summary>
    private static async Task FloodThenChallengeAsync(IPAddress listen, Func<int, IPAddress> source)
    {
        // The clock stands still: every spoofed request lands in the same second of the limiter.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await TestServer.StartAsync(o => { o.ListenAddresses = [listen.ToString()]; o.UdpReceiveLoops = 1; }, time);
        using (var raw = new Socket(listen.AddressFamily, SocketType.Raw, ProtocolType.Raw))
        {
            await FloodAsync(server, raw, source);
        }
        using var legit = new Socket(listen.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        legit.Bind(new IPEndPoint(listen, 0));
        Assert.Equal(401, await UnauthenticatedAllocateAsync(legit, server.Udp));
    }

    /// <summary>
    /// One unauthenticated Allocate from each of <see cref="FloodSources"/> spoofed addresses, in batches; a Binding
    /// from a real socket after each batch proves the (single) receive loop has handled it.
    /// </summary>
    private static async Task FloodAsync(TestServer server, Socket raw, Func<int, IPAddress> source)
    {
        var request = UnauthenticatedAllocate();
        var ping = TurnClient.ConnectUdp(server.Udp);
        await using (ping)
        {
            for (int i = 0; i < FloodSources;)
            {
                for (int end = Math.Min(FloodSources, i + 2000); i < end; i++)
                {
                    raw.SendTo(SpoofedDatagram(source(i), 40000, server.Udp, request), new IPEndPoint(server.Udp.Address, 0));
                }
                await ping.BindingAsync();
            }
        }
    }

    private static byte[] UnauthenticatedAllocate()
    {
        var buffer = new byte[64];
        var w = new StunWriter(buffer, StunConst.Allocate, StunClass.Request, System.Security.Cryptography.RandomNumberGenerator.GetBytes(12));
        w.AddRequestedTransport(StunConst.TransportUdp);
        return w.Written.ToArray();
    }

    /// <summary>Sends an unauthenticated Allocate; the error code of the answer, or 0 when none comes.</summary>
    private static async Task<int> UnauthenticatedAllocateAsync(Socket socket, IPEndPoint server, TimeSpan? wait = null)
    {
        await socket.SendToAsync(UnauthenticatedAllocate(), server);
        var buffer = new byte[1024];
        using var cts = new CancellationTokenSource(wait ?? TimeSpan.FromSeconds(3));
        try
        {
            var r = await socket.ReceiveFromAsync(buffer, new IPEndPoint(server.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0), cts.Token);
            return ErrorCode(buffer.AsSpan(0, r.ReceivedBytes));
        }
        catch (OperationCanceledException)
        {
            return 0;
        }
    }

    private static int ErrorCode(ReadOnlySpan<byte> packet)
    {
        Assert.True(StunMessage.TryParse(packet, out var m));
        Assert.True(m.ErrorCode.Present);
        return (packet[m.ErrorCode.Offset + 2] * 100) + packet[m.ErrorCode.Offset + 3];
    }

    /// <summary>An IP packet (header included: the source is ours to pick) carrying one UDP datagram.</summary>
    private static byte[] SpoofedDatagram(IPAddress from, ushort fromPort, IPEndPoint to, byte[] payload)
    {
        bool v6 = to.AddressFamily == AddressFamily.InterNetworkV6;
        int ipHeader = v6 ? 40 : 20;
        var packet = new byte[ipHeader + 8 + payload.Length];
        var ip = packet.AsSpan(0, ipHeader);
        var udp = packet.AsSpan(ipHeader);
        BinaryPrimitives.WriteUInt16BigEndian(udp, fromPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], (ushort)to.Port);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udp.Length);
        payload.CopyTo(udp[8..]);
        if (v6)
        {
            ip[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)udp.Length);
            ip[6] = 17;
            ip[7] = 64;
            from.TryWriteBytes(ip[8..], out _);
            to.Address.TryWriteBytes(ip[24..], out _);
            // IPv6 requires the UDP checksum: over the pseudo-header (addresses, length, next header) and the datagram.
            uint sum = Sum(ip.Slice(8, 32)) + (uint)udp.Length + 17 + Sum(udp);
            ushort checksum = Fold(sum);
            BinaryPrimitives.WriteUInt16BigEndian(udp[6..], checksum == 0 ? (ushort)0xFFFF : checksum);
        }
        else
        {
            // The kernel fills in the total length, identification and header checksum; UDP checksum 0 = none.
            ip[0] = 0x45;
            ip[8] = 64;
            ip[9] = 17;
            from.TryWriteBytes(ip[12..], out _);
            to.Address.TryWriteBytes(ip[16..], out _);
        }
        return packet;
    }

    private static uint Sum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (int i = 0; i + 1 < data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        }
        if ((data.Length & 1) != 0)
        {
            sum += (uint)data[^1] << 8;
        }
        return sum;
    }

    private static ushort Fold(uint sum)
    {
        while (sum >> 16 != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        return (ushort)~sum;
    }

    private static async Task<Socket> ConnectFromAsync(IPAddress local, IPEndPoint server)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(local, 0));
        await socket.ConnectAsync(server);
        return socket;
    }

    /// <summary>True when the server closes a new connection from <paramref name="local"/> at once (maybe before connect returns).</summary>
    private static async Task<bool> RefusedOnArrivalAsync(IPAddress local, IPEndPoint server)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(local, 0));
        try
        {
            await socket.ConnectAsync(server);
        }
        catch (SocketException)
        {
            return true;
        }
        return await ClosedByServerAsync(socket, TimeSpan.FromSeconds(5));
    }

    private static Socket? Connect(IPEndPoint server)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Connect(server);
            return socket;
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null;
        }
    }

    private static bool BindingWorks(Socket socket)
    {
        using (socket)
        {
            try
            {
                return BindingOverStreamAsync(socket).GetAwaiter().GetResult() == StunClass.Success;
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or IOException)
            {
                return false;
            }
        }
    }

    /// <summary>True when the server closes (FIN or reset) the connection within <paramref name="timeout"/>.</summary>
    private static async Task<bool> ClosedByServerAsync(Socket socket, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            var buffer = new byte[1024];
            while (true)
            {
                if (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) == 0)
                {
                    return true;
                }
            }
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Sends a STUN header announcing 1000 bytes, then one byte every 100 ms; true once the server closes.</summary>
    private static async Task<bool> TrickleUntilClosedAsync(Socket socket, TimeSpan limit)
    {
        var header = new byte[20];
        BinaryPrimitives.WriteUInt16BigEndian(header, StunType.Encode(StunConst.Binding, StunClass.Request));
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), 1000);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), StunConst.MagicCookie);
        var closed = ClosedByServerAsync(socket, limit);
        for (int i = 0; !closed.IsCompleted; i++)
        {
            try
            {
                await socket.SendAsync(header.AsMemory(i % header.Length, 1));
            }
            catch (SocketException)
            {
                break;
            }
            await Task.WhenAny(closed, Task.Delay(100));
        }
        return await closed;
    }

    private static async Task<StunClass> BindingOverStreamAsync(Socket socket)
    {
        var buffer = new byte[64];
        var w = new StunWriter(buffer, StunConst.Binding, StunClass.Request, System.Security.Cryptography.RandomNumberGenerator.GetBytes(12));
        await socket.SendAsync(w.Written.ToArray());
        var answer = await RawStreamClient.ReadFrameAsync(socket);
        Assert.True(StunMessage.TryParse(answer, out var m));
        return m.Class;
    }
}

/// <summary>
/// A TURN client over a stream (a plain TCP socket, or TLS) that reads only when asked: what a client that stops
/// reading looks like.
/// </summary>
internal sealed class RawStreamClient(Stream stream)
{
    private string _username = "";
    private byte[] _key = [];
    private string _nonce = "";
    private string _realm = "";

    /// <summary>Over a TCP socket (the socket stays the caller's).</summary>
    public RawStreamClient(Socket socket)
        : this(new NetworkStream(socket, ownsSocket: false))
    {
    }

    public async Task<IPEndPoint> AllocateAsync(GhostChat.Turn.Auth.TurnCredential credential)
    {
        var challenge = await TransactAsync(StunConst.Allocate, (ref StunWriter w) => w.AddRequestedTransport(StunConst.TransportUdp), sign: false);
        Assert.True(StunMessage.TryParse(challenge, out var c));
        _nonce = StunMessage.ReadString(challenge, c.Nonce);
        _realm = StunMessage.ReadString(challenge, c.Realm);
        _username = credential.Username;
        _key = StunIntegrity.LongTermKey(credential.Username, _realm, credential.Password);
        var answer = await TransactAsync(StunConst.Allocate, (ref StunWriter w) => w.AddRequestedTransport(StunConst.TransportUdp), sign: true);
        Assert.True(StunMessage.TryParse(answer, out var m));
        Assert.Equal(StunClass.Success, m.Class);
        Assert.True(StunMessage.TryReadXorAddress(answer, m.XorRelayedAddress, out var relayed));
        return relayed.ToEndPoint();
    }

    public async Task CreatePermissionAsync(IPEndPoint peer)
    {
        var answer = await TransactAsync(StunConst.CreatePermission, (ref StunWriter w) => w.AddXorAddress(StunConst.XorPeerAddress, PeerKey.FromEndPoint(peer)), sign: true);
        Assert.True(StunMessage.TryParse(answer, out var m));
        Assert.Equal(StunClass.Success, m.Class);
    }

    private delegate void Attributes(ref StunWriter w);

    private async Task<byte[]> TransactAsync(int method, Attributes attributes, bool sign)
    {
        var buffer = new byte[512];
        int length = Build(buffer, method, attributes, sign);
        await stream.WriteAsync(buffer.AsMemory(0, length));
        return await ReadFrameAsync(stream);
    }

    private int Build(byte[] buffer, int method, Attributes attributes, bool sign)
    {
        var w = new StunWriter(buffer, method, StunClass.Request, System.Security.Cryptography.RandomNumberGenerator.GetBytes(12));
        attributes(ref w);
        if (sign)
        {
            w.AddString(StunConst.Username, _username);
            w.AddString(StunConst.Realm, _realm);
            w.AddString(StunConst.Nonce, _nonce);
            w.AddMessageIntegrity(_key);
        }
        return w.Length;
    }

    /// <summary>Reads one STUN message (header, then its length) from a stream socket.</summary>
    public static async Task<byte[]> ReadFrameAsync(Socket socket)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        return await ReadFrameAsync(stream);
    }

    /// <summary>Reads one STUN message (header, then its length) from a stream; a closed stream throws (an IOException).</summary>
    public static async Task<byte[]> ReadFrameAsync(Stream stream)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var header = new byte[20];
        await stream.ReadExactlyAsync(header, cts.Token);
        int length = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2));
        var frame = new byte[20 + length];
        header.CopyTo(frame, 0);
        await stream.ReadExactlyAsync(frame.AsMemory(20), cts.Token);
        return frame;
    }
}
