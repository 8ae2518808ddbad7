using System.Net.WebSockets;

namespace GhostChat.Server.Signaling;

/// <summary>
/// One signaling WebSocket. Sends never interleave: whoever finds the socket idle sends at once,
/// on its own thread (no hand-off to a writer task, so a relayed message costs no thread hop),
/// and frames arriving meanwhile wait in a small bounded queue that the same sender drains. A
/// socket whose queue is full is too slow and gets closed; an idle socket holds no queue and no
/// task. The close frame is sent after every queued frame.
/// </summary>
internal sealed class PeerSession : IDisposable
{
    /// <summary>How long a closing socket gets to finish writing and to answer our close frame.</summary>
    internal static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);

    private static long s_serial;

    private readonly WebSocket _socket;
    private readonly int _capacity;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _lifetime = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Queue<byte[]>? _pending;
    private bool _sending;
    private bool _closeRequested;
    private WebSocketCloseStatus _closeStatus = WebSocketCloseStatus.NormalClosure;
    private string? _closeReason;
    private long _lastSeen;

    internal PeerSession(WebSocket socket, string clientKey, long now, int outboundCapacity)
    {
        _socket = socket;
        ClientKey = clientKey;
        _lastSeen = now;
        _capacity = outboundCapacity;
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
    internal Task Closed => _closed.Task;

    /// <summary>Timestamp (<see cref="TimeProvider.GetTimestamp"/>) of the last frame received.</summary>
    internal long LastSeen
    {
        get => Volatile.Read(ref _lastSeen);
        set => Volatile.Write(ref _lastSeen, value);
    }

    /// <summary>Sends or queues a frame. False when the socket is closing or too far behind.</summary>
    internal bool TrySend(byte[] frame)
    {
        lock (_gate)
        {
            if (_closeRequested)
            {
                return false;
            }
            if (_sending)
            {
                _pending ??= new Queue<byte[]>(4);
                if (_pending.Count >= _capacity)
                {
                    return false;
                }
                _pending.Enqueue(frame);
                return true;
            }
            _sending = true;
        }
        _ = PumpAsync(frame); // runs synchronously while the transport accepts the bytes at once
        return true;
    }

    /// <summary>
    /// Starts closing: frames already queued are still written, then a close frame with
    /// <paramref name="status"/> and <paramref name="reason"/>. Idempotent: the first request wins.
    /// </summary>
    internal void Close(WebSocketCloseStatus status, string? reason)
    {
        bool sendNow;
        lock (_gate)
        {
            if (_closeRequested)
            {
                return;
            }
            _closeRequested = true;
            _closeStatus = status;
            _closeReason = reason;
            sendNow = !_sending; // otherwise the running pump sends it after the queue
            _sending = true;
        }
        try
        {
            // However the close goes (a peer that stopped reading blocks our sends), it ends by then.
            _lifetime.CancelAfter(CloseTimeout);
        }
        catch (ObjectDisposedException)
        {
            // The session already ended.
        }
        if (sendNow)
        {
            _ = SendCloseAsync();
        }
    }

    private async Task PumpAsync(byte[] frame)
    {
        try
        {
            while (true)
            {
                await _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, _lifetime.Token);
                lock (_gate)
                {
                    if (_pending is { Count: > 0 })
                    {
                        frame = _pending.Dequeue();
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
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or IOException or OperationCanceledException)
        {
            // The peer went away: drop what is queued; the receive side notices and ends the session.
            lock (_gate)
            {
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
            _closed.TrySetResult();
        }
    }

    public void Dispose() => _lifetime.Dispose();
}
