using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using GhostChat.Turn.Server.Udp;

namespace GhostChat.Turn.Tests;

/// <summary>The recvmmsg/sendmmsg batch on real loopback sockets (Linux only: elsewhere the portable path serves).</summary>
public sealed class UdpBatchTests
{
    private const int BatchCount = 8;

    [Theory]
    [InlineData(1)]
    [InlineData(BatchCount)]
    [InlineData((2 * BatchCount) + 3)]
    public void Receive_OneExactlyAndMoreThanABatch_EveryDatagramOnceInOrderWithItsSource(int datagrams)
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        using var receiver = Bound();
        using var sender = Bound();
        for (int i = 0; i < datagrams; i++)
        {
            sender.SendTo(Numbered(i, 10 + i), receiver.LocalEndPoint!);
        }
        using var batch = new UdpBatch(BatchCount, 16, 1500);
        var seen = new List<int>();
        var from = new SocketAddress(AddressFamily.InterNetwork);
        while (seen.Count < datagrams)
        {
            int n = batch.Receive(receiver.SafeHandle, LinuxSockets.MsgWaitForOne);
            Assert.InRange(n, 1, BatchCount);
            for (int i = 0; i < n; i++)
            {
                Assert.False(batch.Truncated(i));
                var payload = batch.Payload(i);
                int number = BinaryPrimitives.ReadInt32BigEndian(payload);
                Assert.Equal(10 + number, payload.Length);
                Assert.True(batch.TryCopySource(i, from));
                Assert.Equal(sender.LocalEndPoint, new IPEndPoint(IPAddress.Any, 0).Create(from));
                seen.Add(number);
            }
        }
        Assert.Equal(Enumerable.Range(0, datagrams), seen);
        // Nothing more: a non-blocking receive reports EAGAIN, not a datagram.
        Assert.Equal(-LinuxSockets.EAgain, batch.Receive(receiver.SafeHandle, LinuxSockets.MsgDontWait));
    }

    [Fact]
    public void Receive_OversizeDatagramBetweenGoodOnes_MarkedTruncatedNeighboursIntact()
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        using var receiver = Bound();
        using var sender = Bound();
        sender.SendTo(Numbered(0, 50), receiver.LocalEndPoint!);
        sender.SendTo(new byte[300], receiver.LocalEndPoint!);
        sender.SendTo(Numbered(2, 100), receiver.LocalEndPoint!);
        using var batch = new UdpBatch(BatchCount, 0, 100);
        var results = new List<(bool Truncated, int Length)>();
        while (results.Count < 3)
        {
            int n = batch.Receive(receiver.SafeHandle, LinuxSockets.MsgWaitForOne);
            Assert.True(n > 0);
            for (int i = 0; i < n; i++)
            {
                results.Add((batch.Truncated(i), batch.Length(i)));
            }
        }
        Assert.Equal([(false, 50), (true, 100), (false, 100)], results);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(BatchCount)]
    public void Flush_QueuedFrames_ArriveInOrderAndTheQueueEmpties(int datagrams)
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        using var receiver = Bound();
        using var sender = Bound();
        using var batch = new UdpBatch(BatchCount, 16, 1500);
        for (int i = 0; i < datagrams; i++)
        {
            // A frame that starts inside the headroom, as a relay's header does.
            Numbered(i, 20).CopyTo(batch.Slot(i)[12..]);
            batch.Queue(i, 12, 20);
        }
        var to = ((IPEndPoint)receiver.LocalEndPoint!).Serialize();
        Assert.Equal(datagrams, batch.Flush(sender.SafeHandle, to));
        Assert.Equal(0, batch.Queued);
        var buffer = new byte[64];
        for (int i = 0; i < datagrams; i++)
        {
            int n = receiver.Receive(buffer);
            Assert.Equal(20, n);
            Assert.Equal(i, BinaryPrimitives.ReadInt32BigEndian(buffer));
        }
    }

    /// <summary>
    /// GSO: runs of one size, each ended by a shorter datagram or a longer one, go as segmented messages; the receiver
    /// (a plain socket) gets every datagram with its own length, in order.
    /// </summary>
    [Fact]
    public void Flush_SegmentedRunsEndedByShorterAndLongerDatagrams_EachArrivesInOrderWithItsLength()
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        int[] lengths = [100, 100, 100, 100, 100, 60, 100, 100, 100, 200, 200, 30, 30, 7];
        using var receiver = Bound();
        receiver.ReceiveBufferSize = 1 << 20;
        using var sender = Bound();
        using var batch = new UdpBatch(lengths.Length, 16, 1500) { Segmentation = true };
        for (int i = 0; i < lengths.Length; i++)
        {
            Numbered(i, lengths[i]).CopyTo(batch.Slot(i)[16..]);
            batch.Queue(i, 16, lengths[i]);
        }
        var to = ((IPEndPoint)receiver.LocalEndPoint!).Serialize();
        Assert.Equal(lengths.Length, batch.Flush(sender.SafeHandle, to));
        Assert.True(batch.Segmentation, "the kernel took the segmented messages");
        AssertReceived(receiver, lengths);
    }

    /// <summary>
    /// An empty datagram after a run of one size ends the run instead of joining it (the kernel would cut no datagram
    /// for it, so it would vanish): every datagram arrives, the empty one as an empty datagram, in order.
    /// </summary>
    [Fact]
    public void Flush_EmptyDatagramAfterARun_SentOnItsOwnNotLost()
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        int[] lengths = [100, 100, 0, 100, 100];
        using var receiver = Bound();
        using var sender = Bound();
        using var batch = new UdpBatch(lengths.Length, 0, 1500) { Segmentation = true };
        for (int i = 0; i < lengths.Length; i++)
        {
            if (lengths[i] > 0)
            {
                Numbered(i, lengths[i]).CopyTo(batch.Slot(i));
            }
            batch.Queue(i, 0, lengths[i]);
        }
        var to = ((IPEndPoint)receiver.LocalEndPoint!).Serialize();
        Assert.Equal(lengths.Length, batch.Flush(sender.SafeHandle, to));
        AssertReceived(receiver, lengths);
    }

    /// <summary>GSO limits: at most 64 datagrams and 65,000 bytes a message; a batch over either is split, nothing lost.</summary>
    [Theory]
    [InlineData(70, 100)]
    [InlineData(70, 1100)]
    public void Flush_SegmentedRunBeyondTheKernelsLimits_SplitEveryDatagramArrives(int count, int length)
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        using var receiver = Bound();
        receiver.ReceiveBufferSize = 4 << 20;
        using var sender = Bound();
        sender.SendBufferSize = 4 << 20;
        using var batch = new UdpBatch(count, 0, 1500) { Segmentation = true };
        for (int i = 0; i < count; i++)
        {
            Numbered(i, length).CopyTo(batch.Slot(i));
            batch.Queue(i, 0, length);
        }
        var to = ((IPEndPoint)receiver.LocalEndPoint!).Serialize();
        Assert.Equal(count, batch.Flush(sender.SafeHandle, to));
        Assert.True(batch.Segmentation);
        AssertReceived(receiver, Enumerable.Repeat(length, count).ToArray());
    }

    [Fact]
    public void Flush_KernelRefusesTheBatch_RestDroppedWithoutThrowing()
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        using var sender = Bound();
        using var batch = new UdpBatch(BatchCount, 0, 100);
        for (int i = 0; i < 3; i++)
        {
            batch.Queue(i, 0, 10);
        }
        // An IPv6 destination from an IPv4 socket: sendmmsg fails on the first datagram.
        var v6 = new IPEndPoint(IPAddress.IPv6Loopback, 9).Serialize();
        Assert.Equal(0, batch.Flush(sender.SafeHandle, v6));
        Assert.Equal(0, batch.Queued);

        // A closed socket: nothing sent, nothing thrown.
        batch.Queue(0, 0, 10);
        sender.Dispose();
        Assert.Equal(0, batch.Flush(sender.SafeHandle, new IPEndPoint(IPAddress.Loopback, 9).Serialize()));
    }

    [Fact]
    public void Queue_FrameOutsideTheSlot_Refused()
    {
        using var batch = new UdpBatch(2, 0, 100);
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.Queue(0, batch.SlotSize - 4, 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.Queue(0, -1, 8));
        Assert.Equal(0, batch.Queued);
    }

    /// <summary>
    /// GRO: runs sent with GSO reach a UDP_GRO socket as coalesced messages (64 segments, a shorter last one, runs longer
    /// than a batch, a plain datagram between runs); the coalescing batch hands out every datagram once, in order, with
    /// its length, its bytes and its sender, across as many receives as it takes.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    public void Receive_CoalescedRuns_SplitIntoEveryDatagramInOrderAcrossReceives(int headroom)
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        using var receiver = Bound();
        using var sender = Bound();
        Assert.True(UdpBatch.TryEnableCoalescing(receiver));
        receiver.ReceiveBufferSize = 1 << 20;
        // 64 × 1000 (the kernel's segment limit), 20 × 700 and a 300 that ends the run, one plain 90, 30 × 1200.
        int[] lengths = [.. Enumerable.Repeat(1000, 64), .. Enumerable.Repeat(700, 20), 300, 90, .. Enumerable.Repeat(1200, 30)];
        SendSegmented(sender, receiver, lengths);

        using var batch = new UdpBatch(BatchCount, headroom, 1500, coalescing: true);
        var seen = new List<int>();
        var from = new SocketAddress(AddressFamily.InterNetwork);
        while (seen.Count < lengths.Length)
        {
            int n = ReceiveWithin(batch, receiver);
            Assert.InRange(n, 1, BatchCount);
            for (int i = 0; i < n; i++)
            {
                Assert.False(batch.Truncated(i));
                var payload = batch.Payload(i);
                int number = BinaryPrimitives.ReadInt32BigEndian(payload);
                Assert.Equal(seen.Count, number);
                Assert.Equal(lengths[number], payload.Length);
                Assert.True(payload[4..].IndexOfAnyExcept((byte)number) < 0, "the bytes of datagram " + number);
                Assert.Equal(payload.ToArray(), batch.Slot(i).Slice(headroom, payload.Length).ToArray());
                Assert.True(batch.TryCopySource(i, from));
                Assert.Equal(sender.LocalEndPoint, new IPEndPoint(IPAddress.Any, 0).Create(from));
                seen.Add(number);
            }
        }
        Assert.False(batch.Pending);
        // The kernel did coalesce (else this test would not test the split): all but the plain datagram at most.
        Assert.InRange(batch.TakeCoalesced(), 2, lengths.Length);
        Assert.Equal(0, batch.TakeCoalesced());
        Assert.Equal(-LinuxSockets.EAgain, batch.Receive(receiver.SafeHandle, LinuxSockets.MsgDontWait));
    }

    /// <summary>A coalesced run of datagrams longer than the batch's capacity, and a plain one: each marked truncated, the neighbours intact.</summary>
    [Fact]
    public void Receive_CoalescedDatagramsLongerThanCapacity_EachMarkedTruncatedNeighboursIntact()
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        using var receiver = Bound();
        using var sender = Bound();
        Assert.True(UdpBatch.TryEnableCoalescing(receiver));
        int[] lengths = [100, .. Enumerable.Repeat(600, 5), 100, 900, 100];
        SendSegmented(sender, receiver, lengths);

        using var batch = new UdpBatch(BatchCount, 0, 500, coalescing: true);
        var seen = new List<(int Length, bool Truncated)>();
        while (seen.Count < lengths.Length)
        {
            int n = ReceiveWithin(batch, receiver);
            Assert.True(n > 0);
            for (int i = 0; i < n; i++)
            {
                seen.Add((batch.Truncated(i) ? -1 : BinaryPrimitives.ReadInt32BigEndian(batch.Payload(i)), batch.Truncated(i)));
            }
        }
        Assert.Equal([(0, false), (-1, true), (-1, true), (-1, true), (-1, true), (-1, true), (6, false), (-1, true), (8, false)], seen);
    }

    /// <summary>
    /// The relay frames a datagram in place and pads it behind its payload (ChannelData over TCP, the DATA attribute
    /// of a Data indication). When the first segment of a coalesced message is the last datagram of one receive, that
    /// padding must not reach the segments the next receive hands out.
    /// </summary>
    [Fact]
    public void Receive_PaddingWrittenBehindALastHandedOutSegment_TheNextSegmentsIntact()
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        using var receiver = Bound();
        using var sender = Bound();
        Assert.True(UdpBatch.TryEnableCoalescing(receiver));
        // Three plain datagrams (each its own message: a longer one follows each), then a run of 1001-byte datagrams.
        int[] lengths = [100, 200, 300, .. Enumerable.Repeat(1001, 10)];
        SendSegmented(sender, receiver, lengths);

        const int headroom = 36;
        using var batch = new UdpBatch(4, headroom, 1500, coalescing: true);
        Assert.Equal(4, ReceiveWithin(batch, receiver));
        Assert.True(batch.Pending);
        Assert.Equal(3, BinaryPrimitives.ReadInt32BigEndian(batch.Payload(3)));
        // Framing in place: a header in the headroom, 3 bytes of padding behind the 1001-byte payload.
        batch.Slot(3)[..headroom].Fill(0xEE);
        batch.Slot(3).Slice(headroom + 1001, 3).Fill(0xEE);
        var seen = new List<int> { 0, 1, 2, 3 };
        while (seen.Count < lengths.Length)
        {
            int n = ReceiveWithin(batch, receiver);
            for (int i = 0; i < n; i++)
            {
                var payload = batch.Payload(i);
                int number = BinaryPrimitives.ReadInt32BigEndian(payload);
                Assert.Equal(seen.Count, number);
                Assert.Equal(lengths[number], payload.Length);
                Assert.True(payload[4..].IndexOfAnyExcept((byte)number) < 0, "the bytes of datagram " + number);
                seen.Add(number);
            }
        }
    }

    /// <summary>What is left of a coalesced message belongs to its socket: another socket is refused until it is discarded, then read anew.</summary>
    [Fact]
    public void Receive_PendingDatagramsOfAnotherSocket_RefusedUntilDiscarded()
    {
        if (!LinuxSockets.Supported)
        {
            return;
        }
        using var receiver = Bound();
        using var other = Bound();
        using var sender = Bound();
        Assert.True(UdpBatch.TryEnableCoalescing(receiver));
        SendSegmented(sender, receiver, [.. Enumerable.Repeat(200, 3 * BatchCount)]);
        sender.SendTo(Numbered(77, 40), other.LocalEndPoint!);

        using var batch = new UdpBatch(BatchCount, 0, 1500, coalescing: true);
        int n = ReceiveWithin(batch, receiver);
        Assert.Equal(BatchCount, n);
        Assert.True(batch.Pending);
        Assert.Throws<InvalidOperationException>(() => ReceiveWithin(batch, other));
        Assert.Equal(2 * BatchCount, batch.Discard());
        Assert.False(batch.Pending);
        Assert.Equal(1, ReceiveWithin(batch, other));
        Assert.Equal(77, BinaryPrimitives.ReadInt32BigEndian(batch.Payload(0)));
        Assert.Equal(40, batch.Length(0));
    }

    /// <summary>A receive that fails the test instead of hanging when nothing more arrives.</summary>
    private static int ReceiveWithin(UdpBatch batch, Socket socket)
    {
        if (!batch.Pending)
        {
            Assert.True(socket.Poll(TimeSpan.FromSeconds(10), SelectMode.SelectRead), "nothing more arrived within 10 s");
        }
        return batch.Receive(socket.SafeHandle, LinuxSockets.MsgDontWait);
    }

    /// <summary>Sends datagrams numbered 0.. with the given lengths (each filled with its number) as GSO runs, as the relay would.</summary>
    private static void SendSegmented(Socket sender, Socket receiver, int[] lengths) => SendNumberedWithGso(sender, (IPEndPoint)receiver.LocalEndPoint!, lengths);

    /// <summary>Datagram i: <paramref name="lengths"/>[i] bytes of (byte)i, the first 4 the number i; runs of one length go as one GSO message.</summary>
    internal static void SendNumberedWithGso(Socket sender, IPEndPoint receiver, int[] lengths)
    {
        using var batch = new UdpBatch(lengths.Length, 0, lengths.Max()) { Segmentation = true };
        var to = receiver.Serialize();
        for (int i = 0; i < lengths.Length; i++)
        {
            var slot = batch.Slot(i)[..lengths[i]];
            slot.Fill((byte)i);
            BinaryPrimitives.WriteInt32BigEndian(slot, i);
            batch.Queue(i, 0, lengths[i]);
        }
        Assert.Equal(lengths.Length, batch.Flush(sender.SafeHandle, to));
        Assert.True(batch.Segmentation, "the kernel refused GSO");
    }

    private static void AssertReceived(Socket receiver, int[] lengths)
    {
        receiver.ReceiveTimeout = 20_000;
        var buffer = new byte[2048];
        for (int i = 0; i < lengths.Length; i++)
        {
            int n = receiver.Receive(buffer);
            Assert.Equal(lengths[i], n);
            if (n >= 4)
            {
                Assert.Equal(i, BinaryPrimitives.ReadInt32BigEndian(buffer));
            }
        }
    }

    private static Socket Bound()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    private static byte[] Numbered(int number, int length)
    {
        var bytes = new byte[length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, number);
        return bytes;
    }
}
