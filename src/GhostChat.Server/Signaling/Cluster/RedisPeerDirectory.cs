using System.Collections.Concurrent;
using System.Net.WebSockets;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace GhostChat.Server.Signaling.Cluster;

/// <summary>
/// The peer directory shared by every node: <c>{prefix}peer:{id}</c> is a hash (node, token, sid)
/// with a lease refreshed while the session lives. "token" is the keyed hash
/// <see cref="ClusterTrust.HashToken"/>, never the token, and is compared in constant time. Ids are unique across nodes; a client returning
/// with the same token is accepted on any node and takes its id over (the old node is told to close
/// the old socket). Sessions on this node are also kept in a local map for delivery.
/// <para>Where peers on other nodes are is cached per node (<see cref="LocateAsync"/>), so a message
/// to a peer on another node costs one PUBLISH, not a lookup too. Every registration tells all nodes
/// that the id may have moved (<see cref="ClusterMessages.Moved"/> on the cluster's broadcast channel),
/// and they forget it; an entry also goes after <see cref="LocationLifetime"/>, when its node stops
/// listening, and all of them when the connection to Redis comes back (a broadcast may have been
/// missed). A message sent on a stale entry is not lost: the node it reaches finds the peer gone
/// and queues it, and the queue is flushed wherever the peer is.</para>
/// </summary>
internal sealed class RedisPeerDirectory : IPeerDirectory
{
    // Atomic register: free → ours; same token hash → taken over (returns the previous node and sid); else taken.
    // The hashes are compared in constant time (every byte, whatever differs).
    private const string RegisterScript = """
        local cur = redis.call('HMGET', KEYS[1], 'node', 'token', 'sid')
        if not cur[1] then
          redis.call('HSET', KEYS[1], 'node', ARGV[1], 'token', ARGV[2], 'sid', ARGV[3])
          redis.call('PEXPIRE', KEYS[1], ARGV[4])
          return {'registered'}
        end
        local stored, given, diff = cur[2] or '', ARGV[2], 0
        if #stored ~= #given then diff = 1 end
        for i = 1, #given do
          diff = bit.bor(diff, bit.bxor(string.byte(stored, i) or 0, string.byte(given, i)))
        end
        if diff ~= 0 then
          return {'taken'}
        end
        redis.call('HSET', KEYS[1], 'node', ARGV[1], 'sid', ARGV[3])
        redis.call('PEXPIRE', KEYS[1], ARGV[4])
        return {'reattached', cur[1], cur[3]}
        """;

    // Remove only if the entry is still this session's (a newer session elsewhere keeps it).
    private const string UnregisterScript = """
        if redis.call('HGET', KEYS[1], 'sid') == ARGV[1] then
          return redis.call('DEL', KEYS[1])
        end
        return 0
        """;

    // Extend the lease only while the entry is still this session's.
    private const string RefreshScript = """
        if redis.call('HGET', KEYS[1], 'sid') == ARGV[1] then
          return redis.call('PEXPIRE', KEYS[1], ARGV[2])
        end
        return -1
        """;

    /// <summary>How long a cached location of a peer on another node is used without a check.</summary>
    internal static readonly TimeSpan LocationLifetime = TimeSpan.FromSeconds(30);

    /// <summary>Cached locations at most; the cache starts over when full.</summary>
    internal const int MaxCachedLocations = 100_000;

    private readonly ConcurrentDictionary<string, PeerSession> _local = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CachedLocation> _locations = new(StringComparer.Ordinal);
    private readonly RedisConnection _redis;
    private readonly ClusterTrust _trust;
    private readonly IOptionsMonitor<SignalingOptions> _signaling;
    private readonly ClusterOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<RedisPeerDirectory> _logger;
    private long _lastRefresh;

