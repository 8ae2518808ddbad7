using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using GhostChat.Turn.Client;
using GhostChat.Turn.Server.Udp;

namespace GhostChat.Turn.Tests;

/// <summary>
/// The batched relay towards a client whose send buffer is full. The client sits behind a slow link
/// (<see cref="CongestedClientNetwork"/>: a network namespace, a veth pair, tc tbf), and the server's UDP socket gets a
/// tiny SO_SNDBUF from outside (setsockopt on its descriptor, found through /proc): a burst from the peer then meets a
/// full buffer, sendmmsg takes part of a batch and answers EAGAIN for the rest. The relay must keep the order of what
/// it sends, drop and count the rest, not spin, and carry on once the link drains. Alone: it reads the relay poller's
/// thread state. The same at the batch itself: a Flush that the kernel takes in part.
/// </summary>
[Collection(nameof(SerialTurnThreads))]
public sealed class UdpSendBufferTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task RelayToClient_SendBufferFull_SentPartKeepsOrderRestCountedAsDroppedNoSpinThenRecovers()
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        const int burst = 256;
        await using var net = await CongestedClientNetwork.CreateAsync();
        await using var server = await TestServer.StartAsync(o =>
        {
            o.ListenAddresses = [net.ServerAddress.ToString()];
            o.AllowedPeers = ["127.0.0.1/32"];
            o.UdpReceiveLoops = 1;
            o.UdpBatchSize = 32;
        });
        Assert.True(server.Server.RelayBatched);
        await using var client = net.Inside(() => TurnClient.ConnectUdp(server.Udp));
        var credential = server.Credential();
        await client.AllocateAsync(credential.Username, credential.Password);
        using var peer = new UdpPeer();
        await client.ChannelBindAsync(0x4001, peer.EndPoint);
        client.SendChannel(0x4001, "knock"u8);
        var (_, relay) = await peer.ReceiveAsync(Generous);

        // The server's socket towards clients gets the smallest send buffer the kernel allows (about 4.5 KB: a few
        // datagrams of 1,000 bytes wait in the slow link's queue before the next send is refused).
        ShrinkSendBuffer(server.Udp);
        long relayedBefore = server.Server.RelayedPackets;
        long droppedBefore = server.Server.DroppedPackets;
        var payload = new byte[1000];
        for (int i = 0; i < burst; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(payload, i);
            peer.Socket.SendTo(payload, relay);
        }

        // Every datagram of the burst is either sent or counted as dropped (the relay socket's 1 MiB receive buffer
        // holds the whole burst: none is lost before the server reads it).
        await Wait.UntilAsync(
            () => server.Server.RelayedPackets - relayedBefore + (server.Server.DroppedPackets - droppedBefore) == burst,
            "the burst to be relayed or counted as dropped");
        long relayed = server.Server.RelayedPackets - relayedBefore;
        long dropped = server.Server.DroppedPackets - droppedBefore;
        Assert.InRange(relayed, 1, burst - 1);
        Assert.InRange(dropped, 1, burst - 1);

        // What was sent arrives, each once, in the order the peer sent it.
        var numbers = new List<int>();
        for (int i = 0; i < relayed; i++)
        {
            var data = await client.ReceiveAsync().AsTask().WaitAsync(Generous);
            Assert.True(data.ViaChannel);
            numbers.Add(BinaryPrimitives.ReadInt32BigEndian(data.Data));
        }
        Assert.Equal(numbers.Order(), numbers);
        Assert.Equal(numbers.Count, numbers.Distinct().Count());

        // No spinning on the full buffer: the poller thread goes back to sleep in epoll_wait.
        await Wait.UntilAsync(() => ThreadState("turn-relay-poll") == 'S', "the relay poller to sleep");

        // The link drained: the relay carries on.
        BinaryPrimitives.WriteInt32BigEndian(payload, burst);
        await peer.Socket.SendToAsync(payload, relay);
        var after = await client.ReceiveAsync().AsTask().WaitAsync(Generous);
        Assert.Equal(burst, BinaryPrimitives.ReadInt32BigEndian(after.Data));
        Assert.Equal(0, server.Server.HandlerFaults);
    }

    /// <summary>
    /// The other direction: the peer sits behind the slow link and the relay socket's send buffer is full. A send
    /// towards the peer never waits (the thread that sends it reads every client's datagrams): what the kernel refuses
    /// is dropped and counted, what it takes arrives in order, another client's relay carries on meanwhile, and the
    /// congested one carries on once the link drains.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task RelayToPeer_SendBufferFull_RestDroppedAndCountedOtherClientsServedThenRecovers(bool batched)
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        const int burst = 256;
        await using var net = await CongestedClientNetwork.CreateAsync();
        await using var server = await TestServer.StartAsync(o =>
        {
            o.ListenAddresses = [net.ServerAddress.ToString()];
            o.AllowedPeers = [net.ClientAddress + "/32", "127.0.0.1/32"];
            o.UdpReceiveLoops = 1;
            o.UdpBatchedIo = batched;
        });
        Assert.Equal(batched, server.Server.RelayBatched);
        using var peer = ReceiverBehindTheLink(net);
        await using var client = server.Client();
        var credential = server.Credential();
        var allocation = await client.AllocateAsync(credential.Username, credential.Password);
        await client.ChannelBindAsync(0x4001, (IPEndPoint)peer.LocalEndPoint!);
        client.SendChannel(0x4001, "knock"u8);
        var buffer = new byte[2048];
        Assert.Equal(5, await Task.Run(() => peer.Receive(buffer)));

        // Another client, its peer on loopback: not behind the slow link.
        await using var other = await server.AllocatedClientAsync("bob");
        using var otherPeer = new UdpPeer();
        await other.ChannelBindAsync(0x4001, otherPeer.EndPoint);

        // The relay socket gets the smallest send buffer the kernel allows: a few datagrams of 1,000 bytes wait in
        // the slow link's queue, the next send is refused.
        ShrinkSendBuffer(allocation.Relayed);
        long relayedBefore = server.Server.RelayedPackets;
        long droppedBefore = server.Server.DroppedPackets;
        var payload = new byte[1000];
        for (int i = 0; i < burst; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(payload, i);
            client.SendChannel(0x4001, payload);
        }
        await Wait.UntilAsync(
            () => server.Server.RelayedPackets - relayedBefore + (server.Server.DroppedPackets - droppedBefore) == burst,
            "the burst to be relayed or counted as dropped");
        long relayed = server.Server.RelayedPackets - relayedBefore;
        long dropped = server.Server.DroppedPackets - droppedBefore;
        Assert.InRange(relayed, 1, burst - 1);
        Assert.InRange(dropped, 1, burst - 1);

        // The other client is served (the listening socket is read on).
        other.SendChannel(0x4001, "still here"u8);
        var (data, _) = await otherPeer.ReceiveAsync(Generous);
        Assert.Equal("still here"u8.ToArray(), data);

        // What was sent arrives, each once, in the order the client sent it.
        var numbers = new List<int>();
        for (int i = 0; i < relayed; i++)
        {
            Assert.Equal(1000, await Task.Run(() => peer.Receive(buffer)));
            numbers.Add(BinaryPrimitives.ReadInt32BigEndian(buffer));
        }
        Assert.Equal(numbers.Order(), numbers);
        Assert.Equal(numbers.Count, numbers.Distinct().Count());
        if (batched)
        {
            await Wait.UntilAsync(() => ThreadState("turn-relay-poll") == 'S', "the relay poller to sleep");
        }

        // The link drained: the relay carries on.
        BinaryPrimitives.WriteInt32BigEndian(payload, burst);
        client.SendChannel(0x4001, payload);
        Assert.Equal(1000, await Task.Run(() => peer.Receive(buffer)));
        Assert.Equal(burst, BinaryPrimitives.ReadInt32BigEndian(buffer));
        Assert.Equal(0, server.Server.HandlerFaults);
    }

    [Fact]
    public async Task Flush_SendBufferFillsMidBatch_ReturnsWhatWentInOrderQueueEmptyNextFlushSends()
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        await using var net = await CongestedClientNetwork.CreateAsync();
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { SendBufferSize = 1 };
        sender.Bind(new IPEndPoint(net.ServerAddress, 0));
        using var receiver = ReceiverBehindTheLink(net);
        var to = ((IPEndPoint)receiver.LocalEndPoint!).Serialize();
        using var batch = new UdpBatch(16, 16, 1500);
        for (int i = 0; i < batch.Count; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(batch.Slot(i)[16..], i);
            batch.Queue(i, 16, 1000);
        }

        // One sendmmsg takes the first datagrams, the next call meets EAGAIN: Flush returns, it does not wait or spin.
        int sent = batch.Flush(sender.SafeHandle, to);
        Assert.InRange(sent, 1, batch.Count - 1);
        Assert.Equal(0, batch.Queued);
        var buffer = new byte[1500];
        for (int i = 0; i < sent; i++)
        {
            Assert.Equal(1000, receiver.Receive(buffer));
            Assert.Equal(i, BinaryPrimitives.ReadInt32BigEndian(buffer));
        }

        // The link drained: the same batch sends again.
        BinaryPrimitives.WriteInt32BigEndian(batch.Slot(0)[16..], 99);
        batch.Queue(0, 16, 1000);
        Assert.Equal(1, batch.Flush(sender.SafeHandle, to));
        Assert.Equal(1000, receiver.Receive(buffer));
        Assert.Equal(99, BinaryPrimitives.ReadInt32BigEndian(buffer));
    }

    /// <summary>
    /// The queue towards peers (<see cref="PeerSendQueue"/>) when one relay socket's send buffer fills mid-queue: sendmmsg
    /// takes the first of its datagrams, the next call meets EAGAIN; what went arrives in order, the rest is dropped and
    /// counted, Flush returns without waiting, and another relay socket's datagrams interleaved in the same queue all go.
    /// </summary>
    [Fact]
    public async Task PeerQueueFlush_OneSocketsSendBufferFillsMidQueue_PartSentInOrderRestCountedOtherSocketUnaffected()
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        await using var net = await CongestedClientNetwork.CreateAsync();
        using var congested = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { SendBufferSize = 1 };
        congested.Bind(new IPEndPoint(net.ServerAddress, 0));
        using var slowPeer = ReceiverBehindTheLink(net);
        using var fast = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        fast.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var fastPeer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 30_000 };
        fastPeer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var metrics = new GhostChat.Turn.Server.TurnMetrics(null, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        // One datagram a message: the kernel takes a part of the socket's messages (a segmented message goes whole or not).
        using var queue = new PeerSendQueue(32, 1500, metrics) { Segmentation = false };
        var slow = ((IPEndPoint)slowPeer.LocalEndPoint!).Serialize();
        var quick = ((IPEndPoint)fastPeer.LocalEndPoint!).Serialize();
        var payload = new byte[1000];
        for (int i = 0; i < 16; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(payload, i);
            Assert.True(queue.TryQueue(congested, payload, slow));
            Assert.True(queue.TryQueue(fast, payload, quick));
        }

        int sent = queue.Flush();
        int slowSent = sent - 16;
        Assert.InRange(slowSent, 1, 15);
        Assert.Equal(0, queue.Queued);
        Assert.Equal(sent, metrics.RelayedPackets);
        Assert.Equal(16 - slowSent, metrics.DroppedPackets);
        var buffer = new byte[1500];
        for (int i = 0; i < 16; i++)
        {
            Assert.Equal(1000, fastPeer.Receive(buffer));
            Assert.Equal(i, BinaryPrimitives.ReadInt32BigEndian(buffer));
        }
        for (int i = 0; i < slowSent; i++)
        {
            Assert.Equal(1000, slowPeer.Receive(buffer));
            Assert.Equal(i, BinaryPrimitives.ReadInt32BigEndian(buffer));
        }

        // The link drained: the same queue sends on that socket again.
        BinaryPrimitives.WriteInt32BigEndian(payload, 99);
        Assert.True(queue.TryQueue(congested, payload, slow));
        Assert.Equal(1, queue.Flush());
        Assert.Equal(1000, slowPeer.Receive(buffer));
        Assert.Equal(99, BinaryPrimitives.ReadInt32BigEndian(buffer));
    }

    /// <summary>
    /// A segmented (GSO) message whose datagrams are larger than the path's MTU (the veth's 1,500 bytes): the kernel
    /// refuses it (EINVAL); the batch turns segmentation off and sends each datagram alone (IP fragments them), so
    /// every one arrives, in order.
    /// </summary>
    [Fact]
    public async Task Flush_SegmentsLargerThanThePathMtu_KernelRefusesGsoEachSentAloneAllArrive()
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        await using var net = await CongestedClientNetwork.CreateAsync();
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.Bind(new IPEndPoint(net.ServerAddress, 0));
        using var receiver = ReceiverBehindTheLink(net);
        var to = ((IPEndPoint)receiver.LocalEndPoint!).Serialize();
        using var batch = new UdpBatch(3, 0, 2000) { Segmentation = true };
        for (int i = 0; i < 3; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(batch.Slot(i), i);
            batch.Queue(i, 0, 2000);
        }
        Assert.Equal(3, batch.Flush(sender.SafeHandle, to));
        Assert.False(batch.Segmentation);
        var buffer = new byte[4096];
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(2000, receiver.Receive(buffer));
            Assert.Equal(i, BinaryPrimitives.ReadInt32BigEndian(buffer));
        }
    }

    /// <summary>A UDP socket inside the client namespace, behind the slow link (1 MiB receive buffer, 30 s receive timeout).</summary>
    private static Socket ReceiverBehindTheLink(CongestedClientNetwork net) => net.Inside(() =>
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 30_000, ReceiveBufferSize = 1 << 20 };
        socket.Bind(new IPEndPoint(net.ClientAddress, 0));
        return socket;
    });

    /// <summary>Sets SO_SNDBUF to its minimum on this process's UDP sockets bound to <paramref name="bound"/>.</summary>
    private static void ShrinkSendBuffer(IPEndPoint bound)
    {
        var inodes = SocketInodes(bound);
        Assert.NotEmpty(inodes);
        int shrunk = 0;
        foreach (var fd in Directory.GetFiles("/proc/self/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(fd).LinkTarget;
            }
            catch (IOException)
            {
                continue;
            }
            if (target is null || !inodes.Contains(target))
            {
                continue;
            }
            int number = int.Parse(Path.GetFileName(fd), CultureInfo.InvariantCulture);
            // A Socket over the descriptor that does not own it: disposing it leaves the server's socket open.
            using var socket = new Socket(new SafeSocketHandle(number, ownsHandle: false));
            socket.SendBufferSize = 1;
            shrunk++;
        }
        Assert.Equal(inodes.Count, shrunk);
    }

    /// <summary>"socket:[inode]" of each UDP socket bound to <paramref name="bound"/> (IPv4), from /proc/self/net/udp.</summary>
    private static HashSet<string> SocketInodes(IPEndPoint bound)
    {
        var raw = bound.Address.GetAddressBytes();
        string local = string.Create(CultureInfo.InvariantCulture, $"{raw[3]:X2}{raw[2]:X2}{raw[1]:X2}{raw[0]:X2}:{bound.Port:X4}");
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines("/proc/self/net/udp").Skip(1))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 9 && fields[1] == local)
            {
                inodes.Add("socket:[" + fields[9] + "]");
            }
        }
        return inodes;
    }

    /// <summary>The scheduler state (R, S, D, …) of this process's thread named <paramref name="name"/>; '?' when none.</summary>
    private static char ThreadState(string name)
    {
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).Trim() == name)
                {
                    string stat = File.ReadAllText(Path.Combine(task, "stat"));
                    return stat[stat.LastIndexOf(')') + 2];
                }
            }
            catch (IOException)
            {
                // The thread ended while we looked.
            }
        }
        return '?';
    }
}
