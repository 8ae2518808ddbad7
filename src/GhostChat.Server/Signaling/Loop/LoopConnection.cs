using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;
using static GhostChat.Turn.Server.Udp.LinuxSockets;

namespace GhostChat.Server.Signaling.Loop;

/// <summary>
/// One signaling socket on a <see cref="SignalingLoop"/>, as the pipes <see cref="PipeWebSocket"/> reads
/// and writes. Reading: bytes are read by the loop into its shared buffer when new bytes arrive
/// and a reader waits; the reader runs inline on the loop thread and parses them there; what it
/// leaves (a partial frame) is copied into a buffer of this socket's own, rented only until it is
/// consumed. Readiness is edge-triggered: bytes that arrive while nobody waits are remembered
/// (<c>_readable</c>) and read by the next reader itself. Writing: frames are written into a rented buffer and sent at once with a non-blocking
/// send on the writer's thread; what the kernel does not take waits for EPOLLOUT, and the flush
/// completes when it is all sent (the writer is blocked meanwhile, as with Kestrel's pipe at its
/// limit, and <see cref="PeerSession"/> queues — within its budgets — behind it). An idle socket
/// holds no buffer and nothing armed but a one-shot EPOLLIN.
/// <para>All socket calls happen under one lock and never after <see cref="Close"/> or <see cref="DetachToSocket"/>, so a closed
/// descriptor (whose number the kernel may reuse) is never touched.</para>
/// </summary>
internal sealed unsafe partial class LoopConnection : PipeReader, IDuplexPipe, IValueTaskSource<ReadResult>
{
    private static long s_nextId;

    private readonly SignalingLoop _loop;
    private readonly Lock _gate = new();
    private readonly LoopWriter _writer;

    // Reading (under _gate).
    private byte[]? _in;
    private int _inStart;
    private int _inEnd;
    private bool _inBorrowed;      // _in is the loop's shared buffer: valid only on the loop thread, until the dispatch returns
    private bool _examinedAll;     // the reader saw every byte there: the next read waits for more
    private bool _readWaiting;
    private bool _readable = true; // bytes may be there that nobody has read (set by an edge while no reader waited, or a full read)
    private bool _readCancelPending;
    private bool _eof;
    private int _error;            // errno of a failed recv
    private ManualResetValueTaskSourceCore<ReadResult> _readCore;
    private CancellationTokenRegistration _readRegistration;

    private bool _closed;

    /// <summary>
    /// Takes the descriptor of an accepted <paramref name="socket"/>: from here on this connection
    /// owns it and closes it (or hands it to Kestrel as a new <see cref="Socket"/>, <see cref="DetachToSocket"/>).
    /// The <see cref="Socket"/> object, its handle object and its endpoints are left to the collector —
    /// about 250 bytes per idle socket that nothing here needs.
    /// </summary>
    internal LoopConnection(SignalingLoop loop, Socket socket)
    {
        _loop = loop;
        Remote = (socket.RemoteEndPoint as System.Net.IPEndPoint)?.Address;
        var handle = socket.SafeHandle;
        Fd = handle.DangerousGetHandle();
        handle.SetHandleAsInvalid(); // neither the handle nor the socket closes the descriptor now: it is ours
#pragma warning disable CA1816 // the socket object is dropped, never disposed: its finalizer has nothing to close
        GC.SuppressFinalize(socket);
#pragma warning restore CA1816
        Id = Interlocked.Increment(ref s_nextId);
        AcceptedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        _writer = new LoopWriter(this);
    }

    internal long Id { get; }

    internal nint Fd { get; }

    /// <summary>The client's address, until the first bytes were classified (<see cref="TakeRemote"/>).</summary>
    private System.Net.IPAddress? Remote { get; set; }

    /// <summary>The client's address, once: the connection keeps no reference to it afterwards.</summary>
    internal System.Net.IPAddress? TakeRemote()
    {
        var remote = Remote;
        Remote = null;
        return remote;
    }

    internal long AcceptedAt { get; }

    /// <summary>True until its first bytes were looked at (only the loop thread reads or clears it).</summary>
    internal bool Classifying { get; set; } = true;

