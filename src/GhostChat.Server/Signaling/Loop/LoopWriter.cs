using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Tasks.Sources;

namespace GhostChat.Server.Signaling.Loop;

/// <summary>
/// The writing side of a <see cref="LoopConnection"/>: frames are written into a rented buffer (held
/// only until they are sent). <see cref="FlushAsync"/> on a loop thread (a message relayed while
/// the loop handles a batch of events) completes at once and the loop sends the socket's frames
/// once the batch is handled — everything relayed to one socket in that batch in one send, up to
/// <see cref="PipeWebSocket.FlushThreshold"/> bytes; elsewhere it sends at once, without blocking, on
/// the caller's thread. When the kernel's send buffer is full the flush waits for the writable edge and completes
/// on the loop thread once everything is sent; a peer that is gone completes it as
/// <see cref="FlushResult.IsCompleted"/>. One writer at a time (<see cref="PipeWebSocket"/>'s lock), or a
/// relayed frame written and flushed in one hold of the connection's lock when no writer is busy
/// (<see cref="CanWriteNowLocked"/>, <see cref="PipeWebSocket.TryWriteTextFrameLocked"/>).
/// </summary>
internal sealed class LoopWriter(LoopConnection connection) : PipeWriter, IValueTaskSource<FlushResult>
{
    private const int MinimumBuffer = 4096;

    private byte[]? _out;
    private int _outStart;
    private int _outEnd;
    private bool _broken;
    private bool _cancelPending;
    private bool _writing;   // a writer is between GetSpan and FlushAsync: the buffer is its own (set under the lock)
    private bool _corked;    // on a loop's list to be sent after its batch
    private ManualResetValueTaskSourceCore<FlushResult> _core;
    private CancellationTokenRegistration _registration;

