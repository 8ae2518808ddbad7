using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static GhostChat.Turn.Server.Udp.LinuxSockets;

namespace GhostChat.Turn.Server.Udp;

/// <summary>
/// Datagrams towards peers, gathered while the relay poller handles one batch from a listening socket and sent
/// together afterwards (<see cref="Flush"/>) instead of one sendto each: per relay socket one sendmmsg for all of its
/// datagrams, in the order they were queued, and with <see cref="Segmentation"/> a run of equal-sized datagrams to one
/// peer (a shorter one may end it) as one GSO message. Each datagram is copied into a pinned slot of its own (the
/// receive batch it came from is reused by the next receive). A send never blocks (MSG_DONTWAIT): what a full send
/// buffer, an error or a closed socket refuses is dropped and counted. Made once per poller and reused: a datagram
/// costs no allocation. Not thread-safe: the poller's thread owns it.
/// </summary>
internal sealed unsafe class PeerSendQueue : IDisposable
{
    private readonly TurnMetrics _metrics;
    private readonly byte[] _data;
    private readonly byte* _base;
    private readonly byte* _names;
    private readonly byte* _control;
    private readonly MMsgHdr* _messages;
    private readonly IoVec* _iov;
    private readonly uint[] _nameLengths;
    private readonly int[] _lengths;
    private readonly Socket?[] _sockets;
    private readonly int[] _order;
    private readonly int[] _perMessage;
    private int _queued;
    private bool _disposed;

