using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace GhostChat.Cli.Bench;

/// <summary>
/// One PeerJS client as the server sees it: a WebSocket at {path}peerjs?key=&amp;id=&amp;token=,
/// registered once OPEN arrives. Relayed frames (anything but OPEN/ERROR/ID-TAKEN) go to
/// <see cref="Relayed"/>. Sends are serialised; a socket allows one send at a time.
/// </summary>
internal sealed class BenchPeer : IAsyncDisposable
{
    private static readonly byte[] Heartbeat = Encoding.UTF8.GetBytes("{\"type\":\"HEARTBEAT\"}");
    private const int ReceiveBufferBytes = 8 * 1024;

    private readonly ClientWebSocket _socket = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _receiving = Task.CompletedTask;

    private BenchPeer(string id) => Id = id;

    public string Id { get; }

    /// <summary>Called on the receive loop for each relayed frame (OFFER, ANSWER, EXPIRE …).</summary>
    public Func<BenchPeer, ReadOnlyMemory<byte>, ValueTask>? Relayed { get; set; }

    /// <summary>Frames the server sent that were not OPEN and not relayed by a handler.</summary>
    public long UnexpectedFrames;

    /// <summary>Opens the socket and waits for OPEN; throws <see cref="BenchException"/> if refused.</summary>
    public static async Task<BenchPeer> ConnectAsync(Uri socketBase, string key, string id, string token, TimeSpan openTimeout, CancellationToken cancellationToken)
    {
        var peer = new BenchPeer(id);
        peer._socket.Options.KeepAliveInterval = TimeSpan.Zero;
        var uri = new Uri(socketBase, $"peerjs?key={Uri.EscapeDataString(key)}&id={Uri.EscapeDataString(id)}&token={Uri.EscapeDataString(token)}&version=1.5.5");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(openTimeout);
        try
        {
            await peer._socket.ConnectAsync(uri, timeout.Token).ConfigureAwait(false);
            peer._receiving = peer.ReceiveLoopAsync();
            await peer._opened.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
            return peer;
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or BenchException or IOException)
        {
            await peer.DisposeAsync().ConfigureAwait(false);
            if (cancellationToken.IsCancellationRequested) throw;
            throw e as BenchException ?? new BenchException($"peer {id} did not register: {e.Message}", e);
        }
    }

    public Task SendHeartbeatAsync(CancellationToken cancellationToken) => SendAsync(Heartbeat, cancellationToken);

    public async Task SendAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _socket.SendAsync(frame, WebSocketMessageType.Text, true, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    public bool IsOpen => _socket.State == WebSocketState.Open;

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[ReceiveBufferBytes];
        var message = new MemoryStream();
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close) break;
                ReadOnlyMemory<byte> frame;
                if (result.EndOfMessage && message.Length == 0)
                {
                    frame = buffer.AsMemory(0, result.Count);
                }
                else
                {
                    message.Write(buffer, 0, result.Count);
                    if (!result.EndOfMessage) continue;
                    frame = message.GetBuffer().AsMemory(0, (int)message.Length);
                }
                await DispatchAsync(frame).ConfigureAwait(false);
                message.SetLength(0);
            }
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or OperationCanceledException or IOException)
        {
            // The socket went away; the phase that owns this peer notices through its counters.
        }
        _opened.TrySetException(new BenchException($"peer {Id}: the server closed the socket before OPEN ({_socket.CloseStatus} {_socket.CloseStatusDescription})"));
    }

    private async ValueTask DispatchAsync(ReadOnlyMemory<byte> frame)
    {
        var (type, message) = ReadTypeAndMessage(frame.Span);
        switch (type)
        {
            case "OPEN":
                _opened.TrySetResult();
                break;
            case "ERROR" or "ID-TAKEN":
                _opened.TrySetException(new BenchException($"peer {Id} refused: {type} {message}"));
                break;
            default:
                if (Relayed is { } handler) await handler(this, frame).ConfigureAwait(false);
                else Interlocked.Increment(ref UnexpectedFrames);
                break;
        }
    }

    /// <summary>The envelope's type and, for errors, payload.msg; a relayed frame stops at its type.</summary>
    private static (string? Type, string? Message) ReadTypeAndMessage(ReadOnlySpan<byte> frame)
    {
        try
        {
            var reader = new Utf8JsonReader(frame);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return (null, null);
            string? type = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    type = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    if (type is not ("ERROR" or "ID-TAKEN")) return (type, null);
                }
                else if (reader.ValueTextEquals("payload"u8) && type is not null)
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartObject) return (type, null);
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var isMsg = reader.ValueTextEquals("msg"u8);
                        reader.Read();
                        if (isMsg && reader.TokenType == JsonTokenType.String) return (type, reader.GetString());
                        reader.Skip();
                    }
                    return (type, null);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            return (type, null);
        }
        catch (JsonException)
        {
            return (null, null);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Abort();
        _socket.Dispose();
        await _receiving.ConfigureAwait(false);
        _sendLock.Dispose();
    }
}
