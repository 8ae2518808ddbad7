using System.Buffers.Binary;
using GhostChat.Turn.Security;
using GhostChat.Turn.Stun;
using Microsoft.Extensions.Logging;

namespace GhostChat.Turn.Server;

/// <summary>
/// The STUN/TURN methods, one handler each, every one taking the one <see cref="TurnRequest"/> value. Comments follow
/// the RFCs' numbered processing steps; every refusal maps to an RFC error code. The handlers keep no state of their
/// own: allocations live in the <see cref="AllocationManager"/>, permissions and channels in each
/// <see cref="Allocation"/>.
/// </summary>
internal sealed class RequestHandler(
    TurnServerOptions options,
    AllocationManager allocations,
    RequestAuthenticator authenticator,
    StunResponder responder,
    BindingHandler binding,
    PeerPolicy policy,
    TimeProvider time,
    TurnMetrics metrics,
    ILogger logger)
{
    private long NowTicks => time.GetUtcNow().UtcTicks;

    /// <summary>A request: Binding, or an authenticated TURN method.</summary>
    public void HandleRequest(in TurnRequest request)
    {
        ref readonly var message = ref request.Message;
        if (message.Method == StunConst.Binding)
        {
            binding.Handle(in request);
            return;
        }
        if (message.Method is not (StunConst.Allocate or StunConst.Refresh or StunConst.CreatePermission or StunConst.ChannelBind))
        {
            responder.SendError(in request, StunError.BadRequest, null);
            return;
        }
        // RFC 8489 §6.3.1: unknown comprehension-required attributes → 420 before anything else.
        if (message.UnknownCount > 0)
        {
            responder.SendUnknownAttributes(in request);
            return;
        }
        if (!authenticator.TryAuthenticate(in request, out var credential))
        {
            return;
        }
        var authenticated = request.Authenticated(credential);
        // RFC 8656 §7.3, §9.2, §11.2: every method but Allocate needs the allocation of this 5-tuple → 437.
        if (message.Method != StunConst.Allocate && request.Allocation is null)
        {
            responder.SendError(in request, StunError.AllocationMismatch, credential.Key);
            return;
        }
        switch (message.Method)
        {
            case StunConst.Allocate:
                HandleAllocate(in authenticated);
                break;
            case StunConst.Refresh:
                HandleRefresh(in authenticated);
                break;
            case StunConst.CreatePermission:
                HandleCreatePermission(in authenticated);
                break;
            default:
                HandleChannelBind(in authenticated);
                break;
        }
    }

    /// <summary>RFC 8656 §10.2: Send indication; anything wrong is dropped silently (indications get no answer).</summary>
    public void HandleSend(in TurnRequest request)
    {
        var packet = request.Packet;
        ref readonly var message = ref request.Message;
        var allocation = request.Allocation!;
        if (message.PeerCount != 1 || !message.Data.Present || !StunMessage.TryReadXorAddress(packet, message.Peers[0], out var peer)
            || peer.IsV6 != allocation.RelayIsV6 || !policy.IsAllowed(peer))
        {
            metrics.CountDropped();
            return;
        }
        allocation.RelaySend(peer, message.Data.Of(packet));
    }

    /// <summary>RFC 8656 §7.2: create an allocation.</summary>
    private void HandleAllocate(in TurnRequest request)
    {
        var credential = request.Credential;
        var packet = request.Packet;
        ref readonly var message = ref request.Message;
        var key = credential.Key;
        var tid = request.TransactionId;
        // Step 1: an allocation already exists for this 5-tuple: a retransmission gets the same answer, anything else 437.
        if (request.Allocation is { } existing)
        {
            if (tid.SequenceEqual(existing.AllocateTransaction))
            {
                SendAllocateSuccess(in request, existing, key);
            }
            else
            {
                responder.SendError(in request, StunError.AllocationMismatch, key);
            }
            return;
        }
        // Step 2: REQUESTED-TRANSPORT must be present (400) and UDP (442).
        if (!message.RequestedTransport.Present || message.RequestedTransport.Length != 4)
        {
            responder.SendError(in request, StunError.BadRequest, key);
            return;
        }
        if (packet[message.RequestedTransport.Offset] != StunConst.TransportUdp)
        {
            responder.SendError(in request, StunError.UnsupportedTransport, key);
            return;
        }
        // Step 4: RESERVATION-TOKEN: we keep no reservations → 508; with REQUESTED-ADDRESS-FAMILY or EVEN-PORT → 400.
        if (message.ReservationToken.Present)
        {
            int refusal = message.RequestedAddressFamily.Present || message.EvenPort.Present ? StunError.BadRequest : StunError.InsufficientCapacity;
            responder.SendError(in request, refusal, key);
            return;
        }
        // REQUESTED-ADDRESS-FAMILY must match the relay's family (440).
        if (message.RequestedAddressFamily.Present)
        {
            byte family = message.RequestedAddressFamily.Length == 4 ? packet[message.RequestedAddressFamily.Offset] : (byte)0;
            if (family is not (StunConst.FamilyV4 or StunConst.FamilyV6))
            {
                responder.SendError(in request, StunError.BadRequest, key);
                return;
            }
            if ((family == StunConst.FamilyV6) != allocations.RelayIsV6)
            {
                responder.SendError(in request, StunError.AddressFamilyNotSupported, key);
                return;
            }
        }
        long lifetimeSeconds = CappedByCredential(GrantedLifetime(packet, message.Lifetime, allowZero: false), credential.Expiry);
        // Steps 5–6: quotas (486) and a relay port (508).
        int code = allocations.TryCreate(request.Link, in credential, tid, message.EvenPort.Present, lifetimeSeconds, out var allocation);
        if (code == StunError.AllocationMismatch && allocation is not null && tid.SequenceEqual(allocation.AllocateTransaction))
        {
            // The copy of a retransmitted request that lost the race answers like the winner.
            code = 0;
        }
        if (code != 0)
        {
            responder.SendError(in request, code, key);
            return;
        }
        SendAllocateSuccess(in request, allocation!, key);
    }

    private void SendAllocateSuccess(in TurnRequest request, Allocation allocation, byte[] key)
    {
        long remaining = Math.Max(0, (allocation.ExpiresTicks - NowTicks + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond);
        var w = new StunWriter(request.Response, StunConst.Allocate, StunClass.Success, request.TransactionId);
        w.AddXorAddress(StunConst.XorRelayedAddress, allocation.Relayed);
        w.AddUInt32(StunConst.Lifetime, (uint)remaining);
        w.AddXorAddress(StunConst.XorMappedAddress, request.Link.Remote);
        responder.AddSoftware(ref w);
        w.AddMessageIntegrity(key);
        w.AddFingerprint();
        request.Link.Send(w.Written);
    }

    /// <summary>The lifetime to grant: default when absent, capped at the maximum (RFC 8656 §7.2, §7.3).</summary>
    private long GrantedLifetime(ReadOnlySpan<byte> packet, AttrRef lifetime, bool allowZero)
    {
        long requested = StunMessage.ReadUInt32(packet, lifetime);
        long def = (long)options.DefaultAllocationLifetime.TotalSeconds;
        long max = (long)options.MaxAllocationLifetime.TotalSeconds;
        if (requested < 0)
        {
            return def;
        }
        if (requested == 0 && allowZero)
        {
            return 0;
        }
        return Math.Clamp(requested, Math.Min(def, max), max);
    }

    /// <summary>A lifetime cut so that the allocation ends no later than its REST credential (Unix seconds).</summary>
    private long CappedByCredential(long seconds, long credentialExpiry) =>
        Math.Min(seconds, Math.Max(1, credentialExpiry - time.GetUtcNow().ToUnixTimeSeconds()));

    /// <summary>RFC 8656 §7.3: refresh or delete (LIFETIME 0) the allocation; never past its credential's expiry.</summary>
    private void HandleRefresh(in TurnRequest request)
    {
        var key = request.Credential.Key;
        var packet = request.Packet;
        ref readonly var message = ref request.Message;
        var allocation = request.Allocation!;
        if (message.RequestedAddressFamily.Present && message.RequestedAddressFamily.Length == 4
            && (packet[message.RequestedAddressFamily.Offset] == StunConst.FamilyV6) != allocation.RelayIsV6)
        {
            responder.SendError(in request, StunError.PeerAddressFamilyMismatch, key);
            return;
        }
        long seconds = GrantedLifetime(packet, message.Lifetime, allowZero: true);
        if (seconds > 0)
        {
            seconds = CappedByCredential(seconds, allocation.CredentialExpiry);
        }
        if (seconds == 0)
        {
            allocations.Remove(allocation);
        }
        else
        {
            allocation.SetExpiry(NowTicks + TimeSpan.FromSeconds(seconds).Ticks);
        }
        var w = new StunWriter(request.Response, StunConst.Refresh, StunClass.Success, request.TransactionId);
        w.AddUInt32(StunConst.Lifetime, (uint)seconds);
        responder.AddSoftware(ref w);
        w.AddMessageIntegrity(key);
        w.AddFingerprint();
        request.Link.Send(w.Written);
    }

    /// <summary>RFC 8656 §9.2: install or refresh permissions for every XOR-PEER-ADDRESS, all or none.</summary>
    private void HandleCreatePermission(in TurnRequest request)
    {
        var key = request.Credential.Key;
        ref readonly var message = ref request.Message;
        var allocation = request.Allocation!;
        if (message.PeerCount == 0 || message.TooManyPeers)
        {
            responder.SendError(in request, StunError.BadRequest, key);
            return;
        }
        Span<PeerKey> peers = stackalloc PeerKey[message.PeerCount];
        for (int i = 0; i < message.PeerCount; i++)
        {
            int refusal = CheckPeer(request.Packet, message.Peers[i], allocation, out peers[i]);
            if (refusal != 0)
            {
                responder.SendError(in request, refusal, key);
                return;
            }
        }
        if (!allocation.AddPermissions(peers, NowTicks + options.PermissionLifetime.Ticks, options.MaxPermissionsPerAllocation))
        {
            responder.SendError(in request, StunError.InsufficientCapacity, key);
            return;
        }
        responder.SendEmptySuccess(in request, key);
    }

    /// <summary>RFC 8656 §11.2: bind a channel number to a peer.</summary>
    private void HandleChannelBind(in TurnRequest request)
    {
        var key = request.Credential.Key;
        var packet = request.Packet;
        ref readonly var message = ref request.Message;
        var allocation = request.Allocation!;
        // CHANNEL-NUMBER within 0x4000–0x4FFF and exactly one XOR-PEER-ADDRESS, else 400.
        if (!message.ChannelNumber.Present || message.ChannelNumber.Length != 4 || message.PeerCount != 1)
        {
            responder.SendError(in request, StunError.BadRequest, key);
            return;
        }
        ushort number = BinaryPrimitives.ReadUInt16BigEndian(packet[message.ChannelNumber.Offset..]);
        if (number < StunConst.MinChannel || number > options.MaxChannelNumber)
        {
            responder.SendError(in request, StunError.BadRequest, key);
            return;
        }
        int refusal = CheckPeer(packet, message.Peers[0], allocation, out var peer);
        if (refusal == 0)
        {
            long now = NowTicks;
            refusal = allocation.BindChannel(number, peer, now + options.ChannelLifetime.Ticks, now + options.PermissionLifetime.Ticks, options.MaxChannelsPerAllocation, options.MaxPermissionsPerAllocation);
        }
        if (refusal != 0)
        {
            responder.SendError(in request, refusal, key);
            return;
        }
        responder.SendEmptySuccess(in request, key);
    }

    /// <summary>Decodes a peer address and applies the family check (443) and the peer policy (403).</summary>
    private int CheckPeer(ReadOnlySpan<byte> packet, AttrRef attr, Allocation allocation, out PeerKey peer)
    {
        if (!StunMessage.TryReadXorAddress(packet, attr, out peer))
        {
            return StunError.BadRequest;
        }
        // The policy first, so every forbidden spelling gets 403 whatever the relay's family.
        if (!policy.IsAllowed(peer))
        {
            Log.PeerDenied(logger);
            return StunError.Forbidden;
        }
        if (peer.IsV6 != allocation.RelayIsV6)
        {
            return StunError.PeerAddressFamilyMismatch;
        }
        return 0;
    }
}
