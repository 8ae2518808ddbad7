using System.Net.WebSockets;

namespace GhostChat.Server.Signaling;

/// <summary>
/// One signaling WebSocket. Sends never interleave: whoever finds the socket idle sends at once,
/// on its own thread (no hand-off to a writer task, so a relayed message costs no thread hop),
/// and frames arriving meanwhile wait in a queue that the same sender drains — on the fast path
/// (<see cref="PipeWebSocket"/>) all of them at once, with one flush. The queue is bounded
/// in frames and in bytes (the frame being written counts too), per socket and — through the
/// node's <see cref="OutboundBudget"/> — for all sockets together; a frame that does not fit is
/// refused and the caller closes the socket as too slow. An idle socket holds no queue and no
/// task. The close frame is sent after every queued frame.
/// <para>A relayed frame (<see cref="Send(in RelayFrame)"/>) is written straight into the socket's
/// outgoing buffer when the socket is idle, and becomes a byte array only to wait in the queue. On
/// the socket loop this session's lock is the connection's, so such a send takes one lock: the
/// session's state is checked, the frame written and flushed (corked until the loop's batch ends,
/// or sent) in one hold of it, and nothing is left to track unless the kernel's buffer is full.</para>
/// </summary>
internal sealed class PeerSession : IDisposable
{
    /// <summary>How long a closing socket gets to finish writing and to answer our close frame.</summary>
    internal static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);

    private static long s_serial;

    private readonly WebSocket _socket;
    private readonly int _capacity;
    private readonly int _maxBytes;
    private readonly OutboundBudget _budget;
    private readonly Lock _gate; // on the socket loop: the connection's lock (PipeWebSocket.SendGate)
    private readonly CancellationTokenSource _lifetime = new();
    private TaskCompletionSource? _closed; // made when someone waits for the close or it is sent: idle sessions hold none
    private Queue<byte[]>? _pending;
    private bool _sending;
    private bool _closeRequested;
    private WebSocketCloseStatus _closeStatus = WebSocketCloseStatus.NormalClosure;
    private string? _closeReason;
    private long _lastSeen;
    private long _outstanding; // bytes accepted and not yet written or dropped (under _gate)
    private int _unsent; // frames accepted and not yet written or dropped, the one(s) being written included (under _gate)

    internal PeerSession(WebSocket socket, string clientKey, long now, int outboundCapacity, int outboundBytes, OutboundBudget budget)
    {
        _socket = socket;
        _gate = (socket as PipeWebSocket)?.SendGate ?? new Lock();
        ClientKey = clientKey;
        _lastSeen = now;
        _capacity = outboundCapacity;
        _maxBytes = outboundBytes;
        _budget = budget;
    }

    /// <summary>Unique on this node for the life of the process: tells two sessions of one id apart.</summary>
    internal long Serial { get; } = Interlocked.Increment(ref s_serial);

    /// <summary>The registered id; null until registration succeeds.</summary>
    public string? Id { get; internal set; }

    /// <summary>The client's secret token for its id.</summary>
    internal string Token { get; set; } = "";

    /// <summary>The client's address key for per-address limits (never logged at Information).</summary>
    internal string ClientKey { get; }

    /// <summary>Cancelled <see cref="CloseTimeout"/> after this session starts closing.</summary>
    internal CancellationToken Lifetime => _lifetime.Token;

    internal bool IsClosing
    {
        get
        {
            lock (_gate)
            {
                return _closeRequested;
            }
        }
    }

    /// <summary>Completes once our close frame is sent (or can no longer be).</summary>
    internal Task Closed => ClosedSource().Task;

    private TaskCompletionSource ClosedSource()
    {
        lock (_gate)
        {
            return _closed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    /// <summary>Timestamp (<see cref="TimeProvider.GetTimestamp"/>) of the last frame received.</summary>
    internal long LastSeen
    {
        get => Volatile.Read(ref _lastSeen);
        set => Volatile.Write(ref _lastSeen, value);
    }

    /// <summary>Sends or queues a frame. False when the socket is closing or too far behind.</summary>
    internal bool TrySend(byte[] frame) => Send(frame) == SendOutcome.Accepted;

    /// <summary>
    /// Sends or queues a frame. An idle socket always takes it (written at once, or in flight);
    /// behind a frame in flight it must fit the socket's frame and byte budgets and the node's.
    /// </summary>
    internal SendOutcome Send(byte[] frame)
    {
        lock (_gate)
        {
            if (_closeRequested)
            {
                return SendOutcome.Closing;
            }
            if (_sending)
            {
                var outcome = TryQueueLocked(frame.Length);
                if (outcome == SendOutcome.Accepted)
                {
                    (_pending ??= new Queue<byte[]>(4)).Enqueue(frame);
                }
                return outcome;
            }
            StartSendingLocked(frame.Length);
        }
        _ = PumpAsync(frame, default); // runs synchronously while the transport accepts the bytes at once
        return SendOutcome.Accepted;
    }

    /// <summary>
    /// As <see cref="Send(byte[])"/> for a relayed frame that is not yet bytes anywhere: an idle
    /// socket on the fast path gets it written straight into its outgoing buffer; it becomes a byte
    /// array only when it has to wait behind a frame in flight (or another writer holds the socket).
    /// </summary>
    internal SendOutcome Send(scoped in RelayFrame frame)
    {
        var length = frame.Length;
        var written = false;
        Exception? failed = null;
        ValueTask pending = default;
        lock (_gate)
        {
            if (_closeRequested)
            {
                return SendOutcome.Closing;
            }
            if (_sending)
            {
                var outcome = TryQueueLocked(length);
                if (outcome == SendOutcome.Accepted)
                {
                    (_pending ??= new Queue<byte[]>(4)).Enqueue(frame.ToArray());
                }
                return outcome;
            }
            if (_socket is PipeWebSocket loop && loop.SendGate == _gate)
            {
                // On the socket loop our lock is the connection's: the frame is written and flushed in
                // this one hold of it. Sent (or corked for after the loop's batch): nothing to track.
                try
                {
                    var write = loop.TryWriteTextFrameLocked(frame, _lifetime.Token, out pending);
                    if (write == LoopWrite.Done)
                    {
                        return SendOutcome.Accepted;
                    }
                    written = write == LoopWrite.Pending;
                }
                catch (Exception ex) when (IsSendFailure(ex))
                {
                    (written, failed) = (true, ex);
                }
            }
            StartSendingLocked(length);
        }
        if (written)
        {
            _ = PumpAsync(null, pending, length, failed); // the pump finishes the flush (or the failure) and drains what queued meanwhile
            return SendOutcome.Accepted;
        }
        // Ours to send now (_sending): nobody else writes until the pump below says it is done.
        ValueTask started;
        try
        {
            if (_socket is not PipeWebSocket lean || !lean.TryStartTextFrame(frame, _lifetime.Token, out started))
            {
                _ = PumpAsync(frame.ToArray(), default);
                return SendOutcome.Accepted;
            }
        }
        catch (Exception ex) when (IsSendFailure(ex))
        {
            _ = PumpAsync(null, default, length, ex); // ends as a failed send does
            return SendOutcome.Accepted;
        }
        _ = PumpAsync(null, started, length); // the frame is written: the pump finishes its flush and drains what queued meanwhile
        return SendOutcome.Accepted;
    }

    /// <summary>Behind a frame in flight: room for <paramref name="length"/> more bytes in this socket's budgets and the node's (reserved if so).</summary>
    private SendOutcome TryQueueLocked(int length)
    {
        // The frame being written is not counted against the frame cap (as when batches were single frames).
        if (_unsent - 1 >= _capacity || _outstanding + length > _maxBytes)
        {
            return SendOutcome.OverSocketBudget;
        }
        if (!_budget.TryReserve(length))
        {
            return SendOutcome.OverNodeBudget;
        }
        _outstanding += length;
        _unsent++;
        return SendOutcome.Accepted;
    }

    /// <summary>An idle socket always takes a frame: it is this caller's to write.</summary>
    private void StartSendingLocked(int length)
    {
        _sending = true;
        _budget.Reserve(length);
        _outstanding = length;
        _unsent = 1;
    }

    private static bool IsSendFailure(Exception ex)
        => ex is WebSocketException or ObjectDisposedException or IOException or OperationCanceledException or InvalidOperationException;

    /// <summary>
    /// Starts closing: frames already queued are still written, then a close frame with
    /// <paramref name="status"/> and <paramref name="reason"/>. Idempotent: the first request wins.
    /// </summary>
    internal void Close(WebSocketCloseStatus status, string? reason) => _ = TryClose(status, reason);

    /// <summary>As <see cref="Close"/>; true for the one call that started closing.</summary>
    internal bool TryClose(WebSocketCloseStatus status, string? reason)
    {
        bool sendNow;
        lock (_gate)
        {
            if (_closeRequested)
            {
                return false;
            }
            _closeRequested = true;
            _closeStatus = status;
            _closeReason = reason;
            sendNow = !_sending; // otherwise the running pump sends it after the queue
            _sending = true;
        }
        try
        {
            // However the close goes (a peer that stopped reading blocks our sends, or never answers
            // our close frame), it ends by then: the socket is aborted, which also ends the receive
            // loop's idle wait (that wait holds no cancellation registration, so an idle peer costs none).
            _lifetime.CancelAfter(CloseTimeout);
            _lifetime.Token.UnsafeRegister(static socket => ((WebSocket)socket!).Abort(), _socket);
        }
        catch (ObjectDisposedException)
        {
            // The session already ended.
        }
        if (sendNow)
        {
            _ = SendCloseAsync();
        }
        return true;
    }

    /// <summary>
    /// Writes <paramref name="frame"/> (or, when it is null, waits for <paramref name="started"/>: a
    /// frame of <paramref name="startedBytes"/> bytes already written and being flushed) and then
    /// whatever queued up meanwhile, batch by batch (<paramref name="failed"/>: writing the started frame failed): on the fast path a batch is the whole queue,
    /// written with one flush; otherwise frame by frame.
    /// </summary>
    private async Task PumpAsync(byte[]? frame, ValueTask started, int startedBytes = 0, Exception? failed = null)
    {
        Queue<byte[]>? batch = null; // frames taken from _pending to be written after `frame`
        long batchBytes = frame?.Length ?? startedBytes;
        try
        {
            while (true)
            {
                if (frame is null)
                {
                    // Only ever the first round.
                    if (failed is not null)
                    {
                        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failed);
                    }
                    await started;
                }
                else if (_socket is PipeWebSocket lean)
                {
                    await lean.SendTextFramesAsync(frame, batch, _lifetime.Token);
                }
                else
                {
                    await _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, _lifetime.Token);
                    while (batch is { Count: > 0 })
                    {
                        await _socket.SendAsync(batch.Peek(), WebSocketMessageType.Text, endOfMessage: true, _lifetime.Token);
                        var sent = batch.Dequeue();
                        lock (_gate)
                        {
                            _outstanding -= sent.Length;
                            _unsent--;
                            _budget.Release(sent.Length);
                        }
                        batchBytes -= sent.Length;
                    }
                }
                lock (_gate)
                {
                    _outstanding -= batchBytes;
                    _unsent -= 1 + (batch?.Count ?? 0);
                    _budget.Release(batchBytes);
                    batch?.Clear();
                    if (_pending is { Count: > 0 })
                    {
                        frame = _pending.Dequeue();
                        (batch, _pending) = (_pending, batch); // the rest of the queue is the next batch
                        batchBytes = frame.Length;
                        foreach (var queued in batch)
                        {
                            batchBytes += queued.Length;
                        }
                        continue;
                    }
                    if (!_closeRequested)
                    {
                        _sending = false;
                        _pending = null; // an idle socket keeps no queue
                        return;
                    }
                }
                break; // a close was requested while we were sending: it is ours to send
            }
        }
        catch (Exception ex) when (IsSendFailure(ex))
        {
            // The peer went away: drop what is queued (and the frames that failed); the receive side
            // notices and ends the session.
            lock (_gate)
            {
                _budget.Release(_outstanding);
                _outstanding = 0;
                _unsent = 0;
                _pending = null;
                if (!_closeRequested)
                {
                    _sending = false; // Close() will then try (and fail fast) and complete Closed
                    return;
                }
            }
        }
        await SendCloseAsync();
    }

    private async Task SendCloseAsync()
    {
        try
        {
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await _socket.CloseOutputAsync(_closeStatus, _closeReason, _lifetime.Token);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or IOException or OperationCanceledException)
        {
            // Nothing left to tell the peer.
        }
        finally
        {
            ClosedSource().TrySetResult();
        }
    }

    public void Dispose() => _lifetime.Dispose();
}

/// <summary>What <see cref="PeerSession.Send"/> did with a frame.</summary>
internal enum SendOutcome
{
    /// <summary>Written, being written, or queued.</summary>
    Accepted,

    /// <summary>The socket is closing; the frame is dropped.</summary>
    Closing,

    /// <summary>The socket's queue is full (frames or bytes): it does not read fast enough.</summary>
    OverSocketBudget,

    /// <summary>The socket is behind and the node's outbound budget is used up.</summary>
    OverNodeBudget,
}
