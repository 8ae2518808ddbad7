using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using GhostChat.Turn.Auth;
using GhostChat.Turn.Stun;

namespace GhostChat.Turn.Server;

public sealed partial class TurnServer
{
    private const int ResponseBufferSize = 1024;

    /// <summary>A request: Binding, or an authenticated TURN method. Every refusal maps to an RFC error code.</summary>
    private void HandleRequest(ReadOnlySpan<byte> packet, ref StunMessage message, ClientLink link, Allocation? existing)
    {
        Span<byte> buffer = stackalloc byte[ResponseBufferSize];
        if (message.Method == StunConst.Binding)
        {
            HandleBinding(buffer, packet, ref message, link);
            return;
        }
        if (message.Method is not (StunConst.Allocate or StunConst.Refresh or StunConst.CreatePermission or StunConst.ChannelBind))
        {
            SendError(buffer, packet, message.Method, link, StunError.BadRequest, null);
            return;
        }
        // RFC 8489 §6.3.1: unknown comprehension-required attributes → 420 before anything else.
        if (message.UnknownCount > 0)
        {
            SendUnknownAttributes(buffer, packet, ref message, link);
            return;
        }
        int code = Authenticate(packet, ref message, existing, out var key, out var username, out var user, out long credentialExpiry);
        if (code != 0)
        {
            if (code is StunError.Unauthorized or StunError.StaleNonce)
            {
                if (!_challenges.TryTake(link.Remote))
                {
                    Refuse(Refusal.ChallengeRate);
                    return;
                }
                SendChallenge(buffer, packet, message.Method, link, code);
            }
            else
            {
                SendError(buffer, packet, message.Method, link, code, null);
            }
            return;
        }
        switch (message.Method)
        {
            case StunConst.Allocate:
                HandleAllocate(buffer, packet, ref message, link, existing, key!, username!, user!, credentialExpiry);
                break;
            case StunConst.Refresh:
                HandleRefresh(buffer, packet, ref message, link, existing, key!);
                break;
            case StunConst.CreatePermission:
                HandleCreatePermission(buffer, packet, ref message, link, existing, key!);
                break;
            default:
                HandleChannelBind(buffer, packet, ref message, link, existing, key!);
                break;
        }
    }

    /// <summary>
    /// Long-term credentials with REST usernames (RFC 8489 §9.2.4). Returns 0 and the key, or the error code.
    /// Requests on an existing allocation must use its username (441), are checked with its key, and are refused
    /// (401) once the username's expiry has passed: an allocation does not outlive its credential.
    /// </summary>
    private int Authenticate(ReadOnlySpan<byte> packet, ref StunMessage message, Allocation? existing, out byte[]? key, out string? username, out string? user, out long credentialExpiry)
    {
        key = null;
        username = null;
        user = null;
        credentialExpiry = 0;
        // Step 1: no MESSAGE-INTEGRITY → 401 with REALM and NONCE.
        if (message.IntegrityOffset == 0)
        {
            return StunError.Unauthorized;
        }
        // Step 2: USERNAME, REALM and NONCE are all required with MESSAGE-INTEGRITY.
        if (!message.Username.Present || !message.Realm.Present || !message.Nonce.Present || message.Username.Length > 512)
        {
            return StunError.BadRequest;
        }
        // Step 3: a nonce we did not make, or an old one → 438 with a fresh nonce.
        if (!_nonces.IsFresh(message.Nonce.Of(packet)))
        {
            return StunError.StaleNonce;
        }
        username = StunMessage.ReadString(packet, message.Username);
        if (existing is not null && string.Equals(existing.Username, username, StringComparison.Ordinal))
        {
            if (!StunIntegrity.Verify(packet, message.IntegrityOffset, existing.Key))
            {
                return StunError.Unauthorized;
            }
            if (existing.CredentialExpiry <= Time.GetUtcNow().ToUnixTimeSeconds())
            {
                Refuse(Refusal.CredentialExpired);
                return StunError.Unauthorized;
            }
            key = existing.Key;
            credentialExpiry = existing.CredentialExpiry;
            user = existing.User;
            return 0;
        }
        if (existing is not null && message.Method != StunConst.Allocate)
        {
            return StunError.WrongCredentials;
        }
        // An Allocate from a 5-tuple that already holds an allocation under other credentials (a client
        // reusing a port whose old allocation is still alive) is authenticated on its own; HandleAllocate
        // then answers 437 (RFC 8656 §7.2), which clients retry from a new port. 441 would end them.
        // Step 4: REST username "expiry:user": not expired, not too far ahead.
        if (!TurnRestCredentials.TryParseUsername(username, out long expiry, out var parsedUser))
        {
            return StunError.Unauthorized;
        }
        long now = Time.GetUtcNow().ToUnixTimeSeconds();
        if (expiry <= now || expiry > now + (long)_options.MaxCredentialLifetime.TotalSeconds)
        {
            if (expiry <= now && message.Method != StunConst.Allocate)
            {
                // A Refresh (or permission, or channel) after the credential's expiry: its allocation has ended with it.
                Refuse(Refusal.CredentialExpired);
            }
            return StunError.Unauthorized;
        }
        // Step 5: try each active secret (rotation).
        foreach (var secret in _options.Secrets)
        {
            var candidate = StunIntegrity.LongTermKey(username, _options.Realm, TurnRestCredentials.Password(secret, username));
            if (StunIntegrity.Verify(packet, message.IntegrityOffset, candidate))
            {
                key = candidate;
                user = parsedUser;
                credentialExpiry = expiry;
                return 0;
            }
        }
        return StunError.Unauthorized;
    }

