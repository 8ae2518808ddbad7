using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using GhostChat.Turn.Security;
using GhostChat.Turn.Stun;

namespace GhostChat.Turn.Server;

/// <summary>
/// One TURN allocation (RFC 8656 §2.2): the client's link, its relay socket, permissions keyed by peer IP and
/// channels keyed both ways, each with an expiry. Permissions and channels share one lock; the hot paths
/// take it briefly and allocate nothing.
/// </summary>
internal sealed class Allocation
{
    /// <summary>Room in front of a received payload for the largest header we add (Data indication, IPv6 peer).</summary>
    public const int Headroom = 48;

    private readonly Lock _gate = new();
    private readonly Dictionary<PeerKey, long> _permissions = [];
    private readonly Dictionary<ushort, Channel> _byNumber = [];
    private readonly Dictionary<PeerKey, Channel> _byPeer = [];
    private readonly Dictionary<PeerKey, SocketAddress> _sendTargets = [];
    private readonly TurnMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly Lock _bucketGate = new();
    private readonly long _bytesPerSecond;
    private long _pollId;
    private TokenBucket _bucket;
    private readonly byte[] _txPrefix = RandomNumberGenerator.GetBytes(4);
    private ulong _txCounter;
    private long _expiresTicks;

    /// <param name="link">The way to the client.</param>
    /// <param name="relay">The relay socket, bound.</param>
    /// <param name="relayed">The relayed transport address clients are told.</param>
    /// <param name="credential">The credential the allocation was made with: later requests must use it.</param>
    /// <param name="allocateTransaction">The Allocate's transaction id, so a retransmission gets the same answer.</param>
    /// <param name="expiresTicks">When it expires unless refreshed (UTC ticks of <paramref name="time"/>).</param>
    /// <param name="bytesPerSecond">The relay rate limit, each direction counted; 0 = none.</param>
    /// <param name="metrics">Where relayed and dropped packets are counted.</param>
    /// <param name="time">The clock of lifetimes and the rate limit.</param>
    public Allocation(ClientLink link, Socket relay, PeerKey relayed, CheckedCredential credential, byte[] allocateTransaction, long expiresTicks, long bytesPerSecond, TurnMetrics metrics, TimeProvider time)
    {
        _metrics = metrics;
        _time = time;
        Link = link;
        Relay = relay;
        Relayed = relayed;
        Credential = credential;
        AllocateTransaction = allocateTransaction;
        _expiresTicks = expiresTicks;
        _bytesPerSecond = bytesPerSecond;
        if (bytesPerSecond > 0)
        {
            // Refills continuously; a burst of one second.
            _bucket = new TokenBucket(bytesPerSecond, time.GetTimestamp());
        }
    }

    public ClientLink Link { get; }

    public Socket Relay { get; }

    /// <summary>The advertised relayed transport address.</summary>
    public PeerKey Relayed { get; }

    public CheckedCredential Credential { get; }

    public string Username => Credential.Username;

    public string User => Credential.User;

    public byte[] Key => Credential.Key;

    public byte[] AllocateTransaction { get; }

    /// <summary>When the REST credential it was made with expires (Unix seconds): it is never refreshed past that.</summary>
    public long CredentialExpiry => Credential.Expiry;

    public bool Closed { get; private set; }

    /// <summary>The allocation's registration with the relay poller; 0 when it runs the portable relay loop.</summary>
    public long PollId
    {
        get => Volatile.Read(ref _pollId);
        set => Volatile.Write(ref _pollId, value);
    }

    public long ExpiresTicks => Volatile.Read(ref _expiresTicks);

    public bool RelayIsV6 => Relay.AddressFamily == AddressFamily.InterNetworkV6;

    public void SetExpiry(long ticks) => Volatile.Write(ref _expiresTicks, ticks);

    public int PermissionCount
    {
        get
        {
            lock (_gate)
            {
                return _permissions.Count;
            }
        }
    }

    /// <summary>How many of <paramref name="ips"/> would be new permissions.</summary>
    public int CountNew(ReadOnlySpan<PeerKey> ips)
    {
        lock (_gate)
        {
            int n = 0;
            for (int i = 0; i < ips.Length; i++)
            {
                if (!_permissions.ContainsKey(ips[i].IpOnly))
                {
                    bool dup = false;
                    for (int j = 0; j < i; j++)
                    {
                        dup |= ips[j].IpOnly == ips[i].IpOnly;
                    }
                    n += dup ? 0 : 1;
                }
            }
            return n;
        }
    }

    /// <summary>Installs or refreshes permissions (RFC 8656 §9). False when the quota would be exceeded.</summary>
    public bool AddPermissions(ReadOnlySpan<PeerKey> peers, long expires, int max)
    {
        lock (_gate)
        {
            if (_permissions.Count + CountNew(peers) > max)
            {
                return false;
            }
            foreach (var p in peers)
            {
                _permissions[p.IpOnly] = expires;
            }
            return true;
        }
    }

