using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace GhostChat.Server.Tests.Infrastructure;

/// <summary>A received signaling message: the raw text and its parsed form.</summary>
public sealed record Received(string Raw, JsonElement Json)
{
    public string? Type => Json.TryGetProperty("type", out var t) ? t.GetString() : null;
    public string? Src => Json.TryGetProperty("src", out var s) ? s.GetString() : null;
    public string? Dst => Json.TryGetProperty("dst", out var d) ? d.GetString() : null;
    public JsonElement Payload => Json.GetProperty("payload");
    public string? ErrorMessage => Json.TryGetProperty("payload", out var p) && p.ValueKind == JsonValueKind.Object && p.TryGetProperty("msg", out var m) ? m.GetString() : null;
}

/// <summary>A real WebSocket client speaking raw frames, recording what the server sends and how it closes.</summary>
public sealed class PeerClient : IAsyncDisposable
{
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(15);

    private readonly ClientWebSocket _socket;
    private readonly Channel<Received> _inbox = Channel.CreateUnbounded<Received>();
    private readonly TaskCompletionSource<(WebSocketCloseStatus? Status, string? Reason)> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly Task _reader;

    private PeerClient(ClientWebSocket socket)
    {
        _socket = socket;
        _reader = Task.Run(ReadLoopAsync);
    }

    public static async Task<PeerClient> ConnectAsync(Uri uri, Action<ClientWebSocketOptions>? configure = null)
    {
        var socket = new ClientWebSocket();
        configure?.Invoke(socket.Options);
        using var cts = new CancellationTokenSource(DefaultWait);
        await socket.ConnectAsync(uri, cts.Token);
        return new PeerClient(socket);
    }

    /// <summary>Completes with the close status and reason the server sent (null status if the connection just dropped).</summary>
    public Task<(WebSocketCloseStatus? Status, string? Reason)> Closed => _closed.Task;

    public Task SendAsync(object message) => SendTextAsync(JsonSerializer.Serialize(message));

    public Task SendTextAsync(string text) => SendRawAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text);

    public async Task SendRawAsync(byte[] bytes, WebSocketMessageType type)
    {
        await _sendLock.WaitAsync();
        try
        {
            await _socket.SendAsync(bytes, type, endOfMessage: true, CancellationToken.None);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>The next message, or a test failure after <paramref name="timeout"/>.</summary>
    public async Task<Received> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultWait);
        try
        {
            return await _inbox.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException ex)
        {
            throw new Xunit.Sdk.XunitException($"no message within {timeout ?? DefaultWait}", ex);
        }
        catch (ChannelClosedException ex)
        {
            throw new Xunit.Sdk.XunitException($"socket closed ({(_closed.Task.IsCompleted ? _closed.Task.Result : default)}) before a message arrived", ex);
        }
    }

    /// <summary>True if nothing arrives within <paramref name="window"/> (used only to show something was NOT sent).</summary>
    public async Task<Received?> TryReceiveAsync(TimeSpan window)
    {
        using var cts = new CancellationTokenSource(window);
        try
        {
            return await _inbox.Reader.ReadAsync(cts.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
        {
            return null;
        }
    }

    public async Task<(WebSocketCloseStatus? Status, string? Reason)> WaitClosedAsync(TimeSpan? timeout = null)
        => await _closed.Task.WaitAsync(timeout ?? DefaultWait);

    public WebSocketState State => _socket.State;

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[1 << 20];
        try
        {
            while (true)
            {
                var count = 0;
                WebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer.AsMemory(count).ToArraySegment(), CancellationToken.None);
                    count += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    _closed.TrySetResult((result.CloseStatus, result.CloseStatusDescription));
                    try
                    {
                        await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                    }
                    catch (WebSocketException)
                    {
                    }
                    break;
                }
                var text = Encoding.UTF8.GetString(buffer, 0, count);
                _inbox.Writer.TryWrite(new Received(text, JsonDocument.Parse(text).RootElement.Clone()));
            }
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or OperationCanceledException)
        {
            _closed.TrySetResult((null, ex.Message));
        }
        finally
        {
            _inbox.Writer.TryComplete();
        }
    }

    /// <summary>Closes from the client side, as a browser tab would.</summary>
    public async Task CloseAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            try
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
            }
            catch (WebSocketException)
            {
            }
        }
        await Task.WhenAny(_closed.Task, Task.Delay(DefaultWait));
    }

    /// <summary>Drops the TCP connection without a close handshake, as a lost network would.</summary>
    public void Abort() => _socket.Abort();

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            await CloseAsync();
        }
        _socket.Dispose();
        await Task.WhenAny(_reader, Task.Delay(1000));
        _sendLock.Dispose();
    }
}

internal static class MemoryExtensions2
{
    public static ArraySegment<byte> ToArraySegment(this Memory<byte> memory)
        => System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(memory, out var segment) ? segment : throw new InvalidOperationException();
}