    /// <summary>A flush waits for room (under the connection's lock).</summary>
    internal bool Waiting { get; private set; }

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _out.AsMemory(_outEnd);
    }

    public override Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _out.AsSpan(_outEnd);
    }

    public override void Advance(int bytes) => _outEnd += bytes;

    private void Ensure(int sizeHint)
    {
        if (!_writing)
        {
            lock (connection.Gate)
            {
                _writing = true; // a corked send waits for the next flush now
            }
        }
        EnsureRoom(sizeHint);
    }

    /// <summary>The connection's lock: <see cref="PeerSession"/> on the loop uses it for its send state too, so a relayed frame takes one lock.</summary>
    internal Lock Gate => connection.Gate;

    /// <summary>
    /// Under <see cref="Gate"/>: whether a frame may be written now in one hold of the lock
    /// (<see cref="WriteLocked"/>, <see cref="FlushLocked"/>): no other writer is between GetSpan and
    /// FlushAsync, no flush waits for room, no cancellation is pending, the socket is not broken.
    /// </summary>
    internal bool CanWriteNowLocked => !_writing && !Waiting && !_cancelPending && !_broken && !connection.ClosedLocked;

    /// <summary>Under <see cref="Gate"/> and only when <see cref="CanWriteNowLocked"/>: room for <paramref name="length"/> bytes, to be filled and then <see cref="AdvanceLocked"/>.</summary>
    internal Span<byte> WriteLocked(int length)
    {
        EnsureRoom(length);
        return _out.AsSpan(_outEnd, length);
    }

    internal void AdvanceLocked(int bytes) => _outEnd += bytes;

    [System.Diagnostics.CodeAnalysis.MemberNotNull(nameof(_out))]
    private void EnsureRoom(int sizeHint)
    {
        var need = Math.Max(sizeHint, 1);
        if (_out is null)
        {
            _out = ArrayPool<byte>.Shared.Rent(Math.Max(need, MinimumBuffer));
            _outStart = _outEnd = 0;
            return;
        }
        if (_out.Length - _outEnd >= need)
        {
            return;
        }
        var length = _outEnd - _outStart;
        var target = length + need > _out.Length ? ArrayPool<byte>.Shared.Rent(Math.Max(_out.Length * 2, length + need)) : _out;
        _out.AsSpan(_outStart, length).CopyTo(target);
        if (!ReferenceEquals(target, _out))
        {
            ArrayPool<byte>.Shared.Return(_out);
        }
        _out = target;
        _outStart = 0;
        _outEnd = length;
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        lock (connection.Gate)
        {
            _writing = false;
            return FlushLocked(cancellationToken);
        }
    }

    /// <summary>As <see cref="FlushAsync"/>, under <see cref="Gate"/>.</summary>
    internal ValueTask<FlushResult> FlushLocked(CancellationToken cancellationToken)
    {
        if (_cancelPending)
        {
            _cancelPending = false;
            return new(new FlushResult(isCanceled: true, isCompleted: false));
        }
        if (SignalingLoop.Current is { } loop && !_broken && !Waiting && _outEnd - _outStart < PipeWebSocket.FlushThreshold)
        {
            if (!_corked)
            {
                _corked = true;
                loop.Cork(this);
            }
            return new(new FlushResult(isCanceled: false, isCompleted: false));
        }
        if (SendLocked())
        {
            return new(new FlushResult(isCanceled: false, isCompleted: _broken));
        }
        cancellationToken.ThrowIfCancellationRequested();
        Waiting = true;
        _core.Reset(); // the socket's next writable edge resumes it (LoopConnection.OnReady)
        if (cancellationToken.CanBeCanceled)
        {
            _registration = cancellationToken.UnsafeRegister(static (state, token) => ((LoopWriter)state!).Cancel(token), this);
        }
        return new ValueTask<FlushResult>(this, _core.Version);
    }

    /// <summary>Sends what is buffered. True when done (all sent, or the peer is gone and the rest is dropped).</summary>
    private bool SendLocked()
    {
        while (_out is not null && _outStart < _outEnd && !_broken)
        {
            var n = connection.SendLocked(_out, _outStart, _outEnd - _outStart);
            if (n == -1)
            {
                return false;
            }
            if (n < 0)
            {
                _broken = true;
                break;
            }
            _outStart += n;
        }
        if (_out is not null)
        {
            ArrayPool<byte>.Shared.Return(_out);
            _out = null;
            _outStart = _outEnd = 0;
        }
        return true;
    }

    /// <summary>On the loop thread that corked it, after its batch: sends what was written (what the kernel does not take now goes on the next writable edge).</summary>
    internal void SendCorked()
    {
        lock (connection.Gate)
        {
            _corked = false;
            if (!_writing && !Waiting)
            {
                SendLocked();
            }
        }
    }

    /// <summary>
    /// A writable edge with no flush waiting: sends what a corked send left (under the connection's
    /// lock). <paramref name="closing"/>: the socket is about to close, so a corked batch goes now too.
    /// </summary>
    internal void SendLeftLocked(bool closing = false)
    {
        if (!_writing && !Waiting && (!_corked || closing))
        {
            SendLocked();
        }
    }

    /// <summary>EPOLLOUT (or an error) for a waiting flush, under the connection's lock: true when it is done.</summary>
    internal bool TryResumeLocked(out FlushResult result)
    {
        result = default;
        if (!SendLocked())
        {
            return false;
        }
        Waiting = false;
        result = new FlushResult(isCanceled: false, isCompleted: _broken);
        return true;
    }

    /// <summary>Completes a flush that <see cref="TryResumeLocked"/> finished (outside the lock).</summary>
    internal void Complete(FlushResult result)
    {
        _registration.Dispose();
        _core.SetResult(result);
    }

    /// <summary>The socket closed: a waiting flush ends as completed, buffered bytes are dropped.</summary>
    internal void OnClosed()
    {
        bool waiting;
        lock (connection.Gate)
        {
            _broken = true;
            waiting = Waiting;
            Waiting = false;
            if (_out is not null && !waiting)
            {
                ArrayPool<byte>.Shared.Return(_out);
                _out = null;
            }
        }
        if (waiting)
        {
            Complete(new FlushResult(isCanceled: false, isCompleted: true));
        }
    }

    public override void CancelPendingFlush()
    {
        lock (connection.Gate)
        {
            if (!Waiting)
            {
                _cancelPending = true;
                return;
            }
            Waiting = false;
        }
        Complete(new FlushResult(isCanceled: true, isCompleted: false));
    }

    private void Cancel(CancellationToken token)
    {
        lock (connection.Gate)
        {
            if (!Waiting)
            {
                return;
            }
            Waiting = false;
        }
        _core.SetException(new OperationCanceledException(token));
    }

    public override void Complete(Exception? exception = null)
    {
        // The writer is done; the socket is closed by its owner.
    }

    FlushResult IValueTaskSource<FlushResult>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<FlushResult>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<FlushResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);
}