    /// <summary>Binds or refreshes a channel (RFC 8656 §11.2). Returns 0, 400 (conflict) or 508 (quota).</summary>
    public int BindChannel(ushort number, PeerKey peer, long channelExpires, long permissionExpires, int maxChannels, int maxPermissions)
    {
        lock (_gate)
        {
            bool numberBound = _byNumber.TryGetValue(number, out var byNumber);
            bool peerBound = _byPeer.TryGetValue(peer, out var byPeer);
            if ((numberBound && byNumber!.Peer != peer) || (peerBound && byPeer!.Number != number))
            {
                return StunError.BadRequest;
            }
            if (!numberBound && _byNumber.Count >= maxChannels)
            {
                return StunError.InsufficientCapacity;
            }
            if (!_permissions.ContainsKey(peer.IpOnly) && _permissions.Count >= maxPermissions)
            {
                return StunError.InsufficientCapacity;
            }
            if (numberBound)
            {
                byNumber!.ExpiresTicks = channelExpires;
            }
            else
            {
                var channel = new Channel(number, peer, peer.ToSocketAddress(Relay.AddressFamily)) { ExpiresTicks = channelExpires };
                _byNumber[number] = channel;
                _byPeer[peer] = channel;
            }
            _permissions[peer.IpOnly] = Math.Max(permissionExpires, _permissions.GetValueOrDefault(peer.IpOnly));
            return 0;
        }
    }

    /// <summary>Drops expired permissions and channels.</summary>
    public void Sweep(long now)
    {
        lock (_gate)
        {
            foreach (var (k, v) in _permissions)
            {
                if (v <= now)
                {
                    _permissions.Remove(k);
                    _sendTargets.Remove(k);
                }
            }
            foreach (var (k, v) in _byNumber)
            {
                if (v.ExpiresTicks <= now)
                {
                    _byNumber.Remove(k);
                    _byPeer.Remove(v.Peer);
                }
            }
        }
    }

    /// <summary>
    /// ChannelData from the client (RFC 8656 §12.6): to the bound peer, when permitted. With <paramref name="sends"/>
    /// (the relay poller's queue) the datagram is queued there and counted when it is flushed; else sent now.
    /// </summary>
    public void RelayChannelData(ReadOnlySpan<byte> packet, Udp.PeerSendQueue? sends = null)
    {
        ushort number = BinaryPrimitives.ReadUInt16BigEndian(packet);
        int length = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
        if (length > packet.Length - 4)
        {
            _metrics.CountDropped();
            return;
        }
        long now = _time.GetUtcNow().UtcTicks;
        SocketAddress target;
        lock (_gate)
        {
            if (now >= _expiresTicks || !_byNumber.TryGetValue(number, out var channel) || channel.ExpiresTicks <= now
                || !_permissions.TryGetValue(channel.Peer.IpOnly, out var permission) || permission <= now)
            {
                _metrics.CountDropped();
                return;
            }
            target = channel.Address;
        }
        SendToPeer(packet.Slice(4, length), target, sends);
    }

    /// <summary>A Send indication (RFC 8656 §10.2): to the peer named in it, when permitted.</summary>
    public void RelaySend(PeerKey peer, ReadOnlySpan<byte> data)
    {
        long now = _time.GetUtcNow().UtcTicks;
        SocketAddress? target;
        lock (_gate)
        {
            if (now >= _expiresTicks || !_permissions.TryGetValue(peer.IpOnly, out var permission) || permission <= now)
            {
                _metrics.CountDropped();
                return;
            }
            if (!_sendTargets.TryGetValue(peer, out target))
            {
                target = peer.ToSocketAddress(Relay.AddressFamily);
                if (_sendTargets.Count < 64)
                {
                    _sendTargets[peer] = target;
                }
            }
        }
        SendToPeer(data, target);
    }