    internal SignalingLoop Loop => _loop;

    public PipeReader Input => this;

    public PipeWriter Output => _writer;

    /// <summary>Looks at (without taking) up to <paramref name="max"/> bytes into the loop's shared buffer: the count, 0 at end of stream, -1 when none are there yet, -2 on error.</summary>
    internal int Peek(int max)
    {
        lock (_gate)
        {
            if (_closed)
            {
                return -2;
            }
            fixed (byte* p = _loop.Shared)
            {
                var n = Recv(Fd, p, (nuint)Math.Min(max, _loop.Shared.Length), MsgPeek | MsgDontWait);
                return n >= 0 ? (int)n : Marshal.GetLastPInvokeError() == EAgain ? -1 : -2;
            }
        }
    }

    /// <summary>Takes exactly <paramref name="count"/> bytes that <see cref="Peek"/> saw (the request head) off the socket.</summary>
    internal bool Discard(int count)
    {
        lock (_gate)
        {
            fixed (byte* p = _loop.Shared)
            {
                return !_closed && Recv(Fd, p, (nuint)count, MsgDontWait) == count;
            }
        }
    }

    /// <summary>A socket whose first readiness carried no bytes (its first writable edge): its next edge is looked at again.</summary>
    internal void WaitForFirstBytes() => Classifying = true;

