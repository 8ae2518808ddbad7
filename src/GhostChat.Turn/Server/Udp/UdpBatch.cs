using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static GhostChat.Turn.Server.Udp.LinuxSockets;

namespace GhostChat.Turn.Server.Udp;

/// <summary>
/// A batch of datagram slots for recvmmsg/sendmmsg: one pinned buffer of <see cref="Count"/> slots, each with
/// <see cref="Headroom"/> bytes in front of the payload (where a relay writes its ChannelData or Data indication
/// header in place), and the native message headers pointing into it. Made once per receive loop and reused: a
/// datagram costs no allocation. Not thread-safe: one loop owns it.
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
    private int _queued;
    private bool _disposed;

    /// <param name="count">Datagrams per system call.</param>
    /// <param name="headroom">Bytes kept free in front of each payload.</param>
    /// <param name="capacity">The largest payload accepted; longer ones arrive marked truncated.</param>
    public UdpBatch(int count, int headroom, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        Count = count;
        Headroom = headroom;
        Capacity = capacity;
        // The slot also has room behind the payload: ChannelData over a stream is padded to 4 bytes.
        SlotSize = (headroom + capacity + 4 + 63) & ~63;
        _data = GC.AllocateArray<byte>(count * SlotSize, pinned: true);
        _base = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_data));
        _receive = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)(count * sizeof(MMsgHdr)));
        _send = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)(count * sizeof(MMsgHdr)));
        _receiveIov = (IoVec*)NativeMemory.AllocZeroed((nuint)(count * sizeof(IoVec)));
        _sendIov = (IoVec*)NativeMemory.AllocZeroed((nuint)(count * sizeof(IoVec)));
        _names = (byte*)NativeMemory.AllocZeroed((nuint)(count * NameSlot));
        _sendName = (byte*)NativeMemory.AllocZeroed(NameSlot);
        _control = (byte*)NativeMemory.AllocZeroed((nuint)(count * ControlSlot));
        _perMessage = new int[count];
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
    /// at once when none is waiting, MSG_WAITFORONE to block for the first only. Returns how many, or -errno.
    /// </summary>
    public int Receive(SafeHandle socket, int flags)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        for (int i = 0; i < Count; i++)
        {
            Point(ref _receive[i], &_receiveIov[i], _names + (i * NameSlot), _base + (i * SlotSize) + Headroom, Capacity);
        }
        using var fd = new HandleLease(socket);
        int n = RecvMMsg(fd.Fd, _receive, (uint)Count, flags, null);
        return n >= 0 ? n : -Marshal.GetLastPInvokeError();
    }

    /// <summary>The whole slot of datagram <paramref name="i"/>; its payload starts at <see cref="Headroom"/>.</summary>
    public Span<byte> Slot(int i) => _data.AsSpan(i * SlotSize, SlotSize);

    /// <summary>The payload of received datagram <paramref name="i"/>.</summary>
    public Span<byte> Payload(int i) => _data.AsSpan((i * SlotSize) + Headroom, Length(i));

    public int Length(int i) => (int)Math.Min(_receive[i].Length, (uint)Capacity);

    /// <summary>True when datagram <paramref name="i"/> was longer than <see cref="Capacity"/> (it was cut).</summary>
    public bool Truncated(int i) => (_receive[i].Header.Flags & MsgTrunc) != 0;

    /// <summary>The sender of datagram <paramref name="i"/>: a raw sockaddr_in or sockaddr_in6.</summary>
    public ReadOnlySpan<byte> Source(int i) => new(_names + (i * NameSlot), (int)Math.Min(_receive[i].Header.NameLength, (uint)NameSlot));

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

    /// <summary>Queues bytes <paramref name="start"/>..+<paramref name="length"/> of slot <paramref name="i"/> for <see cref="Flush"/>.</summary>
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
        Point(ref _send[k], &_sendIov[k], _sendName, _base + (i * SlotSize) + start, length);
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
    }
}