    private void SendToPeer(ReadOnlySpan<byte> payload, SocketAddress target, Udp.PeerSendQueue? sends = null)
    {
        if (!TryTakeRate(payload.Length))
        {
            _metrics.CountDropped();
            return;
        }
        if (sends is not null)
        {
            if (sends.TryQueue(Relay, payload, target))
            {
                return;
            }
            // Not for the queue (it cannot be, the queue takes what a receive batch holds): what it holds goes first.
            sends.Flush();
        }
        try
        {
            // Never blocks (the listening thread sends for every client): on a full send buffer the datagram is
            // dropped and counted. Served by the poller: one sendto with MSG_DONTWAIT; else the socket is non-blocking
            // (BindRelaySocket) and .NET throws WouldBlock.
            if (PollId != 0)
            {
                if (!Udp.LinuxSockets.TrySendTo(Relay.SafeHandle, payload, target))
                {
                    _metrics.CountDropped();
                    return;
                }
            }
            else
            {
                Relay.SendTo(payload, SocketFlags.None, target);
            }
            _metrics.CountRelayed(payload.Length);
        }
        catch (SocketException)
        {
            _metrics.CountDropped();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// The portable relay path: reads the relay socket with async receives until it closes; peer data goes to the
    /// client as ChannelData or a Data indication. On Linux the <see cref="Udp.RelayPoller"/> serves the relay
    /// socket instead, in batches, without a thread-pool hop per datagram.
    /// </summary>
    public async Task RunRelayLoopAsync(int maxPayload)
    {
        var buffer = new byte[Headroom + maxPayload + 4];
        var from = new SocketAddress(Relay.AddressFamily);
        while (!Closed)
        {
            int n;
            try
            {
                // A byte more than allowed: a datagram that fills it was cut (not reported on every OS) and is dropped.
                n = await Relay.ReceiveFromAsync(buffer.AsMemory(Headroom, maxPayload + 1), SocketFlags.None, from).ConfigureAwait(false);
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.MessageSize or SocketError.ConnectionReset)
            {
                _metrics.CountDropped();
                continue;
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }
            if (n > maxPayload)
            {
                _metrics.CountDropped();
                continue;
            }
            try
            {
                if (TryFrameForClient(buffer, n, PeerKey.FromSocketAddress(from), out int start, out int length))
                {
                    Link.Send(buffer.AsSpan(start, length));
                    _metrics.CountRelayed(n);
                }
            }
            catch (Exception ex)
            {
                _metrics.HandlerFault(ex);
            }
        }
    }

    /// <summary>
    /// Peer data received at <see cref="Headroom"/> of <paramref name="slot"/> (<paramref name="n"/> bytes from
    /// <paramref name="peer"/>): when permitted and within the rate, frames it in place for the client (ChannelData
    /// when a channel is bound to the peer, else a Data indication) and returns the frame's place in the slot; when
    /// not, counts a drop and returns false.
    /// </summary>
    public bool TryFrameForClient(Span<byte> slot, int n, PeerKey peer, out int start, out int length)
    {
        start = length = 0;
        long now = _time.GetUtcNow().UtcTicks;
        ushort channelNumber = 0;
        lock (_gate)
        {
            if (now >= _expiresTicks || !_permissions.TryGetValue(peer.IpOnly, out var permission) || permission <= now)
            {
                _metrics.CountDropped();
                return false;
            }
            if (_byPeer.TryGetValue(peer, out var channel) && channel.ExpiresTicks > now)
            {
                channelNumber = channel.Number;
            }
        }
        if (!TryTakeRate(n))
        {
            _metrics.CountDropped();
            return false;
        }
        if (channelNumber != 0)
        {
            start = Headroom - ChannelData.HeaderSize;
            length = ChannelData.Frame(slot[start..], channelNumber, n, Link.IsStream);
        }
        else
        {
            length = WriteDataIndication(slot, n, peer, out start);
        }
        return true;
    }

    /// <summary>A Data indication (RFC 8656 §10.3): XOR-PEER-ADDRESS and DATA, written in front of the payload at <see cref="Headroom"/>; returns where it starts and its length.</summary>
    private int WriteDataIndication(Span<byte> buffer, int n, PeerKey peer, out int start)
    {
        int headerLen = StunConst.HeaderSize + 4 + (peer.IsV6 ? 20 : 8) + 4;
        start = Headroom - headerLen;
        Span<byte> transactionId = stackalloc byte[12];
        _txPrefix.CopyTo(transactionId);
        BinaryPrimitives.WriteUInt64BigEndian(transactionId[4..], Interlocked.Increment(ref _txCounter));
        var w = new StunWriter(buffer[(Headroom - headerLen)..], StunConst.Data, StunClass.Indication, transactionId);
        w.AddXorAddress(StunConst.XorPeerAddress, peer);
        w.AddPlacedValue(StunConst.DataAttr, n);
        return w.Written.Length;
    }

    /// <summary>The relay rate limit (each direction counts): true when <paramref name="bytes"/> may go.</summary>
    private bool TryTakeRate(int bytes)
    {
        if (_bytesPerSecond <= 0)
        {
            return true;
        }
        lock (_bucketGate)
        {
            return _bucket.TryTake(_time.GetTimestamp(), _time.TimestampFrequency, _bytesPerSecond, _bytesPerSecond, bytes);
        }
    }

    /// <summary>Closes the relay socket; the relay loop ends.</summary>
    public void Close()
    {
        Closed = true;
        Relay.Dispose();
    }

    private sealed class Channel(ushort number, PeerKey peer, SocketAddress address)
    {
        public ushort Number { get; } = number;

        public PeerKey Peer { get; } = peer;

        public SocketAddress Address { get; } = address;

        public long ExpiresTicks { get; set; }
    }
}
