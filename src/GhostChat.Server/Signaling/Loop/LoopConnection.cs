using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;
using static GhostChat.Turn.Server.Udp.LinuxSockets;

namespace GhostChat.Server.Signaling.Loop;

/// <summary>
/// One signaling socket on a <see cref="SignalingLoop"/>, as the pipes <see cref="PipeWebSocket"/> reads
/// and writes. Reading: bytes are read by the loop into its shared buffer when the socket is ready
/// and a reader waits; the reader runs inline on the loop thread and parses them there; what it
/// leaves (a partial frame) is copied into a buffer of this socket's own, rented only until it is
/// consumed. Writing: frames are written into a rented buffer and sent at once with a non-blocking
/// send on the writer's thread; what the kernel does not take waits for EPOLLOUT, and the flush
/// completes when it is all sent (the writer is blocked meanwhile, as with Kestrel's pipe at its
/// limit, and <see cref="PeerSession"/> queues — within its budgets — behind it). An idle socket
/// holds no buffer and nothing armed but a one-shot EPOLLIN.
/// <para>All socket calls happen under one lock and never after <see cref="Dispose"/>, so a closed
/// descriptor (whose number the kernel may reuse) is never touched.</para>
/// </summary>
internal sealed unsafe class LoopConnection : PipeReader, IDuplexPipe, IValueTaskSource<ReadResult>
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
    private bool _readCancelPending;
    private bool _eof;
    private int _error;            // errno of a failed recv
    private ManualResetValueTaskSourceCore<ReadResult> _readCore;
    private CancellationTokenRegistration _readRegistration;

    private bool _closed;

    internal LoopConnection(SignalingLoop loop, Socket socket)
    {
        _loop = loop;
        Socket = socket;
        Fd = socket.Handle;
        Id = Interlocked.Increment(ref s_nextId);
        AcceptedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        _writer = new LoopWriter(this);
    }

    internal long Id { get; }

    internal nint Fd { get; }

    internal Socket Socket { get; }

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

    /// <summary>Re-arms a socket whose first readiness turned out to carry nothing (spurious).</summary>
    internal void ArmForFirstBytes()
    {
        lock (_gate)
        {
            if (!_closed)
            {
                Classifying = true;
                _loop.Arm(this, EpollIn);
            }
        }
    }

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
            ArmLocked();
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

    /// <summary>Reads what the socket has: into the shared buffer, or after the partial frame this socket keeps. False when it had nothing (EAGAIN).</summary>
    private bool ReceiveLocked()
    {
        nint n;
        if (_in is null)
        {
            fixed (byte* p = _loop.Shared)
            {
                n = Recv(Fd, p, (nuint)_loop.Shared.Length, MsgDontWait);
            }
            if (n > 0)
            {
                _in = _loop.Shared;
                _inBorrowed = true;
                _inStart = 0;
                _inEnd = (int)n;
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
            if (_readWaiting && ReceiveLocked())
            {
                _readWaiting = false;
                _examinedAll = false;
                read = true;
                readFailed = _error != 0 && _inEnd == _inStart;
                readResult = new ReadResult(CurrentLocked(), false, _eof);
            }
            if (_writer.Waiting && (events & (EpollOut | EpollErr | EpollHup)) != 0)
            {
                flushed = _writer.TryResumeLocked(out flushResult);
            }
            ArmLocked();
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

    /// <summary>Arms the socket for what is waited on now (nothing: it stays disarmed).</summary>
    internal void ArmLocked()
    {
        uint events = (_readWaiting ? (uint)EpollIn : 0) | (_writer.Waiting ? (uint)EpollOut : 0);
        if (events != 0 && !_closed)
        {
            _loop.Arm(this, events);
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
            _closed = true;
            readWaiting = _readWaiting;
            _readWaiting = false;
            ReleaseInputLocked();
            _loop.Remove(this, deregister: false);
            try
            {
                if (abort)
                {
                    Socket.LingerState = new LingerOption(true, 0);
                }
            }
            catch (SocketException)
            {
                // Already reset by the peer.
            }
            Socket.Dispose(); // closes the descriptor, which leaves epoll with it
        }
        _writer.OnClosed();
        if (readWaiting)
        {
            _readRegistration.Dispose();
            _readCore.SetResult(new ReadResult(ReadOnlySequence<byte>.Empty, false, true));
        }
    }

    /// <summary>Takes the socket off the loop without closing it (to hand it to Kestrel).</summary>
    internal void Detach()
    {
        lock (_gate)
        {
            _closed = true;
            _loop.Remove(this, deregister: true);
        }
    }

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
