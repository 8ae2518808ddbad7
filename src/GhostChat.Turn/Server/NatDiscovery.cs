using System.Net;
using System.Net.Sockets;
using GhostChat.Turn.Stun;

namespace GhostChat.Turn.Server;

/// <summary>
/// RFC 5780 NAT behaviour discovery: up to four UDP sockets — slot 0 the first listen address on the UDP port,
/// slot 1 the same address on <see cref="TurnServerOptions.AlternatePort"/>, slots 2 and 3 the
/// <see cref="TurnServerOptions.AlternateAddress"/> on both ports (bit 0 = other port, bit 1 = other address).
/// The extra sockets answer STUN Binding only; nothing else is served there. Made once all are bound, then read only.
/// </summary>
internal sealed class NatDiscovery
{
    private readonly Socket?[] _sockets;
    private readonly PeerKey[] _origins = new PeerKey[4];
    private readonly Dictionary<Socket, int> _slots;

    /// <param name="sockets">Per slot, its socket (null when that slot is not served).</param>
    /// <param name="slots">Every socket that serves a slot (slot 0 may have several receive loops), and its slot.</param>
    /// <param name="advertised">The address told for a slot bound to a wildcard address.</param>
    public NatDiscovery(Socket?[] sockets, Dictionary<Socket, int> slots, IPAddress advertised)
    {
        _sockets = sockets;
        _slots = slots;
        HasAlternateAddress = sockets[2] is not null;
        for (int i = 0; i < 4; i++)
        {
            if (sockets[i] is { } socket)
            {
                var local = (IPEndPoint)socket.LocalEndPoint!;
                // A wildcard bind cannot tell which address a datagram reached: tell the public one.
                var ip = local.Address.Equals(IPAddress.Any) || local.Address.Equals(IPAddress.IPv6Any) ? advertised : local.Address;
                _origins[i] = PeerKey.FromEndPoint(new IPEndPoint(ip, local.Port));
            }
        }
    }

    /// <summary>True when CHANGE-REQUEST may ask for the other address (slots 2 and 3 exist).</summary>
    public bool HasAlternateAddress { get; }

    /// <summary>The slot a socket serves, if it serves one.</summary>
    public bool TryGetSlot(Socket socket, out int slot) => _slots.TryGetValue(socket, out slot);

    /// <summary>RESPONSE-ORIGIN of answers sent from <paramref name="slot"/>.</summary>
    public PeerKey Origin(int slot) => _origins[slot];

    /// <summary>OTHER-ADDRESS for a request that reached <paramref name="slot"/>.</summary>
    public PeerKey Other(int slot) => _origins[HasAlternateAddress ? slot ^ 3 : slot ^ 1];

    /// <summary>The socket answers from <paramref name="slot"/> leave through.</summary>
    public Socket SocketOf(int slot) => _sockets[slot]!;
}