    public RedisPeerDirectory(RedisConnection redis, ClusterTrust trust, IOptionsMonitor<SignalingOptions> signaling, IOptions<ClusterOptions> options,
        TimeProvider time, ILogger<RedisPeerDirectory> logger)
    {
        _redis = redis;
        _trust = trust;
        _signaling = signaling;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _lastRefresh = time.GetTimestamp();
        _redis.Restored += () =>
        {
            _locations.Clear(); // moves announced while we were away were missed
            _ = ReannounceAsync();
        };
    }

    public int Count => _local.Count;

    public IEnumerable<PeerSession> LocalSessions => _local.Values;

    private long LeaseMs => (long)_options.PeerLease.TotalMilliseconds;

    private string Sid(PeerSession session) => _redis.NodeId + ":" + session.Serial;

    public async ValueTask<RegistrationResult> RegisterAsync(PeerSession session, CancellationToken cancellationToken)
    {
        var id = session.Id ?? throw new ArgumentException("The session has no id.", nameof(session));
        if (!_local.ContainsKey(id) && _local.Count >= _signaling.CurrentValue.ConcurrentLimit)
        {
            return new RegistrationResult(RegistrationOutcome.LimitReached);
        }
        _redis.EnsureConnected();

        RedisResult[] result;
        try
        {
            result = (RedisResult[])(await _redis.Database.ScriptEvaluateAsync(RegisterScript,
                [_redis.Key("peer", id)], [_redis.NodeId, _trust.HashToken(id, session.Token), Sid(session), LeaseMs]))!;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            _redis.Failed(ex);
            throw new SignalingUnavailableException("Redis did not answer the registration.", ex);
        }

        switch ((string?)result[0])
        {
            case "taken":
                return new RegistrationResult(RegistrationOutcome.IdTaken);
            case "reattached":
                PeerSession? replaced = null;
                _local.AddOrUpdate(id, session, (_, old) =>
                {
                    replaced = old;
                    return session;
                });
                var previousNode = (string?)result[1];
                if (previousNode is not null && previousNode != _redis.NodeId)
                {
                    await KickAsync(previousNode, id, (string?)result[2] ?? "");
                }
                AnnounceMove(id);
                return new RegistrationResult(RegistrationOutcome.Reattached, replaced);
            default:
                if (_local.TryGetValue(id, out var stale) && stale != session)
                {
                    stale.Close(SignalingBroker.ReplacedCloseStatus, SignalingBroker.ReplacedReason); // its lease had lapsed
                }
                _local[id] = session;
                AnnounceMove(id);
                return new RegistrationResult(RegistrationOutcome.Registered);
        }
    }

    public async ValueTask<bool> UnregisterAsync(PeerSession session, CancellationToken cancellationToken)
    {
        if (session.Id is not { } id || !_local.TryRemove(new KeyValuePair<string, PeerSession>(id, session)))
        {
            return false;
        }
        try
        {
            await _redis.Database.ScriptEvaluateAsync(UnregisterScript, [_redis.Key("peer", id)], [Sid(session)]);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            _redis.Failed(ex); // the lease runs out by itself
        }
        return true;
    }

    public PeerSession? FindLocal(string id) => _local.TryGetValue(id, out var session) ? session : null;

    public PeerSession? FindLocal(ReadOnlySpan<byte> idUtf8) => LocalSessionLookup.Find(_local.GetAlternateLookup<ReadOnlySpan<char>>(), idUtf8);

    /// <summary>
    /// The node holding <paramref name="id"/>, or null when it is not registered anywhere. With
    /// <paramref name="cached"/>, a location on another node found earlier is used while it is fresh.
    /// </summary>
    public async ValueTask<string?> LocateAsync(string id, bool cached = false)
    {
        var now = _time.GetTimestamp();
        if (cached && _locations.TryGetValue(id, out var known) && _time.GetElapsedTime(known.At, now) < LocationLifetime)
        {
            return known.Node;
        }
        var node = (string?)await _redis.Database.HashGetAsync(_redis.Key("peer", id), "node");
        if (node is not null && node != _redis.NodeId)
        {
            if (_locations.Count >= MaxCachedLocations)
            {
                _locations.Clear();
            }
            _locations[id] = new CachedLocation(node, now);
        }
        else
        {
            _locations.TryRemove(id, out _);
        }
        return node;
    }

