using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using GhostChat.Turn.Client;
using GhostChat.Turn.Server.Udp;

namespace GhostChat.Turn.Tests;

/// <summary>
/// The UDP relay path end to end, batched (recvmmsg/sendmmsg, the relay poller) and portable
/// (<c>UdpBatchedIo = false</c>): more datagrams than a batch both ways, malformed input at the receive layer.
/// </summary>
public sealed class UdpHotPathTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(20);

    /// <summary>With a batch of 4: exactly one batch, one datagram more, two full batches and a part.</summary>
    [Theory]
    [InlineData(true, 4)]
    [InlineData(true, 5)]
    [InlineData(true, 11)]
    [InlineData(false, 4)]
    [InlineData(false, 11)]
    public async Task Relay_ABatchOneMoreAndSeveral_EveryOneArrivesBothWays(bool batched, int count)
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.AllowedPeers = ["127.0.0.1/32"];
            o.UdpBatchedIo = batched;
            o.UdpBatchSize = 4;
        });
        await using var client = await server.AllocatedClientAsync();
        using var peer = new UdpPeer();
        await client.ChannelBindAsync(0x4001, peer.EndPoint);
        for (int i = 0; i < count; i++)
        {
            client.SendChannel(0x4001, Encoding.UTF8.GetBytes("to peer " + i));
        }
        // Each once and in order (one client socket, one relay socket: nothing on the way may reorder them).
        var atPeer = new List<string>();
        IPEndPoint relay = null!;
        while (atPeer.Count < count)
        {
            var (data, from) = await peer.ReceiveAsync(Generous);
            atPeer.Add(Encoding.UTF8.GetString(data));
            relay = from;
        }
        Assert.Equal(Enumerable.Range(0, count).Select(i => "to peer " + i), atPeer);

        // Back as a burst: the relay side reads them in batches and sends each batch with one call.
        for (int i = 0; i < count; i++)
        {
            await peer.Socket.SendToAsync(Encoding.UTF8.GetBytes("to client " + i), relay);
        }
        var atClient = new List<string>();
        while (atClient.Count < count)
        {
            var back = await client.ReceiveAsync().AsTask().WaitAsync(Generous);
            Assert.True(back.ViaChannel);
            Assert.Equal(peer.EndPoint, back.Peer);
            atClient.Add(Encoding.UTF8.GetString(back.Data));
        }
        Assert.Equal(Enumerable.Range(0, count).Select(i => "to client " + i), atClient);
        Assert.Equal(0, server.Server.HandlerFaults);
    }

    /// <summary>
    /// Client → peer, several allocations in one receive batch (batched: their ChannelData is queued and sent with one
    /// sendmmsg per relay socket after the batch): two clients, one with two channels to two peers, the other with one
    /// to the first peer, bursts interleaved, sizes that differ, a Send indication in the middle of one client's
    /// channel data. Each peer gets each datagram once, from the right relay, and each client's datagrams to one peer
    /// in the order it sent them.
    /// </summary>
    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task Relay_ManyAllocationsAndPeersInOneBatch_EachPeerGetsEachInOrderFromItsRelay(bool batched, bool batchedPeerSends)
    {
        const int count = 40;
        await using var server = await TestServer.StartAsync(o =>
        {
            o.AllowedPeers = ["127.0.0.1/32"];
            o.UdpBatchedIo = batched;
            o.UdpBatchSize = 16;
            o.UdpBatchedPeerSends = batchedPeerSends;
        });
        await using var alice = await server.AllocatedClientAsync("alice");
        await using var bob = await server.AllocatedClientAsync("bob");
        using var peer1 = new UdpPeer();
        using var peer2 = new UdpPeer();
        await alice.ChannelBindAsync(0x4001, peer1.EndPoint);
        await alice.ChannelBindAsync(0x4002, peer2.EndPoint);
        await bob.ChannelBindAsync(0x4001, peer1.EndPoint);
        alice.SendChannel(0x4001, "knock"u8);
        var (_, aliceRelay) = await peer1.ReceiveAsync(Generous);
        bob.SendChannel(0x4001, "knock"u8);
        var (_, bobRelay) = await peer1.ReceiveAsync(Generous);
        Assert.NotEqual(aliceRelay, bobRelay);

        static byte[] Message(string who, int i) => Encoding.UTF8.GetBytes(who + " " + i + new string('.', i % 5 == 0 ? 7 : 200));
        for (int i = 0; i < count; i++)
        {
            alice.SendChannel(0x4001, Message("alice-1", i));
            bob.SendChannel(0x4001, Message("bob-1", i));
            if (i == count / 2)
            {
                alice.Send(peer2.EndPoint, Message("alice-2", i));
            }
            else
            {
                alice.SendChannel(0x4002, Message("alice-2", i));
            }
        }
        var atPeer1 = new Dictionary<IPEndPoint, List<string>> { [aliceRelay] = [], [bobRelay] = [] };
        for (int n = 0; n < 2 * count; n++)
        {
            var (data, from) = await peer1.ReceiveAsync(Generous);
            atPeer1[from].Add(Encoding.UTF8.GetString(data));
        }
        var atPeer2 = new List<string>();
        while (atPeer2.Count < count)
        {
            var (data, from) = await peer2.ReceiveAsync(Generous);
            Assert.Equal(aliceRelay, from);
            atPeer2.Add(Encoding.UTF8.GetString(data));
        }
        Assert.Equal(Enumerable.Range(0, count).Select(i => Encoding.UTF8.GetString(Message("alice-1", i))), atPeer1[aliceRelay]);
        Assert.Equal(Enumerable.Range(0, count).Select(i => Encoding.UTF8.GetString(Message("bob-1", i))), atPeer1[bobRelay]);
        Assert.Equal(Enumerable.Range(0, count).Select(i => Encoding.UTF8.GetString(Message("alice-2", i))), atPeer2);
        Assert.Equal(0, server.Server.HandlerFaults);
    }

    /// <summary>
    /// Both directions at once on the one poller thread (batched) or the portable loops: a burst from the client and
    /// one from the peer waiting together, each longer than the poller takes from one socket per wake-up (4 batches of
    /// 4), mixed sizes (so GSO runs end early). Each arrives once, in order, with its own bytes.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Relay_BurstsBothWaysAtOnce_EveryOneArrivesInOrderBothWays(bool batched)
    {
        const int count = 37;
        await using var server = await TestServer.StartAsync(o =>
        {
            o.AllowedPeers = ["127.0.0.1/32"];
            o.UdpBatchedIo = batched;
            o.UdpBatchSize = 4;
        });
        await using var client = await server.AllocatedClientAsync();
        using var peer = new UdpPeer();
        await client.ChannelBindAsync(0x4001, peer.EndPoint);
        client.SendChannel(0x4001, "knock"u8);
        var (_, relay) = await peer.ReceiveAsync(Generous);

        static byte[] Message(string direction, int i) => Encoding.UTF8.GetBytes(direction + " " + i + new string('.', i % 3 == 0 ? 100 : 10));
        for (int i = 0; i < count; i++)
        {
            client.SendChannel(0x4001, Message("to peer", i));
            peer.Socket.SendTo(Message("to client", i), relay);
        }
        var atPeer = new List<string>();
        while (atPeer.Count < count)
        {
            var (data, _) = await peer.ReceiveAsync(Generous);
            atPeer.Add(Encoding.UTF8.GetString(data));
        }
        var atClient = new List<string>();
        while (atClient.Count < count)
        {
            var back = await client.ReceiveAsync().AsTask().WaitAsync(Generous);
            atClient.Add(Encoding.UTF8.GetString(back.Data));
        }
        Assert.Equal(Enumerable.Range(0, count).Select(i => Encoding.UTF8.GetString(Message("to peer", i))), atPeer);
        Assert.Equal(Enumerable.Range(0, count).Select(i => Encoding.UTF8.GetString(Message("to client", i))), atClient);
        Assert.Equal(0, server.Server.HandlerFaults);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Relay_DataIndicationWithoutChannel_ReachesTheClient(bool batched)
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.AllowedPeers = ["127.0.0.1/32"];
            o.UdpBatchedIo = batched;
        });
        await using var client = await server.AllocatedClientAsync();
        using var peer = new UdpPeer();
        await client.CreatePermissionAsync(peer.EndPoint);
        client.Send(peer.EndPoint, "knock"u8);
        var (_, relay) = await peer.ReceiveAsync(Generous);
        // Odd lengths: the DATA attribute is padded, the frame must still end where the payload does.
        foreach (int length in new[] { 1, 3, 1000 })
        {
            var payload = Enumerable.Range(0, length).Select(i => (byte)i).ToArray();
            await peer.Socket.SendToAsync(payload, relay);
            var back = await client.ReceiveAsync().AsTask().WaitAsync(Generous);
            Assert.False(back.ViaChannel);
            Assert.Equal(payload, back.Data);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task MalformedDatagrams_AtTheListenerAndTheRelay_DroppedAndTheNextRelayed(bool batched)
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.AllowedPeers = ["127.0.0.0/8"];
            o.UdpBatchedIo = batched;
            o.UdpBatchSize = 4;
        });
        await using var client = await server.AllocatedClientAsync();
        using var peer = new UdpPeer();
        await client.ChannelBindAsync(0x4001, peer.EndPoint);
        long droppedBefore = server.Server.DroppedPackets;

        // At the listener, from the client's own address (one burst, so they share batches): non-STUN garbage, a
        // truncated ChannelData header, ChannelData claiming more than it carries, an oversize datagram, an empty one.
        var oversize = new byte[server.Options.MaxPayloadSize + 1000];
        oversize[0] = 0x40;
        oversize[1] = 0x01;
        BinaryPrimitives.WriteUInt16BigEndian(oversize.AsSpan(2), 1000);
        client.SendRaw("GET / HTTP/1.1\r\n\r\n"u8);
        client.SendRaw([0x40, 0x01, 0x00]);
        client.SendRaw([0x40, 0x01, 0x00, 0x50, 1, 2, 3]);
        client.SendRaw(oversize);
        client.SendRaw([]);
        // ChannelData on a channel never bound, and one whose length says less than the datagram carries: only the
        // announced bytes go to the peer (the rest is padding to a UDP relay, RFC 8656 §12.5).
        client.SendRaw([0x40, 0x02, 0x00, 0x02, 1, 2]);
        client.SendRaw([0x40, 0x01, 0x00, 0x03, (byte)'a', (byte)'b', (byte)'c', 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        client.SendChannel(0x4001, "after the garbage"u8);
        var (data, relay) = await peer.ReceiveAsync(Generous);
        Assert.Equal("abc", Encoding.UTF8.GetString(data));
        (data, _) = await peer.ReceiveAsync(Generous);
        Assert.Equal("after the garbage", Encoding.UTF8.GetString(data));

        // At the relay: an oversize datagram from the permitted peer, and data from an address without permission.
        using var stranger = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        stranger.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
        await stranger.SendToAsync("not permitted"u8.ToArray(), relay);
        await peer.Socket.SendToAsync(new byte[server.Options.MaxPayloadSize + 500], relay);
        await peer.Socket.SendToAsync("after the oversize"u8.ToArray(), relay);
        var back = await client.ReceiveAsync().AsTask().WaitAsync(Generous);
        Assert.Equal("after the oversize", Encoding.UTF8.GetString(back.Data));

        Assert.Equal(0, server.Server.HandlerFaults);
        // Every bad datagram was counted as dropped (the empty one is not STUN either).
        await Wait.UntilAsync(() => server.Server.DroppedPackets - droppedBefore >= 7, "the drops to be counted");
        Assert.Equal(1, server.Server.AllocationCount);
    }

    /// <summary>
    /// GRO at the relay socket: a peer sends bursts with GSO (64 datagrams of 1,000 bytes, 20 of 500 and a shorter
    /// last one); with a batch of 4 the poller hands a coalesced message out over many receives. The client, over UDP
    /// or TCP, gets every datagram once, in order, with its bytes; with GRO off the same bursts arrive one by one.
    /// </summary>
    [Theory]
    [InlineData(true, TurnTransport.Udp)]
    [InlineData(true, TurnTransport.Tcp)]
    [InlineData(false, TurnTransport.Udp)]
    public async Task Relay_PeerBurstsSentWithGso_EveryDatagramReachesTheClientInOrder(bool gro, TurnTransport transport)
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        await using var server = await TestServer.StartAsync(o =>
        {
            o.AllowedPeers = ["127.0.0.1/32"];
            o.UdpBatchSize = 4;
            o.UdpGro = gro;
        });
        Assert.True(server.Server.RelayBatched);
        await using var client = transport == TurnTransport.Udp ? server.Client() : await TurnClient.ConnectTcpAsync(server.Tcp);
        var credential = server.Credential();
        await client.AllocateAsync(credential.Username, credential.Password);
        using var peer = new UdpPeer();
        await client.ChannelBindAsync(0x4001, peer.EndPoint);
        client.SendChannel(0x4001, [1]);
        var (_, relay) = await peer.ReceiveAsync(Generous);

        int[] lengths = [.. Enumerable.Repeat(1000, 64), .. Enumerable.Repeat(500, 20), 120];
        UdpBatchTests.SendNumberedWithGso(peer.Socket, relay, lengths);
        for (int i = 0; i < lengths.Length; i++)
        {
            var back = await client.ReceiveAsync().AsTask().WaitAsync(Generous);
            Assert.True(back.ViaChannel);
            Assert.Equal(peer.EndPoint, back.Peer);
            Assert.Equal(i, BinaryPrimitives.ReadInt32BigEndian(back.Data));
            Assert.Equal(lengths[i], back.Data.Length);
            Assert.True(back.Data.AsSpan(4).IndexOfAnyExcept((byte)i) < 0, "the bytes of datagram " + i);
        }
        if (gro)
        {
            Assert.True(server.Server.CoalescedPackets >= 2, "coalesced " + server.Server.CoalescedPackets);
        }
        else
        {
            Assert.Equal(0, server.Server.CoalescedPackets);
        }
        Assert.Equal(0, server.Server.DroppedPackets);
        Assert.Equal(0, server.Server.HandlerFaults);
    }

    /// <summary>
    /// GRO at the listening socket: 40 Binding requests sent with GSO as one burst (one coalesced message, split over
    /// ten receives of 4) are each answered once; every fifth datagram of the burst is malformed (not STUN) and is
    /// dropped without its neighbours; the Allocate that follows on the same socket still works.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Listener_BindingRequestsSentWithGso_EachAnsweredOnce(bool gro)
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        await using var server = await TestServer.StartAsync(o =>
        {
            o.UdpBatchSize = 4;
            o.UdpGro = gro;
        });
        using var sender = new UdpPeer();
        const int count = 40;
        using (var burst = new UdpBatch(count, 0, 20) { Segmentation = true })
        {
            for (int i = 0; i < count; i++)
            {
                var request = burst.Slot(i)[..20];
                BinaryPrimitives.WriteUInt16BigEndian(request, 0x0001);
                BinaryPrimitives.WriteUInt16BigEndian(request[2..], 0);
                BinaryPrimitives.WriteUInt32BigEndian(request[4..], 0x2112A442);
                request[8..20].Fill((byte)(i + 1));
                if (i % 5 == 4)
                {
                    // Malformed: not STUN (no magic cookie); its first two bits (01) make it look like ChannelData,
                    // but on an unbound channel and with a length longer than the datagram.
                    request.Fill(0x7F);
                }
                burst.Queue(i, 0, 20);
            }
            Assert.Equal(count, burst.Flush(sender.Socket.SafeHandle, server.Udp.Serialize()));
        }
        var expected = Enumerable.Range(0, count).Where(i => i % 5 != 4).Select(i => (byte)(i + 1)).ToHashSet();
        var answered = new HashSet<byte>();
        while (answered.Count < expected.Count)
        {
            var (data, from) = await sender.ReceiveAsync(Generous);
            Assert.Equal(server.Udp.Port, from.Port);
            Assert.Equal(0x0101, BinaryPrimitives.ReadUInt16BigEndian(data));
            Assert.True(answered.Add(data[8]), "answered twice: " + data[8]);
        }
        Assert.Equal(expected, answered);
        await Wait.UntilAsync(() => server.Server.DroppedPackets == count / 5, "the malformed datagrams counted as dropped");
        Assert.Equal(gro, server.Server.CoalescedPackets > 0);
        await using var client = await server.AllocatedClientAsync();
        Assert.Equal(0, server.Server.HandlerFaults);
    }

    [Fact]
    public void Options_BatchSizeOutOfRange_ClearError()
    {
        foreach (int size in new[] { 0, 257, -1 })
        {
            var options = new Server.TurnServerOptions { UdpBatchSize = size };
            Assert.Contains(options.Validate(), e => e.Contains("UdpBatchSize", StringComparison.Ordinal));
        }
        Assert.DoesNotContain(new Server.TurnServerOptions { UdpBatchSize = 256 }.Validate(), e => e.Contains("UdpBatchSize", StringComparison.Ordinal));
    }
}

