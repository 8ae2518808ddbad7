using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace GhostChat.Server.Signaling.Cluster;

/// <summary>
/// The node's one Redis connection. It connects in the background and reconnects by itself, so
/// a node starts (not ready) while Redis is down and becomes ready when it returns.
/// </summary>
internal sealed class RedisConnection : IAsyncDisposable
{
    private readonly ConnectionMultiplexer _multiplexer;
    private readonly Counter<long> _errors;
    private readonly ILogger<RedisConnection> _logger;
    private readonly ClusterTrust _trust;

    public RedisConnection(IOptions<ClusterOptions> options, ClusterTrust trust, IMeterFactory meters, ILogger<RedisConnection> logger)
    {
        var o = options.Value;
        _logger = logger;
        _trust = trust;
        NodeId = o.NodeId.Length > 0 ? o.NodeId : Guid.NewGuid().ToString("N")[..16];
        Prefix = o.KeyPrefix;
        var config = ConfigurationOptions.Parse(o.ConnectionString);
        config.AbortOnConnectFail = false;
        config.ConnectTimeout = (int)o.OperationTimeout.TotalMilliseconds;
        config.SyncTimeout = (int)o.OperationTimeout.TotalMilliseconds;
        config.AsyncTimeout = (int)o.OperationTimeout.TotalMilliseconds;
        config.ConnectRetry = int.MaxValue;
        config.ClientName = "ghostchat-" + NodeId;
        // GhostChat uses one standalone Redis (its scripts span several keys, so not Redis Cluster). Unless the
        // connection string says otherwise: no tie-breaker key, no configuration broadcast channel, no CONFIG
        // (it would show requirepass) or CLUSTER commands, so a user limited to GhostChat's own keys and
        // channels needs nothing more (docs/operator-guide.md, "Redis access").
        bool Mentions(string option) => o.ConnectionString.Contains(option, StringComparison.OrdinalIgnoreCase);
        if (!Mentions("tiebreaker="))
        {
            config.TieBreaker = "";
        }
        if (!Mentions("configChannel="))
        {
            config.ConfigurationChannel = "";
        }
        if (!Mentions("$"))
        {
            config.CommandMap = CommandMap.Create(["CONFIG", "CLUSTER"], available: false);
        }
        _multiplexer = ConnectionMultiplexer.Connect(config);
        _multiplexer.ConnectionFailed += (_, e) => ClusterLog.RedisDown(_logger, e.FailureType.ToString());
        _multiplexer.ConnectionRestored += (_, e) =>
        {
            ClusterLog.RedisUp(_logger);
            Restored?.Invoke();
        };

        var meter = meters.Create(ClusterMetrics.MeterName);
        meter.CreateObservableGauge("ghostchat.redis.connected", () => IsConnected ? 1 : 0, null, "1 while this node's Redis connection is up.");
        _errors = meter.CreateCounter<long>("ghostchat.redis.errors", "{error}", "Redis operations that failed or timed out.");
    }

    public string NodeId { get; }

    public string Prefix { get; }

    public bool IsConnected => _multiplexer.IsConnected;

    public IDatabase Database => _multiplexer.GetDatabase();

    public ISubscriber Subscriber => _multiplexer.GetSubscriber();

    public System.Net.EndPoint[] Endpoints => _multiplexer.GetEndPoints();

    public IServer Server(System.Net.EndPoint endpoint) => _multiplexer.GetServer(endpoint);

    /// <summary>Raised (on a Redis thread) when the connection comes back after a failure.</summary>
    public event Action? Restored;

    public RedisKey Key(string kind, string id) => Prefix + kind + ":" + id;

    public RedisChannel NodeChannel(string nodeId) => RedisChannel.Literal(NodeChannelName(nodeId));

    public string NodeChannelName(string nodeId) => Prefix + "node:" + nodeId;

    /// <summary>Seals <paramref name="message"/> (<see cref="ClusterMessages"/>) for node <paramref name="nodeId"/> and publishes it; returns the number of listeners.</summary>
    public Task<long> PublishAsync(string nodeId, byte[] message)
        => Subscriber.PublishAsync(NodeChannel(nodeId), _trust.Seal(NodeChannelName(nodeId), message));

    /// <summary>The channel every node listens to (announcements that concern all of them).</summary>
    public RedisChannel BroadcastChannel => RedisChannel.Literal(BroadcastChannelName);

    public string BroadcastChannelName => Prefix + "nodes";

    /// <summary>Seals and publishes <paramref name="message"/> to every node, without waiting for Redis.</summary>
    public void PublishBroadcast(byte[] message)
        => Subscriber.Publish(BroadcastChannel, _trust.Seal(BroadcastChannelName, message), CommandFlags.FireAndForget);

    public void Failed(Exception ex)
    {
        _errors.Add(1);
        ClusterLog.RedisError(_logger, ex.GetType().Name);
    }

    /// <summary>Throws <see cref="SignalingUnavailableException"/> at once instead of waiting for a timeout.</summary>
    public void EnsureConnected()
    {
        if (!IsConnected)
        {
            throw new SignalingUnavailableException("Redis is not connected.");
        }
    }

    public async ValueTask DisposeAsync() => await _multiplexer.DisposeAsync();

    /// <summary>Readiness: Redis answers a PING.</summary>
    internal sealed class HealthCheck(RedisConnection redis) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            if (!redis.IsConnected)
            {
                return HealthCheckResult.Unhealthy("Redis is unreachable: this node refuses new peers until it returns.");
            }
            try
            {
                var latency = await redis.Database.PingAsync();
                return HealthCheckResult.Healthy("Redis answers.", new Dictionary<string, object>(StringComparer.Ordinal) { ["latencyMs"] = Math.Round(latency.TotalMilliseconds, 2), ["node"] = redis.NodeId });
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                redis.Failed(ex);
                return HealthCheckResult.Unhealthy("Redis does not answer: this node refuses new peers until it does.");
            }
        }
    }
}

internal static partial class ClusterLog
{
    [LoggerMessage(1100, LogLevel.Warning, "Redis connection lost ({FailureType}); new peers are refused until it returns")]
    public static partial void RedisDown(ILogger logger, string failureType);

    [LoggerMessage(1101, LogLevel.Information, "Redis connection restored; re-announcing this node's peers")]
    public static partial void RedisUp(ILogger logger);

    [LoggerMessage(1102, LogLevel.Warning, "A Redis operation failed ({ErrorType})")]
    public static partial void RedisError(ILogger logger, string errorType);

    [LoggerMessage(1103, LogLevel.Information, "Signaling runs in cluster mode on Redis as node {NodeId}")]
    public static partial void ClusterMode(ILogger logger, string nodeId);

    [LoggerMessage(1104, LogLevel.Debug, "Peer {PeerId} was taken over by another node's session; closing the local socket")]
    public static partial void TakenOver(ILogger logger, string peerId);

    [LoggerMessage(1105, LogLevel.Warning, "Dropped a message read from Redis ({Reason}); {Count} dropped so far. Unauthenticated: a node with another cluster key, or someone writing into Redis")]
    public static partial void DroppedWarning(ILogger logger, string reason, long count);

    [LoggerMessage(1106, LogLevel.Debug, "Dropped a message read from Redis ({Reason})")]
    public static partial void Dropped(ILogger logger, string reason);
}