    /// <summary>Forgets where <paramref name="id"/> was: it registered somewhere, or its node stopped listening.</summary>
    public void ForgetLocation(string id) => _locations.TryRemove(id, out _);

    /// <summary>Cached locations (for tests).</summary>
    internal int CachedLocations => _locations.Count;

    /// <summary>Tells every node (this one too) that <paramref name="id"/> registered here: forget where it was.</summary>
    private void AnnounceMove(string id)
    {
        try
        {
            _redis.PublishBroadcast(ClusterMessages.Moved(id));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            _redis.Failed(ex); // the other nodes' entries run out by themselves
        }
    }

    private sealed record CachedLocation(string Node, long At);

    public async ValueTask<IReadOnlyList<string>> ListIdsAsync(CancellationToken cancellationToken)
    {
        var ids = new List<string>();
        var prefix = _redis.Prefix + "peer:";
        foreach (var endpoint in _redis.Endpoints)
        {
            await foreach (var key in _redis.Server(endpoint).KeysAsync(pattern: prefix + "*", pageSize: 500).WithCancellation(cancellationToken))
            {
                ids.Add(((string)key!)[prefix.Length..]);
            }
        }
        return ids;
    }

    public async ValueTask RefreshAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetTimestamp();
        if (_time.GetElapsedTime(_lastRefresh, now) < _options.PeerLease / 3 || !_redis.IsConnected)
        {
            return;
        }
        _lastRefresh = now;
        var batch = _redis.Database.CreateBatch();
        var pending = new List<(PeerSession Session, Task<RedisResult> Result)>();
        foreach (var session in _local.Values)
        {
            pending.Add((session, batch.ScriptEvaluateAsync(RefreshScript, [_redis.Key("peer", session.Id!)], [Sid(session), LeaseMs])));
        }
        batch.Execute();
        foreach (var (session, task) in pending)
        {
            try
            {
                if ((long)await task == -1)
                {
                    await ReannounceAsync(session); // the entry vanished (Redis restarted) or was taken over
                }
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                _redis.Failed(ex);
                return;
            }
        }
    }

    /// <summary>Another node took one of our ids over with the right token: close our socket for it.</summary>
    public void HandleKick(string id, string sid)
    {
        if (_local.TryGetValue(id, out var session) && Sid(session) == sid && _local.TryRemove(new KeyValuePair<string, PeerSession>(id, session)))
        {
            ClusterLog.TakenOver(_logger, id);
            session.Close(SignalingBroker.ReplacedCloseStatus, SignalingBroker.ReplacedReason);
        }
    }

    private Task<long> KickAsync(string node, string id, string sid)
        => _redis.PublishAsync(node, ClusterMessages.Kick(id, sid));

    /// <summary>After Redis comes back (possibly empty), claim our live sessions' ids again.</summary>
    private async Task ReannounceAsync()
    {
        foreach (var session in _local.Values)
        {
            try
            {
                await ReannounceAsync(session);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                _redis.Failed(ex);
                return;
            }
        }
    }

    private async Task ReannounceAsync(PeerSession session)
    {
        var result = (RedisResult[])(await _redis.Database.ScriptEvaluateAsync(RegisterScript,
            [_redis.Key("peer", session.Id!)], [_redis.NodeId, _trust.HashToken(session.Id!, session.Token), Sid(session), LeaseMs]))!;
        if ((string?)result[0] == "taken" && _local.TryRemove(new KeyValuePair<string, PeerSession>(session.Id!, session)))
        {
            // Someone else registered this id with another token while we could not reach Redis.
            session.Close((WebSocketCloseStatus)4003, "id taken while the server was unreachable");
        }
        else if ((string?)result[0] == "reattached" && (string?)result[1] is { } previous && previous != _redis.NodeId)
        {
            await KickAsync(previous, session.Id!, (string?)result[2] ?? "");
        }
    }
}
