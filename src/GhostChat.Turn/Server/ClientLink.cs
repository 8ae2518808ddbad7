using System.Net;
using System.Net.Sockets;
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
            _socket.SendTo(data, SocketFlags.None, Address);
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

/// <summary>A TCP or TLS client. Writes are serialised; a failed write closes the stream.</summary>
internal sealed class StreamLink : ClientLink
{
    private readonly Stream _stream;
    private readonly Lock _writeLock = new();
    private bool _broken;

    public StreamLink(Stream stream, IPEndPoint remote)
        : base(PeerKey.FromEndPoint(remote))
    {
        _stream = stream;
    }

    public override bool IsStream => true;

    /// <summary>The allocation made over this connection, if any (one per 5-tuple).</summary>
    public Allocation? Allocation { get; set; }

    public override void Send(ReadOnlySpan<byte> data)
    {
        lock (_writeLock)
        {
            if (_broken)
            {
                return;
            }
            try
            {
                _stream.Write(data);
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException or InvalidOperationException)
            {
                _broken = true;
                _stream.Dispose();
            }
        }
    }
}
