using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using GhostChat.Turn.Server;
using GhostChat.Turn.Server.Udp;
using Microsoft.Extensions.Logging.Abstractions;

namespace GhostChat.Turn.Tests;

/// <summary>
/// The relay poller's queue of datagrams towards peers (client → peer direction), on real loopback sockets (Linux
/// only: elsewhere the portable path serves): one sendmmsg per relay socket, GSO for runs to one peer, what is refused
/// dropped and counted, nothing else affected. Sends that meet a full buffer: <see cref="UdpSendBufferTests"/>.
/// </summary>
public sealed class PeerSendQueueTests : IDisposable
{
    private const int QueueCount = 8;

    private readonly TurnMetrics _metrics = new(null, NullLogger.Instance);

    public void Dispose() => _metrics.Dispose();

    /// <summary>
    /// Two relay sockets, three peers, sizes that differ and runs of equal ones, interleaved in one queue: each peer
    /// gets what was queued for it, from the right relay socket, in queue order, each datagram with its own length.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Flush_SeveralRelaySocketsPeersAndSizes_EachPeerGetsItsOwnInOrderFromItsRelay(bool segmentation)
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        using var relayA = Bound();
        using var relayB = Bound();
        using var peer1 = Bound();
        using var peer2 = Bound();
        using var peer3 = Bound();
        (Socket Relay, Socket Peer, int Length)[] plan =
        [
            (relayA, peer1, 100), (relayB, peer2, 100), (relayA, peer1, 100), (relayA, peer3, 100), (relayA, peer1, 100),
            (relayB, peer2, 100), (relayA, peer1, 40), (relayB, peer2, 300), (relayA, peer1, 100), (relayB, peer1, 100),
            (relayA, peer1, 100), (relayA, peer1, 100), (relayA, peer3, 7), (relayB, peer2, 100), (relayA, peer1, 0),
        ];
        using var queue = new PeerSendQueue(plan.Length, 1500, _metrics) { Segmentation = segmentation };
        for (int i = 0; i < plan.Length; i++)
        {
            Assert.True(queue.TryQueue(plan[i].Relay, Numbered(i, plan[i].Length), Address(plan[i].Peer)));
        }
        Assert.Equal(plan.Length, queue.Queued);

