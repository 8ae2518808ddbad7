using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using GhostChat.Turn.Auth;
using GhostChat.Turn.Server;
using GhostChat.Turn.Stun;

namespace GhostChat.Turn.RelayBench;

/// <summary>Relays <see cref="Burst"/> datagrams each way per invocation; one operation = one relayed packet.</summary>
#pragma warning disable CA1001 // BenchmarkDotNet owns the lifetime: [GlobalCleanup] disposes the server and sockets.
public class RelayPathBenchmark
#pragma warning restore CA1001
{
    private const int Burst = 16;
    private const ushort ChannelNumber = 0x4001;
    private const string Secret = "relay-bench-secret-0123456789";

    private TurnServer _server = null!;
    private Socket _client = null!;
    private Socket _peer = null!;
    private SocketAddress _relay = null!;
    private readonly byte[] _channelFrame = new byte[4 + 1000];
    private readonly byte[] _payload = new byte[1000];
    private readonly byte[] _receive = new byte[2048];

    /// <summary>True: the shipped Linux path (recvmmsg/sendmmsg, the relay poller); false: the portable fallback.</summary>
    [Params(true, false)]
    public bool Batched { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var options = new TurnServerOptions
        {
            ListenAddresses = ["127.0.0.1"],
            UdpPort = 0,
            TcpPort = -1,
            Secrets = [Secret],
            AllowedPeers = ["127.0.0.1/32"],
            AdvertisedAddress = "127.0.0.1",
            RelayMinPort = 52000,
            RelayMaxPort = 52999,
            MaxBytesPerSecondPerAllocation = 0,
            UdpBatchedIo = Batched,
        };
        _server = new TurnServer(options);
        _server.StartAsync().GetAwaiter().GetResult();
        _peer = Bound();
        _client = Bound();
        _client.Connect(_server.UdpEndPoints[0]);
        _client.ReceiveTimeout = _peer.ReceiveTimeout = 10_000;
        var credential = TurnRestCredentials.Create(Secret, "bench", TimeSpan.FromHours(1), DateTimeOffset.UtcNow);
        var relayed = Allocate(credential.Username, credential.Password, (IPEndPoint)_peer.LocalEndPoint!);
        _relay = relayed.Serialize();
        BinaryPrimitives.WriteUInt16BigEndian(_channelFrame, ChannelNumber);
        BinaryPrimitives.WriteUInt16BigEndian(_channelFrame.AsSpan(2), (ushort)_payload.Length);
        // Warm both directions (and learn that the path works) before the diagnoser looks.
        RelayBothWays();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.Dispose();
        _peer.Dispose();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(OperationsPerInvoke = 2 * Burst)]
    public void RelayBothWays()
    {
        for (int i = 0; i < Burst; i++)
        {
            _client.Send(_channelFrame);
        }
        for (int i = 0; i < Burst; i++)
        {
            _peer.Receive(_receive);
        }
        for (int i = 0; i < Burst; i++)
        {
            _peer.SendTo(_payload, SocketFlags.None, _relay);
        }
        for (int i = 0; i < Burst; i++)
        {
            _client.Receive(_receive);
        }
    }

    private static Socket Bound()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp)
        {
            ReceiveBufferSize = 1 << 20,
            SendBufferSize = 1 << 20,
        };
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    /// <summary>Allocate (after the 401 that brings realm and nonce) and ChannelBind, over the raw client socket.</summary>
    private IPEndPoint Allocate(string username, string password, IPEndPoint peer)
    {
        var challenge = Transact(StunConst.Allocate, (ref StunWriter w) => w.AddRequestedTransport(17), null);
        var realm = StunMessage.ReadString(challenge.Packet, challenge.Message.Realm);
        var nonce = StunMessage.ReadString(challenge.Packet, challenge.Message.Nonce);
        var key = StunIntegrity.LongTermKey(username, realm, password);
        var allocated = Transact(StunConst.Allocate, (ref StunWriter w) =>
        {
            w.AddRequestedTransport(17);
            Authenticate(ref w, username, realm, nonce, key);
        }, key);
        if (!StunMessage.TryReadXorAddress(allocated.Packet, allocated.Message.XorRelayedAddress, out var relayed))
        {
            throw new InvalidOperationException("Allocate failed");
        }
        var peerKey = PeerKey.FromEndPoint(peer);
        Transact(StunConst.ChannelBind, (ref StunWriter w) =>
        {
            w.AddChannelNumber(ChannelNumber);
            w.AddXorAddress(StunConst.XorPeerAddress, peerKey);
            Authenticate(ref w, username, realm, nonce, key);
        }, key);
        return new IPEndPoint(relayed.ToIPAddress(), relayed.Port);
    }

    private static void Authenticate(ref StunWriter w, string username, string realm, string nonce, byte[] key)
    {
        w.AddString(StunConst.Username, username);
        w.AddString(StunConst.Realm, realm);
        w.AddString(StunConst.Nonce, nonce);
        w.AddMessageIntegrity(key);
    }

    private delegate void Build(ref StunWriter writer);

    private (byte[] Packet, StunMessage Message) Transact(int method, Build build, byte[]? key)
    {
        var buffer = new byte[1024];
        var w = new StunWriter(buffer, method, StunClass.Request, RandomNumberGenerator.GetBytes(12));
        build(ref w);
        _client.Send(w.Written);
        int n = _client.Receive(_receive);
        var packet = _receive.AsSpan(0, n).ToArray();
        if (!StunMessage.TryParse(packet, out var message))
        {
            throw new InvalidOperationException("not STUN");
        }
        if (key is not null && message.Class != StunClass.Success)
        {
            throw new InvalidOperationException("request refused: " + StunMessage.ReadString(packet, message.ErrorCode));
        }
        return (packet, message);
    }
}
