using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static GhostChat.Turn.Server.Udp.LinuxSockets;

namespace GhostChat.Turn.Server.Udp;

/// <summary>
/// A batch of datagram slots for recvmmsg/sendmmsg: one pinned buffer of <see cref="Count"/> slots, each with
/// <see cref="Headroom"/> bytes in front of the payload (where a relay writes its ChannelData or Data indication
/// header in place), and the native message headers pointing into it. Made once per receive loop and reused: a
/// datagram costs no allocation. Not thread-safe: one loop owns it.
/// <para>
/// Made with <c>coalescing</c>, it also reads sockets with Linux UDP GRO on (<see cref="TryEnableCoalescing"/>): the
/// kernel may then hand over up to 64 KB of one sender's datagrams as one message with their segment size, and the
/// batch splits it again, so its owner sees the same datagrams one by one. Each message gets a second buffer behind
/// its slot for what does not fit there; a plain datagram stays where it landed, the segments of a coalesced one are
/// copied into spare slots. A message cut into more datagrams than fit one <see cref="Receive"/>
/// leaves the rest <see cref="Pending"/>: the next Receive on the same socket returns them before it reads again.
/// </para>
/// </summary>
internal sealed unsafe class UdpBatch : IDisposable
{
    /// <summary>msg_flags bit: the datagram was larger than the slot and was cut.</summary>
    private const int MsgTrunc = 0x20;

    // GSO: a cmsghdr (cmsg_len, cmsg_level, cmsg_type: 16 bytes on 64-bit) and the u16 segment size, padded to 8.
    private const int SolUdp = 17;
    private const int UdpSegment = 103;
    private const nuint ControlLength = 16 + 2;

    /// <summary>Bytes of control data per GSO message (<see cref="WriteSegmentControl"/>).</summary>
    internal const int ControlSlot = 24;

    /// <summary>Bytes of address per message: a sockaddr_in6 fits.</summary>
    internal const int NameSlot = 32;

    /// <summary>The kernel's limit of segments per GSO message (UDP_MAX_SEGMENTS).</summary>
    internal const int MaxSegments = 64;

    /// <summary>A GSO message's payload must fit one IP datagram.</summary>
    internal const nuint MaxSegmentedBytes = 65000;

    // GRO: the cmsg the kernel puts on a coalesced message (SOL_UDP, UDP_GRO) carries the segment size as an int.
    private const int UdpGro = 104;

    /// <summary>Room for one coalesced message: a GRO message never exceeds one IP datagram's 64 KB.</summary>
    internal const int MaxCoalescedBytes = 65536;

    private readonly byte[] _data;
    private readonly byte* _base;
    private readonly MMsgHdr* _receive;
    private readonly MMsgHdr* _send;
    private readonly IoVec* _receiveIov;
    private readonly IoVec* _sendIov;
    private readonly byte* _names;
    private readonly byte* _sendName;
    private readonly byte* _control;
    private readonly int[] _perMessage;
    private readonly bool _coalescing;
    private readonly int _spillSize;
    private readonly byte* _spill;
    private readonly byte* _receiveControl;

    // What Receive handed out, datagram by datagram: its slot, its message (for the sender), length and whether cut.
    private readonly int[] _slotOf;
    private readonly int[] _messageOf;
    private readonly int[] _lengthOf;
    private readonly bool[] _truncatedOf;

    // The messages of the last recvmmsg, the segment size of each (0: one datagram), and how far they are handed out.
    private readonly int[] _segmentSize;
    private SafeHandle? _readFrom;
    private int _messages;
    private int _nextMessage;
    private int _nextSegment;
    private long _coalesced;
    private int _queued;
    private bool _disposed;

