using System.Diagnostics.Metrics;

namespace GhostChat.Server.Signaling.Cluster;

/// <summary>Cross-node traffic (meter <c>GhostChat.Cluster</c>).</summary>
internal sealed class ClusterMetrics
{
    public const string MeterName = "GhostChat.Cluster";

    private readonly Counter<long> _sent;
    private readonly Counter<long> _received;
    private readonly Counter<long> _deadNode;
    private readonly Counter<long> _dropped;

    private readonly KeyValuePair<string, object?> _node;

    public ClusterMetrics(IMeterFactory meters, RedisConnection redis)
    {
        _node = new KeyValuePair<string, object?>("node", redis.NodeId);
        var meter = meters.Create(MeterName);
        _sent = meter.CreateCounter<long>("ghostchat.cluster.messages.sent", "{message}", "Messages relayed to a peer on another node.");
        _received = meter.CreateCounter<long>("ghostchat.cluster.messages.received", "{message}", "Messages from another node delivered to a local peer.");
        _deadNode = meter.CreateCounter<long>("ghostchat.cluster.dead_node_messages", "{message}", "Messages for a peer whose node no longer listens; queued instead.");
        _dropped = meter.CreateCounter<long>("ghostchat.cluster.messages.dropped", "{message}",
            "Messages read from Redis (channel or queue) and dropped before any client saw them, by reason: unauthenticated, stale, replayed, oversize, malformed, bad_frame.");
    }

    public void Sent() => _sent.Add(1, _node);

    public void Received() => _received.Add(1, _node);

    public void DeadNode() => _deadNode.Add(1, _node);

    public void Dropped(ClusterDrop reason) => _dropped.Add(1, _node, new KeyValuePair<string, object?>("reason", ReasonTag(reason)));

    public static string ReasonTag(ClusterDrop reason) => reason switch
    {
        ClusterDrop.Unauthenticated => "unauthenticated",
        ClusterDrop.Stale => "stale",
        ClusterDrop.Replayed => "replayed",
        ClusterDrop.Oversize => "oversize",
        ClusterDrop.Malformed => "malformed",
        _ => "bad_frame",
    };
}