    // --- reading ---------------------------------------------------------------------------------

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_readCancelPending)
            {
                _readCancelPending = false;
                return new(new ReadResult(CurrentLocked(), isCanceled: true, isCompleted: false));
            }
            if (_inEnd > _inStart && !_examinedAll)
            {
                return new(new ReadResult(CurrentLocked(), isCanceled: false, isCompleted: _eof || _closed));
            }
            if (_readable && !_eof && !_closed && _error == 0)
            {
                // An edge came while nobody waited (or the last read filled the buffer): read now, on this thread.
                _readable = false;
                DetachLocked();
                if (ReceiveLocked())
                {
                    _examinedAll = false;
                    if (_error == 0 || _inEnd > _inStart)
                    {
                        return new(new ReadResult(CurrentLocked(), isCanceled: false, isCompleted: _eof));
                    }
                }
            }
            if (_eof || _closed)
            {
                return new(new ReadResult(CurrentLocked(), isCanceled: false, isCompleted: true));
            }
            if (_error != 0)
            {
                return ValueTask.FromException<ReadResult>(new IOException("The signaling socket failed.", new SocketException(_error)));
            }
            cancellationToken.ThrowIfCancellationRequested();
            _readWaiting = true;
            _readCore.Reset();
            if (cancellationToken.CanBeCanceled)
            {
                _readRegistration = cancellationToken.UnsafeRegister(static (state, token) => ((LoopConnection)state!).CancelRead(token), this);
            }
            return new ValueTask<ReadResult>(this, _readCore.Version);
        }
    }

    public override bool TryRead(out ReadResult result)
    {
        lock (_gate)
        {
            if (_inEnd > _inStart && !_examinedAll)
            {
                result = new ReadResult(CurrentLocked(), false, _eof || _closed);
                return true;
            }
        }
        result = default;
        return false;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        lock (_gate)
        {
            if (_in is null || consumed.GetObject() is null)
            {
                _examinedAll = true;
                return;
            }
            _inStart = Math.Clamp(consumed.GetInteger(), _inStart, _inEnd);
            _examinedAll = examined.GetInteger() >= _inEnd;
            if (_inStart == _inEnd)
            {
                ReleaseInputLocked();
            }
        }
    }

    public override void CancelPendingRead()
    {
        ReadResult result;
        lock (_gate)
        {
            if (!_readWaiting)
            {
                _readCancelPending = true;
                return;
            }
            _readWaiting = false;
            result = new ReadResult(CurrentLocked(), isCanceled: true, isCompleted: false);
        }
        _readRegistration.Dispose();
        _readCore.SetResult(result);
    }

    private void CancelRead(CancellationToken token)
    {
        lock (_gate)
        {
            if (!_readWaiting)
            {
                return;
            }
            _readWaiting = false;
        }
        _readCore.SetException(new OperationCanceledException(token));
    }

    public override void Complete(Exception? exception = null)
    {
        // The reader is done; the socket is closed by its owner (Dispose).
    }

    ReadResult IValueTaskSource<ReadResult>.GetResult(short token) => _readCore.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token) => _readCore.GetStatus(token);

    void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _readCore.OnCompleted(continuation, state, token, flags);

    /// <summary>The unread bytes; off the loop thread, bytes still in the shared buffer are copied out first.</summary>
    private ReadOnlySequence<byte> CurrentLocked()
    {
        if (_inBorrowed && !_loop.IsLoopThread)
        {
            DetachLocked();
        }
        return _in is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(_in, _inStart, _inEnd - _inStart);
    }

    /// <summary>Moves unread bytes out of the loop's shared buffer into one of this socket's own.</summary>
    private void DetachLocked()
    {
        if (!_inBorrowed)
        {
            return;
        }
        _inBorrowed = false;
        var length = _inEnd - _inStart;
        if (length == 0)
        {
            _in = null;
            _inStart = _inEnd = 0;
            return;
        }
        var own = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1024));
        _in.AsSpan(_inStart, length).CopyTo(own);
        _in = own;
        _inStart = 0;
        _inEnd = length;
    }

    private void ReleaseInputLocked()
    {
        if (_in is not null && !_inBorrowed)
        {
            ArrayPool<byte>.Shared.Return(_in);
        }
        _in = null;
        _inBorrowed = false;
        _inStart = _inEnd = 0;
    }

    /// <summary>
    /// Reads what the socket has: into the shared buffer (on the loop thread), a rented one (elsewhere),
    /// or after the partial frame this socket keeps. False when it had nothing (EAGAIN). A read that
    /// fills the buffer leaves <c>_readable</c> set: more may be there, and no new edge would say so.
    /// </summary>
    private bool ReceiveLocked()
    {
        nint n;
        if (_in is null)
        {
            var shared = _loop.IsLoopThread;
            var target = shared ? _loop.Shared : ArrayPool<byte>.Shared.Rent(4096);
            fixed (byte* p = target)
            {
                n = Recv(Fd, p, (nuint)target.Length, MsgDontWait);
            }
            if (n > 0)
            {
                _in = target;
                _inBorrowed = shared;
                _inStart = 0;
                _inEnd = (int)n;
                _readable = n == target.Length;
            }
            else if (!shared)
            {
                ArrayPool<byte>.Shared.Return(target);
            }
        }
        else
        {
            if (_inEnd == _in.Length)
            {
                var length = _inEnd - _inStart;
                var target = length * 2 > _in.Length ? ArrayPool<byte>.Shared.Rent(_in.Length * 2) : _in;
                _in.AsSpan(_inStart, length).CopyTo(target);
                if (!ReferenceEquals(target, _in))
                {
                    ArrayPool<byte>.Shared.Return(_in);
                }
                _in = target;
                _inStart = 0;
                _inEnd = length;
            }
            fixed (byte* p = &_in[_inEnd])
            {
                n = Recv(Fd, p, (nuint)(_in.Length - _inEnd), MsgDontWait);
            }
            if (n > 0)
            {
                _inEnd += (int)n;
                _readable = _inEnd == _in.Length;
            }
        }
        if (n == 0)
        {
            _eof = true;
        }
        else if (n < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is EAgain or EIntr)
            {
                return false;
            }
            _error = errno;
        }
        return true;
    }

    // --- readiness (loop thread) -----------------------------------------------------------------

    /// <summary>The socket was reported ready: feed a waiting reader, resume a blocked writer.</summary>
    internal void OnReady(uint events)
    {
        var read = false;
        ReadResult readResult = default;
        var readFailed = false;
        var flushed = false;
        FlushResult flushResult = default;
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }
            if ((events & (EpollIn | EpollRdHup | EpollErr | EpollHup)) != 0)
            {
                if (!_readWaiting)
                {
                    _readable = true; // the next reader reads it
                }
                else
                {
                    DetachLocked();
                    if (ReceiveLocked())
                    {
                        _readWaiting = false;
                        _examinedAll = false;
                        read = true;
                        readFailed = _error != 0 && _inEnd == _inStart;
                        readResult = new ReadResult(CurrentLocked(), false, _eof);
                    }
                }
            }
            if ((events & (EpollOut | EpollErr | EpollHup)) != 0)
            {
                if (_writer.Waiting)
                {
                    flushed = _writer.TryResumeLocked(out flushResult);
                }
                else
                {
                    _writer.SendLeftLocked();
                }
            }
        }
        if (flushed)
        {
            _writer.Complete(flushResult);
        }
        if (read)
        {
            _readRegistration.Dispose();
            if (readFailed)
            {
                _readCore.SetException(new IOException("The signaling socket failed.", new SocketException(_error)));
            }
            else
            {
                _readCore.SetResult(readResult); // the reader runs here, on the loop thread
            }
            lock (_gate)
            {
                DetachLocked(); // the shared buffer is the next socket's now
            }
        }
    }

    internal Lock Gate => _gate;

    internal bool ClosedLocked => _closed;

    // --- closing ---------------------------------------------------------------------------------

    /// <summary>
    /// Closes the socket: bytes the kernel holds still go out (then FIN) unless <paramref name="abort"/>,
    /// which resets the connection at once. Waiting readers and writers complete.
    /// </summary>
    internal void Close(bool abort)
    {
        bool readWaiting;
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }
            // What a corked send holds (a close frame, say) goes out now, as far as the kernel takes it without waiting.
            _writer.SendLeftLocked(closing: true);
            _closed = true;
            readWaiting = _readWaiting;
            _readWaiting = false;
            ReleaseInputLocked();
            _loop.Remove(this, deregister: false);
            if (abort)
            {
                // SO_LINGER on, 0 s: close resets the connection instead of sending what is left. A
                // failure (already reset by the peer) changes nothing.
                var linger = stackalloc int[2] { 1, 0 };
                _ = SetSockOpt((int)Fd, SolSocket, SoLinger, linger, 2 * sizeof(int));
            }
            _ = GhostChat.Turn.Server.Udp.LinuxSockets.Close((int)Fd); // the descriptor leaves epoll with it
        }
        _writer.OnClosed();
        if (readWaiting)
        {
            _readRegistration.Dispose();
            _readCore.SetResult(new ReadResult(ReadOnlySequence<byte>.Empty, false, true));
        }
    }

    /// <summary>
    /// Takes the socket off the loop without closing it, as a <see cref="Socket"/> that owns the
    /// descriptor (to hand it to Kestrel); null when the descriptor is already closed or the socket
    /// cannot be made (then the descriptor is closed).
    /// </summary>
    internal Socket? DetachToSocket()
    {
        lock (_gate)
        {
            if (_closed)
            {
                return null;
            }
            _closed = true;
            _loop.Remove(this, deregister: true);
            try
            {
                return new Socket(new SafeSocketHandle(Fd, ownsHandle: true));
            }
            catch (SocketException)
            {
                _ = GhostChat.Turn.Server.Udp.LinuxSockets.Close((int)Fd);
                return null;
            }
        }
    }

    private const int SolSocket = 1;
    private const int SoLinger = 13;

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static partial int SetSockOpt(int fd, int level, int name, void* value, uint length);

    // --- writing (LoopWriter calls these under _gate) ---------------------------------------------

    /// <summary>Sends from <paramref name="buffer"/>: bytes sent, -1 when the kernel takes none now, -2 when the peer is gone.</summary>
    internal int SendLocked(byte[] buffer, int start, int length)
    {
        if (_closed)
        {
            return -2;
        }
        while (true)
        {
            nint n;
            fixed (byte* p = &buffer[start])
            {
                n = Send(Fd, p, (nuint)length, MsgDontWait | MsgNoSignal);
            }
            if (n >= 0)
            {
                return (int)n;
            }
            var errno = Marshal.GetLastPInvokeError();
            if (errno == EIntr)
            {
                continue;
            }
            return errno == EAgain ? -1 : -2;
        }
    }
}