/// <summary>Shutting down while datagrams pour in, alone (it counts the process's TURN threads).</summary>
[Collection(nameof(SerialTurnThreads))]
public sealed class UdpShutdownTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Dispose_WhileRelayingBothWays_NoFaultNoExceptionNoThreadOrDescriptorLeft(bool batched)
    {
        var descriptorsBefore = OpenDescriptors();
        var server = await TestServer.StartAsync(o =>
        {
            o.AllowedPeers = ["127.0.0.1/32"];
            o.UdpBatchedIo = batched;
        });
        var client = await server.AllocatedClientAsync();
        var peer = new UdpPeer();
        await client.ChannelBindAsync(0x4001, peer.EndPoint);
        client.SendChannel(0x4001, "hello"u8);
        var (_, relay) = await peer.ReceiveAsync(TimeSpan.FromSeconds(20));
        if (batched && LinuxSockets.Supported)
        {
            // Both directions on one thread: the relay poller reads the listening socket too.
            Assert.Equal(["turn-relay-poll"], TurnThreads());
        }
        else
        {
            Assert.Contains(TurnThreads(), t => t.StartsWith("turn-udp", StringComparison.Ordinal));
        }

        using var flood = new CancellationTokenSource();
        var payload = new byte[1000];
        long sentBoth = 0;
        var toPeer = Task.Run(() =>
        {
            while (!flood.IsCancellationRequested)
            {
                try
                {
                    client.SendChannel(0x4001, payload);
                    Interlocked.Increment(ref sentBoth);
                }
                catch (SocketException)
                {
                    // The server is gone: its port answers with ICMP unreachable.
                }
            }
        });
        var toClient = Task.Run(() =>
        {
            while (!flood.IsCancellationRequested)
            {
                try
                {
                    peer.Socket.SendTo(payload, relay);
                    Interlocked.Increment(ref sentBoth);
                }
                catch (SocketException)
                {
                    // The relay port is closed.
                }
            }
        });
        await Wait.UntilAsync(() => server.Server.RelayedPackets > 2000, "traffic through the relay in both directions");

        await server.DisposeAsync();
        long faults = server.Server.HandlerFaults;
        await flood.CancelAsync();
        await Task.WhenAll(toPeer, toClient);
        await client.DisposeAsync();

        peer.Dispose();

        Assert.Equal(0, faults);
        await Wait.UntilAsync(() => TurnThreads().Count == 0, "the TURN threads to end");
        // Every socket, the epoll instance and its eventfd closed: each one open now was open before the server started
        // (compared one by one: a count would hide a leak behind a descriptor something else closed meanwhile).
        var deadline = Environment.TickCount64 + 20_000;
        List<string> left;
        while ((left = [.. OpenDescriptors().Where(d => !(descriptorsBefore.TryGetValue(d.Key, out var target) && target == d.Value)).Select(d => d.Key + " → " + d.Value)]).Count > 0
            && Environment.TickCount64 < deadline)
        {
            await Task.Delay(10);
        }
        Assert.True(left.Count == 0, "descriptors left open: " + string.Join(", ", left));
    }

    /// <summary>
    /// This process's open sockets, epoll instances, eventfds and pipes, and what each refers to (Linux /proc; elsewhere
    /// none). Files are left out: the runtime keeps the assemblies it loads open.
    /// </summary>
    private static Dictionary<string, string> OpenDescriptors()
    {
        var open = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!Directory.Exists("/proc/self/fd"))
        {
            return open;
        }
        foreach (var fd in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                string target = new FileInfo(fd).LinkTarget ?? "";
                if (target.StartsWith("socket:", StringComparison.Ordinal) || target.StartsWith("anon_inode:", StringComparison.Ordinal)
                    || target.StartsWith("pipe:", StringComparison.Ordinal))
                {
                    open[Path.GetFileName(fd)] = target;
                }
            }
            catch (IOException)
            {
                // Closed while we looked (the enumeration's own descriptor, too).
            }
        }
        return open;
    }

    /// <summary>This process's threads named by the TURN server (Linux /proc; elsewhere none are seen).</summary>
    private static List<string> TurnThreads()
    {
        var names = new List<string>();
        if (!Directory.Exists("/proc/self/task"))
        {
            return names;
        }
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                string name = File.ReadAllText(Path.Combine(task, "comm")).Trim();
                if (name.StartsWith("turn-", StringComparison.Ordinal))
                {
                    names.Add(name);
                }
            }
            catch (IOException)
            {
                // The thread ended while we looked.
            }
        }
        return names;
    }
}

[CollectionDefinition(nameof(SerialTurnThreads), DisableParallelization = true)]
public sealed class SerialTurnThreads;