    /// <summary>RFC 8656 §7.2: create an allocation.</summary>
    private void HandleAllocate(Span<byte> buffer, ReadOnlySpan<byte> packet, ref StunMessage message, ClientLink link, Allocation? existing, byte[] key, string username, string user, long credentialExpiry)
    {
        var tid = StunMessage.TransactionId(packet);
        // Step 1: an allocation already exists for this 5-tuple: a retransmission gets the same answer, anything else 437.
        if (existing is not null)
        {
            if (tid.SequenceEqual(existing.AllocateTransaction))
            {
                SendAllocateSuccess(buffer, packet, link, existing, key);
            }
            else
            {
                SendError(buffer, packet, StunConst.Allocate, link, StunError.AllocationMismatch, key);
            }
            return;
        }
        // Step 2: REQUESTED-TRANSPORT must be present (400) and UDP (442).
        if (!message.RequestedTransport.Present || message.RequestedTransport.Length != 4)
        {
            SendError(buffer, packet, StunConst.Allocate, link, StunError.BadRequest, key);
            return;
        }
        if (packet[message.RequestedTransport.Offset] != StunConst.TransportUdp)
        {
            SendError(buffer, packet, StunConst.Allocate, link, StunError.UnsupportedTransport, key);
            return;
        }
        // Step 4: RESERVATION-TOKEN: we keep no reservations → 508; with REQUESTED-ADDRESS-FAMILY or EVEN-PORT → 400.
        if (message.ReservationToken.Present)
        {
            int refusal = message.RequestedAddressFamily.Present || message.EvenPort.Present ? StunError.BadRequest : StunError.InsufficientCapacity;
            SendError(buffer, packet, StunConst.Allocate, link, refusal, key);
            return;
        }
        // REQUESTED-ADDRESS-FAMILY must match the relay's family (440).
        bool relayV6 = _relayBind.AddressFamily == AddressFamily.InterNetworkV6;
        if (message.RequestedAddressFamily.Present)
        {
            byte family = message.RequestedAddressFamily.Length == 4 ? packet[message.RequestedAddressFamily.Offset] : (byte)0;
            if (family is not (StunConst.FamilyV4 or StunConst.FamilyV6))
            {
                SendError(buffer, packet, StunConst.Allocate, link, StunError.BadRequest, key);
                return;
            }
            if ((family == StunConst.FamilyV6) != relayV6)
            {
                SendError(buffer, packet, StunConst.Allocate, link, StunError.AddressFamilyNotSupported, key);
                return;
            }
        }
        bool evenPort = message.EvenPort.Present;
        long lifetimeSeconds = CappedByCredential(GrantedLifetime(packet, message.Lifetime, allowZero: false), credentialExpiry);
        var source = link.Remote.SourceBucket;

        Allocation allocation;
        lock (_allocateGate)
        {
            // Quotas: per user, per source (IPv4 address or IPv6 /64) and in total → 486.
            string? quota = Volatile.Read(ref _allocationCount) >= _options.MaxAllocations ? Refusal.TotalQuota
                : _perUser.GetValueOrDefault(user) >= _options.MaxAllocationsPerUser ? Refusal.UserQuota
                : _perSource.GetValueOrDefault(source) >= _options.MaxAllocationsPerSource ? Refusal.SourceQuota
                : null;
            if (quota is not null)
            {
                Refuse(quota);
                SendError(buffer, packet, StunConst.Allocate, link, StunError.AllocationQuotaReached, key);
                return;
            }
            // Step 6: a relay port from the range → 508 when none is free.
            var relay = BindRelaySocket(evenPort);
            if (relay is null)
            {
                SendError(buffer, packet, StunConst.Allocate, link, StunError.InsufficientCapacity, key);
                return;
            }
            int port = ((IPEndPoint)relay.LocalEndPoint!).Port;
            var relayed = PeerKey.FromEndPoint(new IPEndPoint(_advertised, port));
            allocation = new Allocation(this, link, relay, relayed, username, user, key, tid.ToArray(), NowTicks + TimeSpan.FromSeconds(lifetimeSeconds).Ticks, credentialExpiry, _options.MaxBytesPerSecondPerAllocation);
            if (link is UdpLink udp)
            {
                if (!_udpAllocations.TryAdd(udp.Address, allocation))
                {
                    relay.Dispose();
                    // Two receive loops may handle a request and its retransmission at once: the copy that
                    // lost the race answers like the winner (same transaction), anything else gets 437.
                    if (_udpAllocations.TryGetValue(udp.Address, out var winner) && tid.SequenceEqual(winner.AllocateTransaction))
                    {
                        SendAllocateSuccess(buffer, packet, link, winner, key);
                    }
                    else
                    {
                        SendError(buffer, packet, StunConst.Allocate, link, StunError.AllocationMismatch, key);
                    }
                    return;
                }
            }
            else if (link is StreamLink stream)
            {
                stream.Allocation = allocation;
            }
            _allAllocations[allocation] = 0;
            _perUser[user] = _perUser.GetValueOrDefault(user) + 1;
            _perSource[source] = _perSource.GetValueOrDefault(source) + 1;
            Interlocked.Increment(ref _allocationCount);
            Interlocked.Increment(ref _allocationsCreated);
        }
        _ = Task.Run(() => allocation.RunRelayLoopAsync(_options.MaxPayloadSize));
        Log.AllocationCreated(_logger);
        SendAllocateSuccess(buffer, packet, link, allocation, key);
    }

