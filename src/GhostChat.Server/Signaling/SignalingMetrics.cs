using System.Diagnostics.Metrics;

namespace GhostChat.Server.Signaling;

/// <summary>The broker's instruments (meter <c>GhostChat.Signaling</c>, exported on /metrics). No ids, no addresses.</summary>
internal sealed class SignalingMetrics
{
    public const string MeterName = "GhostChat.Signaling";

    private readonly Counter<long> _relayed;
    private readonly Counter<long> _queued;
    private readonly Counter<long> _expired;
    private readonly Counter<long> _rejections;
    private readonly Counter<long> _malformed;
    private readonly Counter<long> _ignored;
    private readonly Counter<long> _connections;

    public SignalingMetrics(IMeterFactory meterFactory, IPeerDirectory directory, IRelayBus bus, ClientAdmission admission, OutboundBudget outbound)
    {
        var meter = meterFactory.Create(MeterName);
        meter.CreateObservableGauge("ghostchat.signaling.peers", () => directory.Count, "{peer}", "Registered peer ids on this node.");
        meter.CreateObservableGauge("ghostchat.signaling.sockets", () => admission.OpenSockets, "{socket}", "Open signaling WebSockets on this node.");
        meter.CreateObservableGauge("ghostchat.signaling.queue.bytes", () => bus.QueuedBytes, "By", "Bytes held for offline peers.");
        meter.CreateObservableGauge("ghostchat.signaling.outbound.bytes", () => outbound.Bytes, "By", "Bytes waiting to be written to connected peers' sockets.");
        _connections = meter.CreateCounter<long>("ghostchat.signaling.connections", "{socket}", "Signaling WebSockets accepted.");
        _relayed = meter.CreateCounter<long>("ghostchat.signaling.messages.relayed", "{message}", "Messages delivered to a connected peer, by type.");
        _queued = meter.CreateCounter<long>("ghostchat.signaling.messages.queued", "{message}", "Messages queued for an offline peer.");
        _expired = meter.CreateCounter<long>("ghostchat.signaling.messages.expired", "{message}", "EXPIRE notices sent because a peer stayed offline or its queue was full.");
        _rejections = meter.CreateCounter<long>("ghostchat.signaling.rejections", "{event}", "Sockets or frames refused, by reason.");
        _malformed = meter.CreateCounter<long>("ghostchat.signaling.frames.malformed", "{frame}", "Malformed frames ignored, by kind.");
        _ignored = meter.CreateCounter<long>("ghostchat.signaling.frames.ignored", "{frame}", "Well-formed frames with no action (unknown type, missing dst).");
    }

    /// <summary>A socket was accepted; <paramref name="path"/> says how ("loop": the signaling socket loop, "connection": Kestrel's fast path, "http": the HTTP pipeline).</summary>
    public void Accepted(string path) => _connections.Add(1, new KeyValuePair<string, object?>("path", path));

    public void Relayed(MessageType type) => _relayed.Add(1, new KeyValuePair<string, object?>("type", SignalingFrames.TypeName(type)));

    public void Queued() => _queued.Add(1);

    public void Expired(long count = 1) => _expired.Add(count);

    public void Rejected(string reason) => _rejections.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Malformed(MalformedKind kind) => _malformed.Add(1, new KeyValuePair<string, object?>("kind", kind switch
    {
        MalformedKind.TooLarge => "too_large",
        MalformedKind.InvalidUtf8 => "invalid_utf8",
        MalformedKind.InvalidJson => "invalid_json",
        MalformedKind.NotAnObject => "not_an_object",
        MalformedKind.TooDeep => "too_deep",
        _ => "other",
    }));

    public void Ignored() => _ignored.Add(1);
}

/// <summary>Rejection reasons (metric tag values).</summary>
internal static class RejectionReasons
{
    public const string AtCapacity = "at_capacity";
    public const string TooManySocketsFromAddress = "too_many_sockets_from_address";
    public const string ConnectingTooFast = "connect_rate";
    public const string OriginNotAllowed = "origin_not_allowed";
    public const string MissingParameters = "missing_parameters";
    public const string InvalidKey = "invalid_key";
    public const string InvalidId = "invalid_id";
    public const string InvalidToken = "invalid_token";
    public const string UnknownId = "id_not_issued";
    public const string IdBoundToAnotherToken = "id_bound_to_another_token";
    public const string IdTaken = "id_taken";
    public const string ConcurrentLimit = "concurrent_limit";
    public const string MessageRate = "message_rate";
    public const string MalformedAbuse = "malformed_frames";
    public const string QueueFull = "queue_full";
    public const string SlowConsumer = "slow_consumer";
    public const string NodeOutboundBudget = "node_outbound_budget";
    public const string AliveTimeout = "alive_timeout";
    public const string BackendUnavailable = "backend_unavailable";
    public const string OutOfDescriptors = "out_of_descriptors";
}
