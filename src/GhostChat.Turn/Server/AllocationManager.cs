using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using GhostChat.Turn.Stun;
using Microsoft.Extensions.Logging;

namespace GhostChat.Turn.Server;

/// <summary>
/// Every allocation of one server: UDP ones keyed by the client's address (the 5-tuple's varying part), stream ones
/// held by their connection. Owns the quotas (per REST user, per source, in total), relay port choice, lifetimes
/// (a sweep each second while any allocation exists: an idle server has no timer of its own) and removal, whoever
/// asks for it: a Refresh with lifetime 0, a closed connection, expiry.
/// </summary>
internal sealed class AllocationManager : IDisposable
{
    private readonly TurnServerOptions _options;
    private readonly TurnMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<SocketAddress, Allocation> _udp = new();
    private readonly ConcurrentDictionary<Allocation, byte> _all = new();
    private readonly ConcurrentDictionary<string, int> _perUser = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<PeerKey, int> _perSource = new();
    private readonly Lock _gate = new();
    private readonly Random _random = new();

    /// <summary>Ports of the relay range that refused to bind (held by another socket) before an Allocate gets 508.</summary>
    private const int ForeignPortTries = 64;

    // The relay range's ports our allocations hold (index: port - RelayMinPort), under _gate.
    private bool[]? _ours;
    private IPAddress _relayBind = IPAddress.Any;
    private IPAddress _advertised = IPAddress.Loopback;
    private readonly Udp.RelayPoller? _poller;
    private ITimer? _sweeper;
    // True while the sweep timer runs (under _gate): armed by the first allocation, stopped by a sweep that finds none.
    private bool _sweeping;
    private int _count;

    public AllocationManager(TurnServerOptions options, TurnMetrics metrics, TimeProvider time, ILogger logger)
    {
        _options = options;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _poller = options.UdpBatchedIo ? Udp.RelayPoller.TryCreate(options.MaxPayloadSize, options.UdpBatchSize, metrics, options.UdpBatchedPeerSends, options.UdpGro) : null;
    }

    /// <summary>True when relay sockets are served by the batched Linux poller (else by one async loop each).</summary>
    public bool RelayBatched => _poller is not null;

    /// <summary>The Linux epoll thread serving relay sockets (and the UDP listener's sockets), or null.</summary>
    public Udp.RelayPoller? Poller => _poller;

    /// <summary>Allocations now open.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>True when relay sockets are IPv6 (REQUESTED-ADDRESS-FAMILY must match).</summary>
    public bool RelayIsV6 => _relayBind.AddressFamily == AddressFamily.InterNetworkV6;