    private void SendAllocateSuccess(Span<byte> buffer, ReadOnlySpan<byte> packet, ClientLink link, Allocation allocation, byte[] key)
    {
        long remaining = Math.Max(0, (allocation.ExpiresTicks - NowTicks + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond);
        var w = new StunWriter(buffer, StunConst.Allocate, StunClass.Success, StunMessage.TransactionId(packet));
        w.AddXorAddress(StunConst.XorRelayedAddress, allocation.Relayed);
        w.AddUInt32(StunConst.Lifetime, (uint)remaining);
        w.AddXorAddress(StunConst.XorMappedAddress, link.Remote);
        AddSoftware(ref w);
        w.AddMessageIntegrity(key);
        w.AddFingerprint();
        link.Send(w.Written);
    }

    private Socket? BindRelaySocket(bool even)
    {
        int min = _options.RelayMinPort, max = _options.RelayMaxPort;
        int span = max - min + 1;
        int start;
        lock (_random)
        {
            start = _random.Next(span);
        }
        int tries = Math.Min(span, 64);
        for (int i = 0; i < tries; i++)
        {
            int port = min + ((start + i) % span);
            if (even && (port & 1) != 0)
            {
                continue;
            }
            var socket = new Socket(_relayBind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                socket.Bind(new IPEndPoint(_relayBind, port));
                socket.ReceiveBufferSize = 1024 * 1024;
                return socket;
            }
            catch (SocketException)
            {
                socket.Dispose();
            }
        }
        return null;
    }

    /// <summary>The lifetime to grant: default when absent, capped at the maximum (RFC 8656 §7.2, §7.3).</summary>
    private long GrantedLifetime(ReadOnlySpan<byte> packet, AttrRef lifetime, bool allowZero)
    {
        long requested = StunMessage.ReadUInt32(packet, lifetime);
        long def = (long)_options.DefaultAllocationLifetime.TotalSeconds;
        long max = (long)_options.MaxAllocationLifetime.TotalSeconds;
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
        Math.Min(seconds, Math.Max(1, credentialExpiry - Time.GetUtcNow().ToUnixTimeSeconds()));

    /// <summary>RFC 8656 §7.3: refresh or delete (LIFETIME 0) the allocation; never past its credential's expiry.</summary>
    private void HandleRefresh(Span<byte> buffer, ReadOnlySpan<byte> packet, ref StunMessage message, ClientLink link, Allocation? allocation, byte[] key)
    {
        if (allocation is null)
        {
            SendError(buffer, packet, StunConst.Refresh, link, StunError.AllocationMismatch, key);
            return;
        }
        if (message.RequestedAddressFamily.Present && message.RequestedAddressFamily.Length == 4
            && (packet[message.RequestedAddressFamily.Offset] == StunConst.FamilyV6) != allocation.RelayIsV6)
        {
            SendError(buffer, packet, StunConst.Refresh, link, StunError.PeerAddressFamilyMismatch, key);
            return;
        }
        long seconds = GrantedLifetime(packet, message.Lifetime, allowZero: true);
        if (seconds > 0)
        {
            seconds = CappedByCredential(seconds, allocation.CredentialExpiry);
        }
        if (seconds == 0)
        {
            Remove(allocation);
        }
        else
        {
            allocation.SetExpiry(NowTicks + TimeSpan.FromSeconds(seconds).Ticks);
        }
        var w = new StunWriter(buffer, StunConst.Refresh, StunClass.Success, StunMessage.TransactionId(packet));
        w.AddUInt32(StunConst.Lifetime, (uint)seconds);
        AddSoftware(ref w);
        w.AddMessageIntegrity(key);
        w.AddFingerprint();
        link.Send(w.Written);
    }

    /// <summary>RFC 8656 §9.2: install or refresh permissions for every XOR-PEER-ADDRESS, all or none.</summary>
    private void HandleCreatePermission(Span<byte> buffer, ReadOnlySpan<byte> packet, ref StunMessage message, ClientLink link, Allocation? allocation, byte[] key)
    {
        if (allocation is null)
        {
            SendError(buffer, packet, StunConst.CreatePermission, link, StunError.AllocationMismatch, key);
            return;
        }
        if (message.PeerCount == 0 || message.TooManyPeers)
        {
            SendError(buffer, packet, StunConst.CreatePermission, link, StunError.BadRequest, key);
            return;
        }
        Span<PeerKey> peers = stackalloc PeerKey[message.PeerCount];
        for (int i = 0; i < message.PeerCount; i++)
        {
            int refusal = CheckPeer(packet, message.Peers[i], allocation, out peers[i]);
            if (refusal != 0)
            {
                SendError(buffer, packet, StunConst.CreatePermission, link, refusal, key);
                return;
            }
        }
        if (!allocation.AddPermissions(peers, NowTicks + _options.PermissionLifetime.Ticks, _options.MaxPermissionsPerAllocation))
        {
            SendError(buffer, packet, StunConst.CreatePermission, link, StunError.InsufficientCapacity, key);
            return;
        }
        SendEmptySuccess(buffer, packet, StunConst.CreatePermission, link, key);
    }

    /// <summary>RFC 8656 §11.2: bind a channel number to a peer.</summary>
    private void HandleChannelBind(Span<byte> buffer, ReadOnlySpan<byte> packet, ref StunMessage message, ClientLink link, Allocation? allocation, byte[] key)
    {
        if (allocation is null)
        {
            SendError(buffer, packet, StunConst.ChannelBind, link, StunError.AllocationMismatch, key);
            return;
        }
        // CHANNEL-NUMBER within 0x4000–0x4FFF and exactly one XOR-PEER-ADDRESS, else 400.
        if (!message.ChannelNumber.Present || message.ChannelNumber.Length != 4 || message.PeerCount != 1)
        {
            SendError(buffer, packet, StunConst.ChannelBind, link, StunError.BadRequest, key);
            return;
        }
        ushort number = BinaryPrimitives.ReadUInt16BigEndian(packet[message.ChannelNumber.Offset..]);
        if (number < StunConst.MinChannel || number > _options.MaxChannelNumber)
        {
            SendError(buffer, packet, StunConst.ChannelBind, link, StunError.BadRequest, key);
            return;
        }
        int refusal = CheckPeer(packet, message.Peers[0], allocation, out var peer);
        if (refusal == 0)
        {
            long now = NowTicks;
            refusal = allocation.BindChannel(number, peer, now + _options.ChannelLifetime.Ticks, now + _options.PermissionLifetime.Ticks, _options.MaxChannelsPerAllocation, _options.MaxPermissionsPerAllocation);
        }
        if (refusal != 0)
        {
            SendError(buffer, packet, StunConst.ChannelBind, link, refusal, key);
            return;
        }
        SendEmptySuccess(buffer, packet, StunConst.ChannelBind, link, key);
    }

    /// <summary>RFC 8656 §10.2: Send indication; anything wrong is dropped silently (indications get no answer).</summary>
    private void HandleSend(ReadOnlySpan<byte> packet, ref StunMessage message, Allocation allocation)
    {
        if (message.PeerCount != 1 || !message.Data.Present || !StunMessage.TryReadXorAddress(packet, message.Peers[0], out var peer)
            || peer.IsV6 != allocation.RelayIsV6 || !_policy.IsAllowed(peer))
        {
            CountDropped();
            return;
        }
        allocation.RelaySend(packet, peer, message.Data.Of(packet));
    }

    /// <summary>Decodes a peer address and applies the family check (443) and the peer policy (403).</summary>
    private int CheckPeer(ReadOnlySpan<byte> packet, AttrRef attr, Allocation allocation, out PeerKey peer)
    {
        if (!StunMessage.TryReadXorAddress(packet, attr, out peer))
        {
            return StunError.BadRequest;
        }
        // The policy first, so every forbidden spelling gets 403 whatever the relay's family.
        if (!_policy.IsAllowed(peer))
        {
            Log.PeerDenied(_logger);
            return StunError.Forbidden;
        }
        if (peer.IsV6 != allocation.RelayIsV6)
        {
            return StunError.PeerAddressFamilyMismatch;
        }
        return 0;
    }

    private void SendEmptySuccess(Span<byte> buffer, ReadOnlySpan<byte> packet, int method, ClientLink link, byte[] key)
    {
        var w = new StunWriter(buffer, method, StunClass.Success, StunMessage.TransactionId(packet));
        AddSoftware(ref w);
        w.AddMessageIntegrity(key);
        w.AddFingerprint();
        link.Send(w.Written);
    }

    private void SendChallenge(Span<byte> buffer, ReadOnlySpan<byte> packet, int method, ClientLink link, int code)
    {
        Log.Refused(_logger, code);
        var w = new StunWriter(buffer, method, StunClass.Error, StunMessage.TransactionId(packet));
        w.AddErrorCode(code);
        w.AddString(StunConst.Realm, _options.Realm);
        w.AddString(StunConst.Nonce, _nonces.Issue());
        AddSoftware(ref w);
        w.AddFingerprint();
        link.Send(w.Written);
    }

    private void SendError(Span<byte> buffer, ReadOnlySpan<byte> packet, int method, ClientLink link, int code, byte[]? key)
    {
        Log.Refused(_logger, code);
        var w = new StunWriter(buffer, method, StunClass.Error, StunMessage.TransactionId(packet));
        w.AddErrorCode(code);
        AddSoftware(ref w);
        if (key is not null)
        {
            w.AddMessageIntegrity(key);
        }
        w.AddFingerprint();
        link.Send(w.Written);
    }

    private void SendUnknownAttributes(Span<byte> buffer, ReadOnlySpan<byte> packet, ref StunMessage message, ClientLink link, ushort except = 0, string? reason = null)
    {
        Log.Refused(_logger, StunError.UnknownAttribute);
        var w = new StunWriter(buffer, message.Method, StunClass.Error, StunMessage.TransactionId(packet));
        w.AddErrorCode(StunError.UnknownAttribute, reason);
        Span<ushort> types = stackalloc ushort[message.UnknownCount];
        int count = 0;
        for (int i = 0; i < message.UnknownCount; i++)
        {
            if (message.Unknown[i] != except)
            {
                types[count++] = message.Unknown[i];
            }
        }
        w.AddUnknownAttributes(types[..count]);
        AddSoftware(ref w);
        w.AddFingerprint();
        link.Send(w.Written);
    }

    private void AddSoftware(ref StunWriter w)
    {
        if (_options.Software is { Length: > 0 } software)
        {
            w.AddString(StunConst.Software, software.Length > 100 ? software[..100] : software);
        }
    }
}
