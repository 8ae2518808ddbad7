using System.Net;
using System.Net.Sockets;

namespace GhostChat.Testing;

/// <summary>
/// Loopback ports free right now (the kernel picks them; nothing is held after the call, so a caller that loses a race
/// binds again).
/// </summary>
public static class FreePorts
{
    public static int Udp() => Pick(SocketType.Dgram);

    public static int Tcp() => Pick(SocketType.Stream);

    /// <summary>A port free for both UDP and TCP (a STUN/TURN server listens on both).</summary>
    public static int UdpAndTcp()
    {
        for (int i = 0; ; i++)
        {
            int port = Udp();
            if (IsFree(port, SocketType.Stream))
            {
                return port;
            }
            if (i > 50)
            {
                throw new InvalidOperationException("no port free for both UDP and TCP");
            }
        }
    }

    /// <summary>A port free for UDP and TCP whose next port is free too (coturn may take port+1 as its alternate).</summary>
    public static int UdpAndTcpPair()
    {
        for (int attempt = 0; ; attempt++)
        {
            int port = Udp();
            if (port < 65535 && IsFree(port, SocketType.Stream) && IsFree(port + 1, SocketType.Dgram) && IsFree(port + 1, SocketType.Stream))
            {
                return port;
            }
            if (attempt > 50)
            {
                throw new InvalidOperationException("no free port pair");
            }
        }
    }

    /// <summary>True when <paramref name="port"/> can be bound on 127.0.0.1 now.</summary>
    public static bool IsFree(int port, SocketType type)
    {
        using var s = new Socket(AddressFamily.InterNetwork, type, type == SocketType.Stream ? ProtocolType.Tcp : ProtocolType.Udp);
        try
        {
            s.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int Pick(SocketType type)
    {
        using var s = new Socket(AddressFamily.InterNetwork, type, type == SocketType.Stream ? ProtocolType.Tcp : ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }
}