    /// <summary>Where relay sockets bind and what address clients are told; the lifetime sweep starts with the first allocation.</summary>
    public void Start(IPAddress relayBind, IPAddress advertised)
    {
        _relayBind = relayBind;
        _advertised = advertised;
        _sweeper = _time.CreateTimer(_ => Sweep(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The allocation of a UDP client, if it has one. The relay hot path: no allocation, no lock.</summary>
    public bool TryGetUdp(SocketAddress from, [MaybeNullWhen(false)] out Allocation allocation) => _udp.TryGetValue(from, out allocation);

    /// <summary>
    /// Makes an allocation for <paramref name="link"/> under the quotas (RFC 8656 §7.2 steps 5–6). Returns 0 and the new
    /// allocation; 486 (a quota; counted as a refusal) or 508 (no relay port); or 437 with the allocation that won a
    /// race for the same UDP 5-tuple (an equal transaction id means the same request: answer like the winner).
    /// </summary>
    public int TryCreate(ClientLink link, in CheckedCredential credential, ReadOnlySpan<byte> transactionId, bool evenPort, long lifetimeSeconds, out Allocation? allocation)
    {
        var source = link.Remote.SourceBucket;
        lock (_gate)
        {
            // Quotas: per user, per source (IPv4 address or IPv6 /64) and in total → 486.
            string? quota = Volatile.Read(ref _count) >= _options.MaxAllocations ? Refusal.TotalQuota
                : _perUser.GetValueOrDefault(credential.User) >= _options.MaxAllocationsPerUser ? Refusal.UserQuota
                : _perSource.GetValueOrDefault(source) >= _options.MaxAllocationsPerSource ? Refusal.SourceQuota
                : null;
            if (quota is not null)
            {
                _metrics.Refuse(quota);
                allocation = null;
                return StunError.AllocationQuotaReached;
            }
            // A relay port from the range → 508 when none is free.
            var relay = BindRelaySocket(evenPort);
            if (relay is null)
            {
                allocation = null;
                return StunError.InsufficientCapacity;
            }
            int port = ((IPEndPoint)relay.LocalEndPoint!).Port;
            var relayed = PeerKey.FromEndPoint(new IPEndPoint(_advertised, port));
            long expires = NowTicks + TimeSpan.FromSeconds(lifetimeSeconds).Ticks;
            allocation = new Allocation(link, relay, relayed, credential, transactionId.ToArray(), expires, _options.MaxBytesPerSecondPerAllocation, _metrics, _time);
            if (link is UdpLink udp)
            {
                if (!_udp.TryAdd(udp.Address, allocation))
                {
                    relay.Dispose();
                    _ours![port - _options.RelayMinPort] = false;
                    // Two receive loops may handle a request and its retransmission at once.
                    _udp.TryGetValue(udp.Address, out allocation);
                    return StunError.AllocationMismatch;
                }
            }
            else if (link is StreamLink stream)
            {
                stream.Allocation = allocation;
            }
            _all[allocation] = 0;
            _perUser[credential.User] = _perUser.GetValueOrDefault(credential.User) + 1;
            _perSource[source] = _perSource.GetValueOrDefault(source) + 1;
            Interlocked.Increment(ref _count);
            _metrics.CountAllocationCreated();
            if (!_sweeping && _sweeper is not null)
            {
                _sweeping = true;
                _sweeper.Change(SweepInterval, SweepInterval);
            }
        }
        var created = allocation;
        if (_poller is null || !_poller.TryAdd(created))
        {
            _ = Task.Run(() => created.RunRelayLoopAsync(_options.MaxPayloadSize));
        }
        Log.AllocationCreated(_logger);
        return 0;
    }

    /// <summary>Closes an allocation and gives back its place under the quotas; a second call does nothing.</summary>
    public void Remove(Allocation allocation)
    {
        if (!_all.TryRemove(allocation, out _))
        {
            return;
        }
        if (allocation.Link is UdpLink udp)
        {
            _udp.TryRemove(new KeyValuePair<SocketAddress, Allocation>(udp.Address, allocation));
        }
        else if (allocation.Link is StreamLink stream)
        {
            // Without its allocation the connection is an idle one again.
            stream.Detach(allocation, _options.UnallocatedStreamTimeout);
        }
        lock (_gate)
        {
            CountTable.Decrement(_perUser, allocation.User);
            CountTable.Decrement(_perSource, allocation.Link.Remote.SourceBucket);
        }
        Interlocked.Decrement(ref _count);
        _poller?.Remove(allocation);
        allocation.Close();
        ReleasePort(allocation.Relayed.Port);
        Log.AllocationClosed(_logger);
    }

    /// <summary>Closes every allocation and stops the sweep.</summary>
    public void Dispose()
    {
        _sweeper?.Dispose();
        foreach (var a in _all.Keys)
        {
            Remove(a);
        }
        _poller?.Dispose();
    }

    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(1);

    private long NowTicks => _time.GetUtcNow().UtcTicks;

    private void Sweep()
    {
        try
        {
            long now = NowTicks;
            foreach (var allocation in _all.Keys)
            {
                if (allocation.ExpiresTicks <= now)
                {
                    Remove(allocation);
                }
                else
                {
                    allocation.Sweep(now);
                }
            }
            // Nothing left to sweep: stop until the next allocation (created under _gate, which re-arms the timer).
            lock (_gate)
            {
                if (_sweeping && Volatile.Read(ref _count) == 0)
                {
                    _sweeping = false;
                    _sweeper?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                }
            }
        }
        catch (Exception ex)
        {
            _metrics.HandlerFault(ex);
        }
    }

    /// <summary>
    /// A relay socket on a port of the range that none of our allocations holds, chosen from a random place in the
    /// range: the ports are walked from there (skipping ours, and odd ones for EVEN-PORT) until one binds. A port that
    /// does not bind is held by someone else; after <see cref="ForeignPortTries"/> of those, or when every port is
    /// ours, null (508). Called under <see cref="_gate"/>.
    /// </summary>
    private Socket? BindRelaySocket(bool even)
    {
        int min = _options.RelayMinPort, max = _options.RelayMaxPort;
        int span = max - min + 1;
        _ours ??= new bool[span];
        int start = _random.Next(span);
        int foreign = 0;
        for (int i = 0; i < span && foreign < ForeignPortTries; i++)
        {
            int slot = (start + i) % span;
            int port = min + slot;
            if (_ours[slot] || (even && (port & 1) != 0))
            {
                continue;
            }
            var socket = new Socket(_relayBind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                socket.Bind(new IPEndPoint(_relayBind, port));
                socket.ReceiveBufferSize = 1024 * 1024;
                // Sends towards peers never wait for a full send buffer (Allocation.SendToPeer drops instead).
                socket.Blocking = false;
                _ours[slot] = true;
                return socket;
            }
            catch (SocketException)
            {
                socket.Dispose();
                foreign++;
            }
        }
        return null;
    }

    /// <summary>Gives <paramref name="port"/> back to the range (after its socket is closed).</summary>
    private void ReleasePort(int port)
    {
        lock (_gate)
        {
            int slot = port - _options.RelayMinPort;
            if (_ours is not null && slot >= 0 && slot < _ours.Length)
            {
                _ours[slot] = false;
            }
        }
    }
}