    /// <param name="count">Datagrams held before a <see cref="Flush"/> (a full queue flushes itself).</param>
    /// <param name="capacity">The largest datagram accepted.</param>
    /// <param name="metrics">Where sent datagrams are counted as relayed and refused ones as dropped.</param>
    public PeerSendQueue(int count, int capacity, TurnMetrics metrics)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, ushort.MaxValue);
        Count = count;
        Capacity = capacity;
        _metrics = metrics;
        _data = GC.AllocateArray<byte>(count * capacity, pinned: true);
        _base = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_data));
        _names = (byte*)NativeMemory.AllocZeroed((nuint)(count * UdpBatch.NameSlot));
        _control = (byte*)NativeMemory.AllocZeroed((nuint)(count * UdpBatch.ControlSlot));
        _messages = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)(count * sizeof(MMsgHdr)));
        _iov = (IoVec*)NativeMemory.AllocZeroed((nuint)(count * sizeof(IoVec)));
        _nameLengths = new uint[count];
        _lengths = new int[count];
        _sockets = new Socket?[count];
        _order = new int[count];
        _perMessage = new int[count];
    }

    /// <summary>
    /// Linux UDP GSO (UDP_SEGMENT) for runs of equal-sized datagrams from one relay socket to one peer. Turned off for
    /// good when the kernel refuses it once (an old kernel, or a route whose MTU is below the datagram size): the rest
    /// goes one datagram a message.
    /// </summary>
    public bool Segmentation { get; set; } = true;

    public int Count { get; }

    public int Capacity { get; }

    /// <summary>Datagrams waiting for <see cref="Flush"/>.</summary>
    public int Queued => _queued;

    /// <summary>
    /// Queues a copy of <paramref name="payload"/> to go out of <paramref name="relay"/> to <paramref name="to"/>; a
    /// full queue is flushed first. False, and nothing queued, when the payload is longer than <see cref="Capacity"/>
    /// or <paramref name="to"/> is no socket address that fits a message (the caller sends it another way).
    /// </summary>
    public bool TryQueue(Socket relay, ReadOnlySpan<byte> payload, SocketAddress to)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (payload.Length > Capacity || to.Size < 16 || to.Size > UdpBatch.NameSlot)
        {
            return false;
        }
        if (_queued == Count)
        {
            Flush();
        }
        int k = _queued++;
        payload.CopyTo(_data.AsSpan(k * Capacity, payload.Length));
        to.Buffer.Span[..to.Size].CopyTo(new Span<byte>(_names + (k * UdpBatch.NameSlot), UdpBatch.NameSlot));
        _nameLengths[k] = (uint)to.Size;
        _lengths[k] = payload.Length;
        _sockets[k] = relay;
        return true;
    }

    /// <summary>
    /// Sends everything queued, never blocking: per relay socket (in the order each first appears) its datagrams in
    /// queue order with sendmmsg (sendto when it has one), resent from where the kernel stopped after a partial result; on a full send buffer
    /// (EAGAIN), another error or a closed socket the rest of that socket's datagrams is dropped and counted, and the
    /// other sockets' still go. Returns how many datagrams were sent; the queue is empty afterwards.
    /// </summary>
    public int Flush()
    {
        int total = _queued;
        _queued = 0;
        int sent = 0;
        try
        {
            for (int first = 0; first < total; first++)
            {
                var socket = _sockets[first];
                if (socket is null)
                {
                    // Sent with an earlier datagram of its socket.
                    continue;
                }
                int count = 0;
                for (int k = first; k < total; k++)
                {
                    if (ReferenceEquals(_sockets[k], socket))
                    {
                        _order[count++] = k;
                        _sockets[k] = null;
                    }
                }
                sent += SendGroup(socket, count);
            }
        }
        finally
        {
            // No socket is held past the flush, whatever happened.
            Array.Clear(_sockets, 0, total);
        }
        return sent;
    }

    /// <summary>Sends datagrams _order[0..<paramref name="count"/>) out of <paramref name="socket"/>; counts them; returns how many went.</summary>
    private int SendGroup(Socket socket, int count)
    {
        for (int j = 0; j < count; j++)
        {
            int k = _order[j];
            _iov[j].Base = _base + (k * Capacity);
            _iov[j].Length = (nuint)_lengths[k];
        }
        int sent = 0;
        try
        {
            using var fd = new HandleLease(socket.SafeHandle);
            if (count == 1)
            {
                // One datagram: sendto, which costs the kernel less than a message vector of one.
                int k = _order[0];
                sent = SendOne(fd.Fd, _iov[0].Base, _iov[0].Length, _names + (k * UdpBatch.NameSlot), _nameLengths[k]) ? 1 : 0;
            }
            while (count > 1 && sent < count)
            {
                bool segmented = Segmentation;
                int messages = Group(sent, count, segmented);
                int done = UdpBatch.SendAll(fd.Fd, _messages, messages, out int error);
                for (int m = 0; m < done; m++)
                {
                    sent += _perMessage[m];
                }
                if (done == messages)
                {
                    break;
                }
                if (segmented && _perMessage[done] > 1 && UdpBatch.RefusesSegmentation(error))
                {
                    // The kernel refused the segmented message: the rest goes one datagram a message, from now on too.
                    Segmentation = false;
                    continue;
                }
                // A full send buffer or another error: the rest of this socket's datagrams is dropped.
                break;
            }
        }
        catch (ObjectDisposedException)
        {
            // The relay socket closed (its allocation ended): what is left is lost, as UDP allows.
        }
        long bytes = 0;
        for (int j = 0; j < sent; j++)
        {
            bytes += _lengths[_order[j]];
        }
        _metrics.CountRelayed(sent, bytes);
        for (int j = sent; j < count; j++)
        {
            _metrics.CountDropped();
        }
        return sent;
    }

    /// <summary>sendto with MSG_DONTWAIT (again after EINTR): true when the kernel took the datagram.</summary>
    private static bool SendOne(nint fd, byte* data, nuint length, byte* name, uint nameLength)
    {
        while (SendTo(fd, data, length, MsgDontWait, name, nameLength) < 0)
        {
            if (Marshal.GetLastPInvokeError() != EIntr)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Writes the messages for datagrams <paramref name="from"/>..<paramref name="count"/>-1 of the group (their iovecs
    /// are in <see cref="_iov"/> in group order): with <paramref name="segment"/>, a run of datagrams to one address of
    /// one size (at most <see cref="UdpBatch.MaxSegments"/> and <see cref="UdpBatch.MaxSegmentedBytes"/>; a shorter one
    /// may end it) is one message; else one datagram a message. Returns the number of messages;
    /// <see cref="_perMessage"/> holds how many datagrams each carries.
    /// </summary>
    private int Group(int from, int count, bool segment)
    {
        int messages = 0;
        int j = from;
        while (j < count)
        {
            int k = _order[j];
            // A run is to one address: bound it by the datagrams to the same one.
            int end = j + 1;
            while (segment && end < count && end - j < UdpBatch.MaxSegments && SameAddress(k, _order[end]))
            {
                end++;
            }
            int run = UdpBatch.SegmentRun(_iov, j, end);
            UdpBatch.SetMessage(ref _messages[messages], _names + (k * UdpBatch.NameSlot), _nameLengths[k], &_iov[j], run,
                _control + (messages * UdpBatch.ControlSlot));
            _perMessage[messages++] = run;
            j += run;
        }
        return messages;
    }

    private bool SameAddress(int a, int b) =>
        _nameLengths[a] == _nameLengths[b]
        && new ReadOnlySpan<byte>(_names + (a * UdpBatch.NameSlot), (int)_nameLengths[a])
            .SequenceEqual(new ReadOnlySpan<byte>(_names + (b * UdpBatch.NameSlot), (int)_nameLengths[b]));

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        Array.Clear(_sockets);
        NativeMemory.Free(_names);
        NativeMemory.Free(_control);
        NativeMemory.Free(_messages);
        NativeMemory.Free(_iov);
    }
}