        Assert.Equal(plan.Length, queue.Flush());
        Assert.Equal(0, queue.Queued);
        Assert.Equal(segmentation, queue.Segmentation);
        Assert.Equal(plan.Length, _metrics.RelayedPackets);
        Assert.Equal(0, _metrics.DroppedPackets);
        // Order holds per relay socket and peer (one relay socket's datagrams go in one call, in queue order).
        var buffer = new byte[2048];
        foreach (var peer in new[] { peer1, peer2, peer3 })
        {
            peer.ReceiveTimeout = 20_000;
            var expected = Enumerable.Range(0, plan.Length).Where(i => plan[i].Peer == peer).ToList();
            var received = new List<(EndPoint From, int Length, int Number)>();
            foreach (int _ in expected)
            {
                EndPoint from = new IPEndPoint(IPAddress.Any, 0);
                int n = peer.ReceiveFrom(buffer, ref from);
                received.Add((from, n, n >= 4 ? BinaryPrimitives.ReadInt32BigEndian(buffer) : -1));
            }
            Assert.Equal(0, peer.Available);
            foreach (var relay in new[] { relayA, relayB })
            {
                Assert.Equal(
                    expected.Where(i => plan[i].Relay == relay).Select(i => (plan[i].Length, plan[i].Length >= 4 ? i : -1)),
                    received.Where(r => r.From.Equals(relay.LocalEndPoint)).Select(r => (r.Length, r.Number)));
            }
        }
    }

    /// <summary>A queue of one, exactly a full queue, and one more than it holds (a full queue flushes itself first).</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(QueueCount)]
    [InlineData(QueueCount + 1)]
    [InlineData((3 * QueueCount) + 2)]
    public void TryQueue_OneFullAndBeyondTheQueue_EveryDatagramArrivesOnceInOrder(int datagrams)
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        using var relay = Bound();
        using var peer = Bound();
        using var queue = new PeerSendQueue(QueueCount, 1500, _metrics);
        int flushed = 0;
        for (int i = 0; i < datagrams; i++)
        {
            Assert.True(queue.TryQueue(relay, Numbered(i, 1000), Address(peer)));
            Assert.InRange(queue.Queued, 1, QueueCount);
        }
        flushed += queue.Flush();
        Assert.Equal(datagrams % QueueCount == 0 ? QueueCount : datagrams % QueueCount, flushed);
        Assert.Equal(datagrams, _metrics.RelayedPackets);
        AssertReceives(peer, Enumerable.Range(0, datagrams).Select(i => (relay.LocalEndPoint!, 1000, i)));
        // Nothing queued: nothing sent.
        Assert.Equal(0, queue.Flush());
    }

    /// <summary>GSO limits: at most 64 datagrams and 65,000 bytes a message; a run over either is split, nothing lost.</summary>
    [Theory]
    [InlineData(70, 100)]
    [InlineData(70, 1100)]
    public void Flush_RunToOnePeerBeyondTheKernelsLimits_SplitEveryDatagramArrives(int count, int length)
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        using var relay = Bound();
        relay.SendBufferSize = 4 << 20;
        using var peer = Bound();
        peer.ReceiveBufferSize = 4 << 20;
        using var queue = new PeerSendQueue(count, 1500, _metrics);
        for (int i = 0; i < count; i++)
        {
            Assert.True(queue.TryQueue(relay, Numbered(i, length), Address(peer)));
        }
        Assert.Equal(count, queue.Flush());
        Assert.True(queue.Segmentation, "the kernel took the segmented messages");
        AssertReceives(peer, Enumerable.Range(0, count).Select(i => (relay.LocalEndPoint!, length, i)));
    }

    /// <summary>
    /// A relay socket closed while its datagrams wait (its allocation ended during the batch): they are dropped and
    /// counted, nothing is thrown, another socket's datagrams in the same queue still go, and the queue works on.
    /// </summary>
    [Fact]
    public void Flush_ARelaySocketClosedMeanwhile_ItsDatagramsCountedAsDroppedTheOthersSent()
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        var closing = Bound();
        using var open = Bound();
        using var peer = Bound();
        using var queue = new PeerSendQueue(QueueCount, 1500, _metrics);
        Assert.True(queue.TryQueue(closing, Numbered(0, 10), Address(peer)));
        Assert.True(queue.TryQueue(open, Numbered(1, 10), Address(peer)));
        Assert.True(queue.TryQueue(closing, Numbered(2, 10), Address(peer)));
        closing.Dispose();

        Assert.Equal(1, queue.Flush());
        Assert.Equal(1, _metrics.RelayedPackets);
        Assert.Equal(2, _metrics.DroppedPackets);
        AssertReceives(peer, [(open.LocalEndPoint!, 10, 1)]);

        Assert.True(queue.TryQueue(open, Numbered(3, 10), Address(peer)));
        Assert.Equal(1, queue.Flush());
        AssertReceives(peer, [(open.LocalEndPoint!, 10, 3)]);
    }

    /// <summary>
    /// Input the queue cannot send: a payload longer than a slot or an address that is no socket address is refused
    /// (nothing queued; the caller sends it another way); a destination the kernel refuses (IPv6 from an IPv4 socket)
    /// costs only its own socket's datagrams, counted as dropped — another socket's still go.
    /// </summary>
    [Fact]
    public void TryQueueAndFlush_MalformedInput_RefusedOrDroppedAndCountedNothingElseAffected()
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        using var relay = Bound();
        using var other = Bound();
        using var peer = Bound();
        using var queue = new PeerSendQueue(QueueCount, 100, _metrics);

        Assert.False(queue.TryQueue(relay, new byte[101], Address(peer)));
        Assert.False(queue.TryQueue(relay, new byte[10], new SocketAddress(AddressFamily.InterNetwork, 8)));
        Assert.False(queue.TryQueue(relay, new byte[10], new SocketAddress(AddressFamily.InterNetworkV6, 64)));
        Assert.Equal(0, queue.Queued);

        var v6 = new IPEndPoint(IPAddress.IPv6Loopback, 9).Serialize();
        Assert.True(queue.TryQueue(relay, Numbered(0, 10), v6));
        Assert.True(queue.TryQueue(other, Numbered(1, 100), Address(peer)));
        Assert.True(queue.TryQueue(relay, Numbered(2, 10), v6));
        Assert.Equal(1, queue.Flush());
        Assert.Equal(0, queue.Queued);
        Assert.Equal(1, _metrics.RelayedPackets);
        Assert.Equal(2, _metrics.DroppedPackets);
        AssertReceives(peer, [(other.LocalEndPoint!, 100, 1)]);
    }

    [Fact]
    public void Constructor_OutOfRange_ClearErrorAndDisposedQueueRefusesUse()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PeerSendQueue(0, 100, _metrics));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PeerSendQueue(4, 0, _metrics));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PeerSendQueue(4, 65536, _metrics));
        var queue = new PeerSendQueue(4, 100, _metrics);
        queue.Dispose();
        queue.Dispose();
        using var socket = Bound();
        Assert.Throws<ObjectDisposedException>(() => queue.TryQueue(socket, new byte[4], new IPEndPoint(IPAddress.Loopback, 9).Serialize()));
    }

    /// <summary>Receives one datagram per expected (sender, length, number), in order, then nothing more.</summary>
    private static void AssertReceives(Socket peer, IEnumerable<(EndPoint From, int Length, int Number)> expected)
    {
        peer.ReceiveTimeout = 20_000;
        var buffer = new byte[2048];
        foreach (var (from, length, number) in expected)
        {
            EndPoint sender = new IPEndPoint(IPAddress.Any, 0);
            int n = peer.ReceiveFrom(buffer, ref sender);
            Assert.Equal(from, sender);
            Assert.Equal(length, n);
            if (n >= 4)
            {
                Assert.Equal(number, BinaryPrimitives.ReadInt32BigEndian(buffer));
            }
        }
        Assert.Equal(0, peer.Available);
    }

    private static SocketAddress Address(Socket peer) => ((IPEndPoint)peer.LocalEndPoint!).Serialize();

    private static Socket Bound()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    private static byte[] Numbered(int number, int length)
    {
        var bytes = new byte[length];
        if (length >= 4)
        {
            BinaryPrimitives.WriteInt32BigEndian(bytes, number);
        }
        return bytes;
    }
}
