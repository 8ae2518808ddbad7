using System.Net;
using System.Net.Sockets;
using GhostChat.Turn.Stun;

namespace GhostChat.Turn.Server;

/// <summary>
/// RFC 5780 NAT behaviour discovery: up to four UDP sockets — slot 0 the first listen address on the UDP port,
/// slot 1 the same address on <see cref="TurnServerOptions.AlternatePort"/>, slots 2 and 3 the
/// <see cref="TurnServerOptions.AlternateAddress"/> on both ports (bit 0 = other port, bit 1 = other address).
/// The extra sockets answer STUN Binding only; nothing else is served there.
/// </summary>
public sealed partial class TurnServer
{
    private readonly Socket?[] _stunSockets = new Socket?[4];
    private readonly PeerKey[] _stunOrigins = new PeerKey[4];
    private Dictionary<Socket, int>? _stunSlots;
    private bool _hasAlternateAddress;

    /// <summary>
    /// The bound STUN-only endpoints (empty when <see cref="TurnServerOptions.AlternatePort"/> is -1): first the first
    /// listen address on the alternate port, then, with an alternate address, that address on the UDP port and on the
    /// alternate port.
    /// </summary>
    public IReadOnlyList<IPEndPoint> AlternateEndPoints { get; private set; } = [];

    /// <summary>The bound alternate STUN port, or -1 when RFC 5780 discovery is off.</summary>
    public int AlternatePort => AlternateEndPoints.Count > 0 ? AlternateEndPoints[0].Port : -1;

    private void StartNatDiscovery(IPAddress primary, IPEndPoint primaryBound, List<Socket> primarySockets)
    {
        var slots = new Dictionary<Socket, int>();
        foreach (var s in primarySockets)
        {
            slots[s] = 0;
        }
        _stunSockets[0] = primarySockets[0];
        var bound = new List<IPEndPoint>();
        var alternatePort = BindStunOnly(primary, _options.AlternatePort, 1, slots, bound);
        if (_options.AlternateAddress is { } alternate)
        {
            var address = IPAddress.Parse(alternate);
            BindStunOnly(address, primaryBound.Port, 2, slots, bound);
            BindStunOnly(address, alternatePort, 3, slots, bound);
            _hasAlternateAddress = true;
        }
        for (int i = 0; i < 4; i++)
        {
            if (_stunSockets[i] is { } socket)
            {
                var local = (IPEndPoint)socket.LocalEndPoint!;
                // A wildcard bind cannot tell which address a datagram reached: tell the public one.
                var ip = local.Address.Equals(IPAddress.Any) || local.Address.Equals(IPAddress.IPv6Any) ? _advertised : local.Address;
                _stunOrigins[i] = PeerKey.FromEndPoint(new IPEndPoint(ip, local.Port));
            }
        }
        _stunSlots = slots;
        AlternateEndPoints = bound;
        string endPoints = string.Join(", ", bound);
        Log.NatDiscovery(_logger, endPoints);
    }

    private int BindStunOnly(IPAddress address, int port, int slot, Dictionary<Socket, int> slots, List<IPEndPoint> bound)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (address.AddressFamily == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = address.Equals(IPAddress.IPv6Any);
            }
            socket.Bind(new IPEndPoint(address, port));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        _udpSockets.Add(socket);
        _stunSockets[slot] = socket;
        slots[socket] = slot;
        var local = (IPEndPoint)socket.LocalEndPoint!;
        bound.Add(local);
        var thread = new Thread(() => UdpLoop(socket, bindingOnly: true)) { IsBackground = true, Name = "turn-stun-" + slot };
        _threads.Add(thread);
        thread.Start();
        return local.Port;
    }

    /// <summary>A datagram on a STUN-only socket: Binding requests are answered, everything else is dropped.</summary>
    private void HandleBindingOnlyUdp(Socket socket, ReadOnlySpan<byte> packet, SocketAddress from)
    {
        if (!StunMessage.TryParse(packet, out var message) || message.Class != StunClass.Request || message.Method != StunConst.Binding)
        {
            CountDropped();
            return;
        }
        Span<byte> buffer = stackalloc byte[ResponseBufferSize];
        HandleBinding(buffer, packet, ref message, new UdpLink(socket, Clone(from)));
    }

    /// <summary>
    /// Binding (RFC 8489 §10.1.1): XOR-MAPPED-ADDRESS; on the RFC 5780 sockets also RESPONSE-ORIGIN and OTHER-ADDRESS,
    /// and CHANGE-REQUEST honoured (other port always, other address when configured; otherwise 420).
    /// </summary>
    private void HandleBinding(Span<byte> buffer, ReadOnlySpan<byte> packet, ref StunMessage message, ClientLink link)
    {
        int slot = -1;
        if (_stunSlots is not null && link is UdpLink udp && _stunSlots.TryGetValue(udp.Socket, out var s))
        {
            slot = s;
        }
        bool changeRequested = message.ChangeRequest.Present;
        // Without RFC 5780 here (off, or TCP/TLS) CHANGE-REQUEST is an unknown attribute, as it always was.
        int unknown = message.UnknownCount - (slot >= 0 && changeRequested ? 1 : 0);
        if (unknown > 0)
        {
            SendUnknownAttributes(buffer, packet, ref message, link, except: slot >= 0 ? StunConst.ChangeRequest : (ushort)0);
            return;
        }
        int reply = Math.Max(slot, 0);
        if (slot >= 0 && changeRequested)
        {
            if (message.ChangeRequest.Length != 4)
            {
                SendError(buffer, packet, message.Method, link, StunError.BadRequest, null);
                return;
            }
            byte flags = packet[message.ChangeRequest.Offset + 3];
            bool changeIp = (flags & StunConst.ChangeIpFlag) != 0;
            bool changePort = (flags & StunConst.ChangePortFlag) != 0;
            if (changeIp && !_hasAlternateAddress)
            {
                // RFC 5780 §6.1: a server that cannot change its address refuses the attribute.
                SendUnknownAttributes(buffer, packet, ref message, link, reason: "No alternate address for CHANGE-REQUEST change IP");
                return;
            }
            reply = slot ^ (changePort ? 1 : 0) ^ (changeIp ? 2 : 0);
        }
        var w = new StunWriter(buffer, StunConst.Binding, StunClass.Success, StunMessage.TransactionId(packet));
        w.AddXorAddress(StunConst.XorMappedAddress, link.Remote);
        if (slot >= 0)
        {
            w.AddPlainAddress(StunConst.ResponseOrigin, _stunOrigins[reply]);
            w.AddPlainAddress(StunConst.OtherAddress, _stunOrigins[_hasAlternateAddress ? slot ^ 3 : slot ^ 1]);
        }
        AddSoftware(ref w);
        w.AddFingerprint();
        if (reply != slot && slot >= 0)
        {
            new UdpLink(_stunSockets[reply]!, ((UdpLink)link).Address).Send(w.Written);
            return;
        }
        link.Send(w.Written);
    }
}
