using GhostChat.Turn.Stun;

namespace GhostChat.Turn.Server;

/// <summary>
/// Binding (RFC 8489 §10.1.1): XOR-MAPPED-ADDRESS; on the RFC 5780 sockets also RESPONSE-ORIGIN and OTHER-ADDRESS,
/// and CHANGE-REQUEST honoured (other port always, other address when configured; otherwise 420).
/// </summary>
internal sealed class BindingHandler(StunResponder responder)
{
    private NatDiscovery? _discovery;

    /// <summary>The RFC 5780 sockets, once bound (null while off).</summary>
    public NatDiscovery? Discovery
    {
        get => Volatile.Read(ref _discovery);
        set => Volatile.Write(ref _discovery, value);
    }

    public void Handle(in TurnRequest request)
    {
        var packet = request.Packet;
        ref readonly var message = ref request.Message;
        var link = request.Link;
        var discovery = Discovery;
        int slot = -1;
        if (discovery is not null && link is UdpLink udp && discovery.TryGetSlot(udp.Socket, out var s))
        {
            slot = s;
        }
        bool changeRequested = message.ChangeRequest.Present;
        // Without RFC 5780 here (off, or TCP/TLS) CHANGE-REQUEST is an unknown attribute, as it always was.
        int unknown = message.UnknownCount - (slot >= 0 && changeRequested ? 1 : 0);
        if (unknown > 0)
        {
            responder.SendUnknownAttributes(in request, except: slot >= 0 ? StunConst.ChangeRequest : (ushort)0);
            return;
        }
        int reply = Math.Max(slot, 0);
        if (slot >= 0 && changeRequested)
        {
            if (message.ChangeRequest.Length != 4)
            {
                responder.SendError(in request, StunError.BadRequest, null);
                return;
            }
            byte flags = packet[message.ChangeRequest.Offset + 3];
            bool changeIp = (flags & StunConst.ChangeIpFlag) != 0;
            bool changePort = (flags & StunConst.ChangePortFlag) != 0;
            if (changeIp && !discovery!.HasAlternateAddress)
            {
                // RFC 5780 §6.1: a server that cannot change its address refuses the attribute.
                responder.SendUnknownAttributes(in request, reason: "No alternate address for CHANGE-REQUEST change IP");
                return;
            }
            reply = slot ^ (changePort ? 1 : 0) ^ (changeIp ? 2 : 0);
        }
        var w = new StunWriter(request.Response, StunConst.Binding, StunClass.Success, request.TransactionId);
        w.AddXorAddress(StunConst.XorMappedAddress, link.Remote);
        if (slot >= 0)
        {
            w.AddPlainAddress(StunConst.ResponseOrigin, discovery!.Origin(reply));
            w.AddPlainAddress(StunConst.OtherAddress, discovery.Other(slot));
        }
        responder.AddSoftware(ref w);
        w.AddFingerprint();
        if (reply != slot && slot >= 0)
        {
            new UdpLink(discovery!.SocketOf(reply), ((UdpLink)link).Address).Send(w.Written);
            return;
        }
        link.Send(w.Written);
    }
}