    /// <param name="count">Datagrams per system call.</param>
    /// <param name="headroom">Bytes kept free in front of each payload.</param>
    /// <param name="capacity">The largest payload accepted; longer ones arrive marked truncated.</param>
    /// <param name="coalescing">Split messages that GRO coalesced (the socket's UDP_GRO is turned on by <see cref="TryEnableCoalescing"/>).</param>
    public UdpBatch(int count, int headroom, int capacity, bool coalescing = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        Count = count;
        Headroom = headroom;
        Capacity = capacity;
        _coalescing = coalescing;
        // The slot also has room behind the payload: ChannelData over a stream is padded to 4 bytes.
        SlotSize = (headroom + capacity + 4 + 63) & ~63;
        // Coalescing: a spare slot per slot, for the segments of coalesced messages.
        int slots = coalescing ? 2 * count : count;
        _data = GC.AllocateArray<byte>(slots * SlotSize, pinned: true);
        _base = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_data));
        _receive = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)(count * sizeof(MMsgHdr)));
        _send = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)(count * sizeof(MMsgHdr)));
        _receiveIov = (IoVec*)NativeMemory.AllocZeroed((nuint)(2 * count * sizeof(IoVec)));
        _sendIov = (IoVec*)NativeMemory.AllocZeroed((nuint)(count * sizeof(IoVec)));
        _names = (byte*)NativeMemory.AllocZeroed((nuint)(count * NameSlot));
        _sendName = (byte*)NativeMemory.AllocZeroed(NameSlot);
        _control = (byte*)NativeMemory.AllocZeroed((nuint)(count * ControlSlot));
        _receiveControl = (byte*)NativeMemory.AllocZeroed((nuint)(count * ControlSlot));
        _perMessage = new int[count];
        _slotOf = new int[count];
        _messageOf = new int[count];
        _lengthOf = new int[count];
        _truncatedOf = new bool[count];
        _segmentSize = new int[count];
        for (int i = 0; i < count; i++)
        {
            // Before a receive (a batch that only sends), datagram i is slot i.
            _slotOf[i] = i;
        }
        if (coalescing && capacity < MaxCoalescedBytes)
        {
            // Not zeroed and not touched until a message is longer than its slot: pages the kernel never writes cost
            // address space only.
            _spillSize = MaxCoalescedBytes - capacity;
            _spill = (byte*)NativeMemory.Alloc((nuint)count * (nuint)_spillSize);
        }
    }

    /// <summary>
    /// Turns Linux UDP GRO on for <paramref name="socket"/>: the kernel may then coalesce a burst from one sender into
    /// one message. Only for a socket that only a coalescing batch reads. False where the kernel does not offer it.
    /// </summary>
    public static bool TryEnableCoalescing(Socket socket)
    {
        Span<byte> on = stackalloc byte[sizeof(int)];
        BinaryPrimitives.WriteInt32LittleEndian(on, 1);
        try
        {
            socket.SetRawSocketOption(SolUdp, UdpGro, on);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// Linux UDP GSO (UDP_SEGMENT): <see cref="Flush"/> sends a run of equal-sized datagrams as one message that the
    /// kernel cuts into datagrams, one pass through the stack for the run. Turned off for good when the kernel refuses
    /// it once (an old kernel, or a route whose MTU is below the datagram size): that batch goes one datagram a message.
    /// </summary>
    public bool Segmentation { get; set; }

    public int Count { get; }

    public int Headroom { get; }

    public int Capacity { get; }

    public int SlotSize { get; }

    /// <summary>Datagrams queued for <see cref="Flush"/>.</summary>
    public int Queued => _queued;

    /// <summary>
    /// Receives up to <see cref="Count"/> datagrams in one recvmmsg. <paramref name="flags"/>: MSG_DONTWAIT to return
    /// at once when none is waiting, MSG_WAITFORONE to block for the first only. Returns how many, or -errno. While
    /// datagrams of the last read are <see cref="Pending"/>, returns those without reading (the same socket only).
    /// </summary>
    public int Receive(SafeHandle socket, int flags)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Pending)
        {
            if (!ReferenceEquals(socket, _readFrom))
            {
                throw new InvalidOperationException("Datagrams of another socket are pending: receive them or discard them first.");
            }
            return HandOut();
        }
        for (int i = 0; i < Count; i++)
        {
            ref var message = ref _receive[i];
            var iov = &_receiveIov[2 * i];
            Point(ref message, iov, _names + (i * NameSlot), _base + (i * SlotSize) + Headroom, Capacity);
            if (_coalescing)
            {
                message.Header.Control = _receiveControl + (i * ControlSlot);
                message.Header.ControlLength = ControlSlot;
                if (_spill != null)
                {
                    iov[1].Base = _spill + ((nint)i * _spillSize);
                    iov[1].Length = (nuint)_spillSize;
                    message.Header.IovLength = 2;
                }
            }
        }
        int n;
        using (var fd = new HandleLease(socket))
        {
            n = RecvMMsg(fd.Fd, _receive, (uint)Count, flags, null);
        }
        if (n < 0)
        {
            return -Marshal.GetLastPInvokeError();
        }
        _readFrom = socket;
        _messages = n;
        _nextMessage = 0;
        _nextSegment = 0;
        for (int m = 0; m < n; m++)
        {
            _segmentSize[m] = _coalescing ? SegmentSize(m) : 0;
        }
        return HandOut();
    }

    /// <summary>True when datagrams of the last read are still to be handed out by <see cref="Receive"/>.</summary>
    public bool Pending => _nextMessage < _messages;

    /// <summary>Forgets the <see cref="Pending"/> datagrams (their socket is gone); returns how many.</summary>
    public int Discard()
    {
        int dropped = 0;
        for (int m = _nextMessage; m < _messages; m++)
        {
            dropped += Segments(m) - (m == _nextMessage ? _nextSegment : 0);
        }
        _messages = 0;
        _nextMessage = 0;
        _nextSegment = 0;
        return dropped;
    }

    /// <summary>Datagrams that arrived coalesced (GRO) since the last call; the count starts again at 0.</summary>
    public long TakeCoalesced()
    {
        long coalesced = _coalesced;
        _coalesced = 0;
        return coalesced;
    }

    /// <summary>The segment size the kernel gave message <paramref name="m"/> (its UDP_GRO cmsg), 0 when it holds one datagram.</summary>
    private int SegmentSize(int m)
    {
        ref var header = ref _receive[m].Header;
        if (header.ControlLength < 16 + sizeof(int))
        {
            return 0;
        }
        byte* control = (byte*)header.Control;
        if (*(int*)(control + 8) != SolUdp || *(int*)(control + 12) != UdpGro)
        {
            return 0;
        }
        int size = *(int*)(control + 16);
        return size > 0 && size < (int)_receive[m].Length ? size : 0;
    }

    /// <summary>How many datagrams message <paramref name="m"/> holds.</summary>
    private int Segments(int m)
    {
        int size = _segmentSize[m];
        return size == 0 ? 1 : (int)((_receive[m].Length + (uint)size - 1) / (uint)size);
    }

    /// <summary>
    /// Hands out the datagrams of the last read from where the previous call stopped, at most <see cref="Count"/>: a
    /// message of one datagram where it landed, the segments of a coalesced one copied into spare slots. Returns how many.
    /// </summary>
    private int HandOut()
    {
        int count = 0;
        int spare = Count;
        while (_nextMessage < _messages && count < Count)
        {
            int m = _nextMessage;
            int total = (int)_receive[m].Length;
            bool cut = (_receive[m].Header.Flags & MsgTrunc) != 0;
            int size = _segmentSize[m];
            if (size == 0)
            {
                Record(count++, m, m, total, cut || total > Capacity);
                _nextMessage++;
                continue;
            }
            int segments = Segments(m);
            while (_nextSegment < segments && count < Count)
            {
                int offset = _nextSegment * size;
                int length = Math.Min(size, total - offset);
                // The kernel cut the message: its last datagram may be incomplete.
                bool truncated = length > Capacity || (cut && _nextSegment == segments - 1);
                // Every segment, the first too, gets a spare slot: the owner frames a datagram in place and may pad
                // behind it, which in the message's own slot would overwrite the next segment before it is copied.
                int slot = spare++;
                if (!truncated)
                {
                    CopySegment(m, offset, length, slot);
                }
                Record(count++, slot, m, length, truncated);
                _nextSegment++;
                _coalesced++;
            }
            if (_nextSegment == segments)
            {
                _nextMessage++;
                _nextSegment = 0;
            }
        }
        return count;
    }

    private void Record(int i, int slot, int message, int length, bool truncated)
    {
        _slotOf[i] = slot;
        _messageOf[i] = message;
        _lengthOf[i] = Math.Min(length, Capacity);
        _truncatedOf[i] = truncated;
    }

    /// <summary>Copies bytes <paramref name="offset"/>..+<paramref name="length"/> of message <paramref name="m"/> (its slot, then its spill) into the payload of <paramref name="slot"/>.</summary>
    private void CopySegment(int m, int offset, int length, int slot)
    {
        var to = new Span<byte>(_base + (slot * SlotSize) + Headroom, length);
        int inSlot = Math.Clamp(Capacity - offset, 0, length);
        if (inSlot > 0)
        {
            new ReadOnlySpan<byte>(_base + (m * SlotSize) + Headroom + offset, inSlot).CopyTo(to);
        }
        if (inSlot < length)
        {
            new ReadOnlySpan<byte>(_spill + ((nint)m * _spillSize) + (offset + inSlot - Capacity), length - inSlot).CopyTo(to[inSlot..]);
        }
    }

    /// <summary>The whole slot of datagram <paramref name="i"/>; its payload starts at <see cref="Headroom"/>.</summary>
    public Span<byte> Slot(int i) => _data.AsSpan(_slotOf[i] * SlotSize, SlotSize);

    /// <summary>The payload of received datagram <paramref name="i"/>.</summary>
    public Span<byte> Payload(int i) => _data.AsSpan((_slotOf[i] * SlotSize) + Headroom, _lengthOf[i]);

    public int Length(int i) => _lengthOf[i];

    /// <summary>True when datagram <paramref name="i"/> was longer than <see cref="Capacity"/> (it was cut).</summary>
    public bool Truncated(int i) => _truncatedOf[i];

    /// <summary>The sender of datagram <paramref name="i"/>: a raw sockaddr_in or sockaddr_in6.</summary>
    public ReadOnlySpan<byte> Source(int i)
    {
        int m = _messageOf[i];
        return new(_names + (m * NameSlot), (int)Math.Min(_receive[m].Header.NameLength, (uint)NameSlot));
    }

    /// <summary>Copies the sender of datagram <paramref name="i"/> into <paramref name="address"/> (reused: no allocation).</summary>
    public bool TryCopySource(int i, SocketAddress address)
    {
        var source = Source(i);
        if (source.Length < 16 || source.Length > address.Buffer.Length)
        {
            return false;
        }
        source.CopyTo(address.Buffer.Span);
        address.Size = source.Length;
        return true;
    }

    /// <summary>Queues bytes <paramref name="start"/>..+<paramref name="length"/> of the slot of datagram <paramref name="i"/> for <see cref="Flush"/>.</summary>
    public void Queue(int i, int start, int length)
    {
        if (start < 0 || length < 0 || start + length > SlotSize)
        {
            throw new ArgumentOutOfRangeException(nameof(length), "The frame must lie within the slot.");
        }
        if (_queued >= Count)
        {
            throw new InvalidOperationException("The send queue holds a batch already: flush it first.");
        }
        int k = _queued++;
        Point(ref _send[k], &_sendIov[k], _sendName, _base + (_slotOf[i] * SlotSize) + start, length);
    }

    /// <summary>Points one message header at one buffer and one address slot (the kernel writes the length back).</summary>
    private static void Point(ref MMsgHdr message, IoVec* iov, byte* name, byte* data, int length)
    {
        iov->Base = data;
        iov->Length = (nuint)length;
        message.Header.Name = name;
        message.Header.NameLength = NameSlot;
        message.Header.Iov = iov;
        message.Header.IovLength = 1;
        message.Header.Control = null;
        message.Header.ControlLength = 0;
        message.Header.Flags = 0;
        message.Length = 0;
    }

    /// <summary>
    /// Sends every queued datagram to <paramref name="to"/> with sendmmsg, never blocking: what the kernel takes in
    /// part is resent from where it stopped; on a full send buffer (EAGAIN) or another error the rest is dropped. With
    /// <see cref="Segmentation"/>, a run of equal-sized datagrams (and a shorter last one) is one message, taken or
    /// refused whole. Returns how many datagrams were sent, in queue order; the queue is empty afterwards.
    /// </summary>
    public int Flush(SafeHandle socket, SocketAddress to)
    {
        int total = _queued;
        _queued = 0;
        if (total == 0)
        {
            return 0;
        }
        var name = to.Buffer.Span[..Math.Min(to.Size, NameSlot)];
        name.CopyTo(new Span<byte>(_sendName, NameSlot));
        int sent = 0;
        try
        {
            using var fd = new HandleLease(socket);
            if (Segmentation && total > 1)
            {
                int messages = Group(total, (uint)name.Length);
                int done = SendMessages(fd.Fd, messages, out int error);
                for (int m = 0; m < done; m++)
                {
                    sent += _perMessage[m];
                }
                // Refused for a reason other than the segmentation (a full buffer, the network): the rest is dropped.
                if (done == messages || _perMessage[done] == 1 || !RefusesSegmentation(error))
                {
                    return sent;
                }
                // The kernel refused the segmented message: the rest goes one datagram a message, from now on too.
                Segmentation = false;
            }
            for (int k = sent; k < total; k++)
            {
                Single(k, (uint)name.Length);
            }
            sent += SendMessages(fd.Fd, total - sent, out _, first: sent);
        }
        catch (ObjectDisposedException)
        {
            // The socket closed under us: what is left is lost, as UDP allows.
        }
        return sent;
    }

    /// <summary>sendmmsg of messages <paramref name="first"/>.. until all are sent or an error; returns how many went.</summary>
    private int SendMessages(nint fd, int count, out int error, int first = 0) => SendAll(fd, _send + first, count, out error);

    /// <summary>
    /// sendmmsg of <paramref name="count"/> messages with MSG_DONTWAIT, called again for the rest after a partial
    /// result, until all are sent or an error other than EINTR (its errno in <paramref name="error"/>, 0 when none):
    /// never blocks. Returns how many messages went.
    /// </summary>
    internal static int SendAll(nint fd, MMsgHdr* messages, int count, out int error)
    {
        error = 0;
        int sent = 0;
        while (sent < count)
        {
            int n = SendMMsg(fd, messages + sent, (uint)(count - sent), MsgDontWait);
            if (n > 0)
            {
                sent += n;
                continue;
            }
            error = n < 0 ? Marshal.GetLastPInvokeError() : 0;
            if (error != EIntr)
            {
                break;
            }
        }
        return sent;
    }

    /// <summary>True when <paramref name="error"/> from a segmented (GSO) message means the kernel refuses segmentation itself.</summary>
    internal static bool RefusesSegmentation(int error) => error is EInval or EIo or EMsgSize or ENoProtoOpt or EOpNotSupp;

    /// <summary>Writes the UDP_SEGMENT control message (segment size <paramref name="size"/>) into <see cref="ControlSlot"/> bytes at <paramref name="control"/>.</summary>
    internal static void WriteSegmentControl(byte* control, ushort size)
    {
        *(nuint*)control = ControlLength;
        *(int*)(control + 8) = SolUdp;
        *(int*)(control + 12) = UdpSegment;
        *(ushort*)(control + 16) = size;
    }

    /// <summary>
    /// How many datagrams from <paramref name="start"/> (before <paramref name="end"/>) go as one GSO message: a run of
    /// one size, at most <see cref="MaxSegments"/> and <see cref="MaxSegmentedBytes"/>; a shorter datagram can only be
    /// the last of a run, and an empty one never joins one (the kernel would cut no datagram for it). At least 1.
    /// </summary>
    internal static int SegmentRun(IoVec* iov, int start, int end)
    {
        nuint size = iov[start].Length;
        int run = 1;
        nuint bytes = size;
        while (start + run < end && run < MaxSegments && bytes + iov[start + run].Length <= MaxSegmentedBytes)
        {
            nuint next = iov[start + run].Length;
            if (next > size || next == 0)
            {
                break;
            }
            run++;
            bytes += next;
            if (next < size)
            {
                break;
            }
        }
        return run;
    }

    /// <summary>
    /// Writes one message header for <paramref name="run"/> datagrams at <paramref name="iov"/> to
    /// <paramref name="name"/>: a run of more than one gets the UDP_SEGMENT control message in the
    /// <see cref="ControlSlot"/> bytes at <paramref name="control"/> (segment size: the first datagram's).
    /// </summary>
    internal static void SetMessage(ref MMsgHdr message, byte* name, uint nameLength, IoVec* iov, int run, byte* control)
    {
        message.Header.Name = name;
        message.Header.NameLength = nameLength;
        message.Header.Iov = iov;
        message.Header.IovLength = (nuint)run;
        message.Header.Flags = 0;
        message.Length = 0;
        if (run > 1)
        {
            WriteSegmentControl(control, (ushort)iov->Length);
            message.Header.Control = control;
            message.Header.ControlLength = ControlSlot;
        }
        else
        {
            message.Header.Control = null;
            message.Header.ControlLength = 0;
        }
    }

    /// <summary>Queued datagram <paramref name="k"/> as message <paramref name="k"/>, alone.</summary>
    private void Single(int k, uint nameLength)
    {
        Point(ref _send[k], &_sendIov[k], _sendName, _sendIov[k].Base, (int)_sendIov[k].Length);
        _send[k].Header.NameLength = nameLength;
    }

    /// <summary>
    /// Rewrites the message headers for GSO: each message covers a run of queued datagrams of one size (at most
    /// <see cref="MaxSegments"/>, at most <see cref="MaxSegmentedBytes"/>), a shorter one may end it; a run of one is
    /// a plain message. Message m starts at a datagram k ≥ m, so writing header m never overwrites one still to be
    /// read (only the iovecs are read). Returns the number of messages; <see cref="_perMessage"/> holds their sizes.
    /// </summary>
    private int Group(int total, uint nameLength)
    {
        int messages = 0;
        int k = 0;
        while (k < total)
        {
            int count = SegmentRun(_sendIov, k, total);
            byte* control = _control + (messages * ControlSlot);
            SetMessage(ref _send[messages], _sendName, nameLength, &_sendIov[k], count, control);
            _perMessage[messages++] = count;
            k += count;
        }
        return messages;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        NativeMemory.Free(_receive);
        NativeMemory.Free(_send);
        NativeMemory.Free(_receiveIov);
        NativeMemory.Free(_sendIov);
        NativeMemory.Free(_names);
        NativeMemory.Free(_sendName);
        NativeMemory.Free(_control);
        NativeMemory.Free(_receiveControl);
        NativeMemory.Free(_spill);
    }
}
