using System.Net.WebSockets;
using System.Threading.Channels;

namespace GhostChat.Server.Signaling;

/// <summary>
/// One signaling WebSocket. Everything written to it goes through one bounded outbound queue and
/// one writer loop, so sends never interleave and a slow reader cannot stall the sender's loop.
/// </summary>
internal sealed class PeerSession : IDisposable
{
    private readonly WebSocket _socket;
    private readonly Channel<byte[]> _outbound;
    private readonly CancellationTokenSource _lifetime = new();
    private WebSocketCloseStatus _closeStatus = WebSocketCloseStatus.NormalClosure;
    private string? _closeReason;
    private int _closeRequested;
    private long _lastSeen;
    private static long s_serial;

    /// <summary>How long a closing socket gets to finish writing and to answer our close frame.</summary>
    internal static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);

    internal PeerSession(WebSocket socket, string clientKey, long now, int outboundCapacity)
    {
        _socket = socket;
        ClientKey = clientKey;
        _lastSeen = now;
        _outbound = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(outboundCapacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails, and we close the socket
        });
    }

    /// <summary>Unique on this node for the life of the process: tells two sessions of one id apart.</summary>
    internal long Serial { get; } = Interlocked.Increment(ref s_serial);

    /// <summary>The registered id; null until registration succeeds.</summary>
    public string? Id { get; internal set; }

    /// <summary>The client's secret token for its id.</summary>
    internal string Token { get; set; } = "";

    /// <summary>The client's address key for per-address limits (never logged at Information).</summary>
    internal string ClientKey { get; }

    /// <summary>Cancelled once this session starts closing.</summary>
    internal CancellationToken Lifetime => _lifetime.Token;

    internal bool IsClosing => Volatile.Read(ref _closeRequested) != 0;

    /// <summary>Timestamp (<see cref="TimeProvider.GetTimestamp"/>) of the last frame received.</summary>
    internal long LastSeen
    {
        get => Volatile.Read(ref _lastSeen);
        set => Volatile.Write(ref _lastSeen, value);
    }

    /// <summary>Queues a frame for this socket. False when the socket is closing or too far behind.</summary>
    internal bool TrySend(byte[] frame) => _outbound.Writer.TryWrite(frame);

    /// <summary>
    /// Starts closing: frames already queued are still written, then a close frame with
    /// <paramref name="status"/> and <paramref name="reason"/>.
    /// Idempotent: the first request wins.
    /// </summary>
    internal void Close(WebSocketCloseStatus status, string? reason)
    {
        if (Interlocked.Exchange(ref _closeRequested, 1) != 0)
        {
            return;
        }
        _closeStatus = status;
        _closeReason = reason;
        _outbound.Writer.TryComplete();
        try
        {
            // However the close goes (a peer that stopped reading blocks our sends), it ends by then.
            _lifetime.CancelAfter(CloseTimeout);
        }
        catch (ObjectDisposedException)
        {
            // The session already ended.
        }
    }

    /// <summary>Writes queued frames until the session closes, then sends the close frame.</summary>
    internal async Task RunWriterAsync()
    {
        try
        {
            await foreach (var frame in _outbound.Reader.ReadAllAsync(CancellationToken.None))
            {
                await _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, _lifetime.Token);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or IOException or OperationCanceledException)
        {
            // The peer went away; nothing to write to.
        }

        try
        {
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await _socket.CloseOutputAsync(_closeStatus, _closeReason, _lifetime.Token);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or IOException or OperationCanceledException)
        {
        }
    }

    public void Dispose() => _lifetime.Dispose();
}
