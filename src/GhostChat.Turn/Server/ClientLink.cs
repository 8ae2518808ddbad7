using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using GhostChat.Turn.Stun;

namespace GhostChat.Turn.Server;

/// <summary>The way back to one client: a UDP source address on a listener socket, or a TCP/TLS stream.</summary>
internal abstract class ClientLink
{
    protected ClientLink(PeerKey remote) => Remote = remote;

    /// <summary>The client's transport address (server-reflexive from our side).</summary>
    public PeerKey Remote { get; }

    /// <summary>True for stream transports: ChannelData is padded to 4 bytes there (RFC 8656 §12.5).</summary>
    public abstract bool IsStream { get; }

    /// <summary>Sends one message; errors are swallowed (UDP is lossy; a broken stream is closed by its reader).</summary>
    public abstract void Send(ReadOnlySpan<byte> data);
}

/// <summary>A UDP client: replies leave through the listener socket the request came in on.</summary>
internal sealed class UdpLink : ClientLink
{
    private readonly Socket _socket;

    public UdpLink(Socket socket, SocketAddress address)
        : base(PeerKey.FromSocketAddress(address))
    {
        _socket = socket;
        Address = address;
    }

    public SocketAddress Address { get; }

    /// <summary>The listener socket replies leave through.</summary>
    public Socket Socket => _socket;

    public override bool IsStream => false;

    public override void Send(ReadOnlySpan<byte> data)
    {
        try
        {
            // Linux: never waits for a full send buffer (the thread that sends reads every client's datagrams too);
            // the datagram is lost then, as UDP allows.
            if (Udp.LinuxSockets.Supported)
            {
                Udp.LinuxSockets.TrySendTo(_socket.SafeHandle, data, Address);
            }
            else
            {
                _socket.SendTo(data, SocketFlags.None, Address);
            }
        }
        catch (SocketException)
        {
            // Buffer full or ICMP unreachable reported late: a lost datagram, as UDP allows.
        }
        catch (ObjectDisposedException)
        {
        }
    }
}

/// <summary>
/// A TCP or TLS client. Sends go through a queue of at most a byte budget, written by one task: whoever sends
/// (a request handler, an allocation's relay loop) never waits for the client to read. Beyond the budget a send
/// is dropped; a client that takes longer than the write timeout to accept one write is disconnected.
/// </summary>
internal sealed class StreamLink : ClientLink
{
    private readonly Stream _stream;
    private readonly TurnMetrics _metrics;
    private readonly Channel<(byte[] Buffer, int Length)> _queue = Channel.CreateUnbounded<(byte[], int)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly int _budget;
    private readonly TimeSpan _writeTimeout;
    private readonly CancellationTokenSource _idle;
    private int _queued;
    private volatile bool _broken;

    public StreamLink(Stream stream, IPEndPoint remote, TurnMetrics metrics, CancellationTokenSource idle, int budget, TimeSpan writeTimeout)
        : base(PeerKey.FromEndPoint(remote))
    {
        _stream = stream;
        _metrics = metrics;
        _idle = idle;
        _budget = budget;
        _writeTimeout = writeTimeout;
        _ = WriteLoopAsync();
    }

    public override bool IsStream => true;

    /// <summary>The allocation made over this connection, if any (one per 5-tuple).</summary>
    public Allocation? Allocation { get; set; }

    /// <summary>True once a well-formed STUN message (or ChannelData on its allocation) came over this connection.</summary>
    public bool Heard { get; set; }

    /// <summary>Lets go of <paramref name="allocation"/> if it is this connection's, which is then idle again.</summary>
    public void Detach(Allocation allocation, TimeSpan idleTimeout)
    {
        if (Allocation == allocation)
        {
            Allocation = null;
            ArmIdle(idleTimeout);
        }
    }

    /// <summary>(Re)starts the idle deadline: the connection is closed unless it is armed again in time.</summary>
    public void ArmIdle(TimeSpan timeout)
    {
        try
        {
            _idle.CancelAfter(timeout);
        }
        catch (ObjectDisposedException)
        {
            // The connection has ended.
        }
    }

    public override void Send(ReadOnlySpan<byte> data)
    {
        if (_broken)
        {
            return;
        }
        if (Interlocked.Add(ref _queued, data.Length) > _budget)
        {
            Interlocked.Add(ref _queued, -data.Length);
            _metrics.CountDropped();
            _metrics.Refuse(Refusal.SendQueueFull);
            return;
        }
        var buffer = ArrayPool<byte>.Shared.Rent(data.Length);
        data.CopyTo(buffer);
        if (!_queue.Writer.TryWrite((buffer, data.Length)))
        {
            Interlocked.Add(ref _queued, -data.Length);
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Stops the writer; what is still queued is dropped.</summary>
    public void Close()
    {
        _broken = true;
        _queue.Writer.TryComplete();
    }

    private async Task WriteLoopAsync()
    {
        var timeout = new CancellationTokenSource();
        try
        {
            while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (_queue.Reader.TryRead(out var item))
                {
                    try
                    {
                        if (!_broken)
                        {
                            timeout.CancelAfter(_writeTimeout);
                            await _stream.WriteAsync(item.Buffer.AsMemory(0, item.Length), timeout.Token).ConfigureAwait(false);
                            if (!timeout.TryReset())
                            {
                                // The timer fired just as the write finished: the write was in time.
                                timeout.Dispose();
                                timeout = new CancellationTokenSource();
                            }
                        }
                    }
                    finally
                    {
                        Interlocked.Add(ref _queued, -item.Length);
                        ArrayPool<byte>.Shared.Return(item.Buffer);
                    }
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException or InvalidOperationException or OperationCanceledException)
        {
            if (ex is OperationCanceledException && !_broken)
            {
                _metrics.Refuse(Refusal.WriteTimeout);
            }
            _broken = true;
            _queue.Writer.TryComplete();
            // Closing the stream ends the reader too, which removes the allocation.
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            timeout.Dispose();
        }
        while (_queue.Reader.TryRead(out var rest))
        {
            Interlocked.Add(ref _queued, -rest.Length);
            ArrayPool<byte>.Shared.Return(rest.Buffer);
        }
    }
}
