using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using GhostChat.Turn.Stun;
using Microsoft.Extensions.Logging;

namespace GhostChat.Turn.Server;

/// <summary>
/// The TCP and TLS side: accept loops, the connection caps (in total and per source), and one reader per connection
/// that frames the byte stream (<see cref="StreamFrameBuffer"/>) and demultiplexes each frame like a datagram. A
/// connection's idle deadline: the first message within <see cref="TurnServerOptions.StreamFirstMessageTimeout"/>,
/// then <see cref="TurnServerOptions.UnallocatedStreamTimeout"/> between well-formed messages while it holds no
/// allocation, none while it holds one (the allocation's lifetime bounds it).
/// </summary>
internal sealed class StreamListener(
    TurnServerOptions options,
    X509Certificate2? certificate,
    AllocationManager allocations,
    RequestHandler handler,
    TurnMetrics metrics,
    ILogger logger,
    CancellationToken stopping) : IDisposable
{
    private const int MaxStreamFrame = 65535 + StunConst.HeaderSize;

    private readonly List<Socket> _listeners = [];
    private readonly ConcurrentDictionary<PeerKey, int> _perSource = new();
    private readonly Lock _gate = new();
    private int _count;

    /// <summary>TCP and TLS connections now open.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Listens on <paramref name="address"/>:<paramref name="port"/>, with TLS or without; returns the bound endpoint.</summary>
    public IPEndPoint Listen(IPAddress address, int port, bool tls)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        socket.NoDelay = true;
        socket.Bind(new IPEndPoint(address, port));
        socket.Listen(512);
        _listeners.Add(socket);
        _ = AcceptLoopAsync(socket, tls);
        return (IPEndPoint)socket.LocalEndPoint!;
    }

    /// <summary>Closes the listening sockets (open connections end with the server's stopping token).</summary>
    public void Dispose()
    {
        foreach (var s in _listeners)
        {
            s.Dispose();
        }
    }

    private async Task AcceptLoopAsync(Socket listener, bool tls)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                if (stopping.IsCancellationRequested)
                {
                    return;
                }
                continue;
            }
            if (!TryAdmit(client, out var source))
            {
                continue;
            }
            _ = ServeStreamAsync(client, tls, source);
        }
    }

    /// <summary>The connection caps, in total and per source: a connection beyond them is closed at once.</summary>
    private bool TryAdmit(Socket client, out PeerKey source)
    {
        source = client.RemoteEndPoint is IPEndPoint remote ? PeerKey.FromEndPoint(remote).SourceBucket : default;
        string? refusal = null;
        lock (_gate)
        {
            if (_count >= options.MaxStreamConnections)
            {
                refusal = Refusal.ConnectionCap;
            }
            else if (_perSource.GetValueOrDefault(source) >= options.MaxStreamConnectionsPerSource)
            {
                refusal = Refusal.SourceConnectionCap;
            }
            else
            {
                _count++;
                _perSource[source] = _perSource.GetValueOrDefault(source) + 1;
            }
        }
        if (refusal is null)
        {
            return true;
        }
        metrics.Refuse(refusal);
        try
        {
            // A reset, not a FIN: no TIME_WAIT kept for a connection refused on arrival.
            client.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
        }
        client.Dispose();
        return false;
    }

    private void Release(PeerKey source)
    {
        lock (_gate)
        {
            _count--;
            CountTable.Decrement(_perSource, source);
        }
    }

    /// <summary>Serves one admitted connection; its place under the caps is given back however it ends.</summary>
    private async Task ServeStreamAsync(Socket socket, bool tls, PeerKey source)
    {
        try
        {
            await ServeConnectionAsync(socket, tls).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Reset before serving began.
            socket.Dispose();
        }
        finally
        {
            Release(source);
        }
    }

    private async Task ServeConnectionAsync(Socket socket, bool tls)
    {
        socket.NoDelay = true;
        var remote = (IPEndPoint)socket.RemoteEndPoint!;
        if (remote.Address.IsIPv4MappedToIPv6)
        {
            remote = new IPEndPoint(remote.Address.MapToIPv4(), remote.Port);
        }
        Stream stream = new NetworkStream(socket, ownsSocket: true);
        StreamLink? link = null;
        // Per-connection frame buffer: capped at the largest STUN message.
        var frames = new StreamFrameBuffer(4096, MaxStreamFrame + 4);
        // The TLS handshake and the first STUN message must come within the first-message deadline; after that
        // only a complete, well-formed STUN message re-arms the idle deadline (bytes that make none do not), and a
        // connection that holds an allocation has none (the allocation's lifetime bounds it).
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        idle.CancelAfter(options.StreamFirstMessageTimeout);
        try
        {
            if (tls)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, idle.Token).ConfigureAwait(false);
            }
            link = new StreamLink(stream, remote, metrics, idle, options.StreamSendQueueBytes, options.StreamWriteTimeout);
            while (!stopping.IsCancellationRequested)
            {
                if (frames.IsEmpty)
                {
                    // Idle between frames: give the buffer back and wait for bytes with a zero-byte read (TLS too:
                    // SslStream passes it down and frees its own buffer), so a quiet connection holds no buffer.
                    frames.Release();
                    _ = await stream.ReadAsync(Memory<byte>.Empty, idle.Token).ConfigureAwait(false);
                }
                var free = frames.FreeSpace();
                if (free.IsEmpty)
                {
                    return;
                }
                int n = await stream.ReadAsync(free, idle.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    return;
                }
                frames.Advance(n);
                if (!HandleFrames(frames, link))
                {
                    return; // Neither STUN nor ChannelData: the stream is out of sync.
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException or AuthenticationException)
        {
            if (idle.IsCancellationRequested && !stopping.IsCancellationRequested)
            {
                metrics.Refuse(link?.Heard == true ? Refusal.IdleTimeout : Refusal.FirstMessageTimeout);
            }
            string reason = ex.GetType().Name;
            Log.StreamClosed(logger, reason);
        }
        finally
        {
            frames.Discard();
            link?.Close();
            if (link?.Allocation is { } allocation)
            {
                allocations.Remove(allocation);
            }
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Handles every whole frame read so far; false when the stream is out of sync.</summary>
    private bool HandleFrames(StreamFrameBuffer frames, StreamLink link)
    {
        StreamFrame result;
        while ((result = frames.TryNext(out var frame)) == StreamFrame.Complete)
        {
            try
            {
                if (HandleFrame(frame, link))
                {
                    link.Heard = true;
                    link.ArmIdle(link.Allocation is null ? options.UnallocatedStreamTimeout : Timeout.InfiniteTimeSpan);
                }
            }
            catch (Exception ex)
            {
                metrics.HandlerFault(ex);
            }
        }
        return result != StreamFrame.OutOfSync;
    }

    /// <summary>Handles one frame; true when it was well-formed STUN or ChannelData on this connection's allocation.</summary>
    private bool HandleFrame(ReadOnlySpan<byte> frame, StreamLink link)
    {
        if (StunFraming.LooksLikeChannelData(frame))
        {
            if (link.Allocation is { } allocation)
            {
                allocation.RelayChannelData(frame);
                return true;
            }
            return false;
        }
        if (!StunMessage.TryParse(frame, out var message))
        {
            metrics.CountDropped();
            return false;
        }
        if (message.Class == StunClass.Indication)
        {
            if (message.Method == StunConst.Send && link.Allocation is { } allocation)
            {
                handler.HandleSend(new TurnRequest(frame, in message, link, allocation, default));
            }
            return true;
        }
        if (message.Class == StunClass.Request)
        {
            HandleRequest(frame, in message, link);
            return true;
        }
        return false;
    }

    /// <summary>A request: off the relay path, so its response buffer is not on that path's stack.</summary>
    private void HandleRequest(ReadOnlySpan<byte> frame, ref readonly StunMessage message, StreamLink link)
    {
        Span<byte> response = stackalloc byte[TurnRequest.ResponseBufferSize];
        handler.HandleRequest(new TurnRequest(frame, in message, link, link.Allocation, response));
    }
}
