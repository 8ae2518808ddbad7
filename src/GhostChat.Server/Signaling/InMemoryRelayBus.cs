using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Signaling;

/// <summary>
/// Single-node relay: delivers to local sessions and keeps bounded FIFO queues for offline ids.
/// A queue's age counts from its first message; when it passes the expire timeout the queue is
/// dropped and every distinct sender in it gets one EXPIRE (as the reference server does).
/// </summary>
internal sealed class InMemoryRelayBus : IRelayBus
{
    private readonly ConcurrentDictionary<string, OfflineQueue> _queues = new(StringComparer.Ordinal);
    private readonly IPeerDirectory _directory;
    private readonly IOptionsMonitor<SignalingOptions> _options;
    private readonly TimeProvider _time;
    private readonly Lazy<SignalingMetrics> _metrics;
    private readonly ILogger<InMemoryRelayBus> _logger;
    private long _queuedBytes;

    public InMemoryRelayBus(IPeerDirectory directory, IOptionsMonitor<SignalingOptions> options, TimeProvider time, IServiceProvider services,
        ILogger<InMemoryRelayBus> logger)
    {
        _logger = logger;
        _directory = directory;
        _options = options;
        _time = time;
        // Metrics observe the bus; resolve them lazily to avoid a construction cycle.
        _metrics = new Lazy<SignalingMetrics>(services.GetRequiredService<SignalingMetrics>);
    }

    public long QueuedBytes => Interlocked.Read(ref _queuedBytes);

    public ValueTask<RelayOutcome> RelayAsync(RelayMessage message, CancellationToken cancellationToken)
    {
        var target = _directory.FindLocal(message.Dst);
        if (target is not null)
        {
            return ValueTask.FromResult(Deliver(target, message.Frame));
        }
        if (!message.Queueable)
        {
            return ValueTask.FromResult(RelayOutcome.Dropped);
        }

        if (!TryEnqueue(message))
        {
            _metrics.Value.Rejected(RejectionReasons.QueueFull);
            NotifyExpired(message.Dst, message.Src);
            return ValueTask.FromResult(RelayOutcome.QueueFull);
        }
        _metrics.Value.Queued();

        // The destination may have registered between the lookup and the enqueue: flush now.
        if (_directory.FindLocal(message.Dst) is { } late)
        {
            Flush(late);
        }
        return ValueTask.FromResult(RelayOutcome.Queued);
    }

    public ValueTask PeerOnlineAsync(PeerSession session, CancellationToken cancellationToken)
    {
        Flush(session);
        return ValueTask.CompletedTask;
    }

    public ValueTask ExpireAsync(CancellationToken cancellationToken)
    {
        var expireTicks = (long)(_options.CurrentValue.ExpireTimeout.TotalSeconds * _time.TimestampFrequency);
        var now = _time.GetTimestamp();
        foreach (var (dst, queue) in _queues)
        {
            if (now - queue.Created < expireTicks || !TryDetach(dst, queue))
            {
                continue;
            }
            // One EXPIRE per distinct sender, in the order they first wrote.
            var notified = new HashSet<string>(StringComparer.Ordinal);
            foreach (var item in queue.Items)
            {
                if (notified.Add(item.Src))
                {
                    NotifyExpired(dst, item.Src);
                }
            }
        }
        return ValueTask.CompletedTask;
    }

    private RelayOutcome Deliver(PeerSession target, byte[] frame) => LocalDelivery.Deliver(target, frame, _metrics.Value, _logger);

    private void NotifyExpired(string unreachable, string sender)
    {
        if (_directory.FindLocal(sender) is { } session && session.TrySend(SignalingFrames.Expire(unreachable, sender)))
        {
            _metrics.Value.Expired();
        }
    }

    private bool TryEnqueue(RelayMessage message)
    {
        var limits = _options.CurrentValue.Limits;
        var size = message.Frame.Length;
        if (size > limits.MaxQueuedBytesPerPeer || limits.MaxQueuedMessagesPerPeer == 0)
        {
            return false;
        }
        if (Interlocked.Add(ref _queuedBytes, size) > limits.MaxQueuedBytesTotal)
        {
            Interlocked.Add(ref _queuedBytes, -size);
            return false;
        }
        while (true)
        {
            var queue = _queues.GetOrAdd(message.Dst, static (_, now) => new OfflineQueue(now), _time.GetTimestamp());
            lock (queue)
            {
                if (queue.Detached)
                {
                    continue;
                }
                if (queue.Items.Count >= limits.MaxQueuedMessagesPerPeer || queue.Bytes + size > limits.MaxQueuedBytesPerPeer)
                {
                    Interlocked.Add(ref _queuedBytes, -size);
                    return false;
                }
                queue.Items.Enqueue(new QueuedMessage(message.Type, message.Src, message.Frame));
                queue.Bytes += size;
                return true;
            }
        }
    }

    private void Flush(PeerSession session)
    {
        if (session.Id is not { } id || !_queues.TryGetValue(id, out var queue) || !TryDetach(id, queue))
        {
            return;
        }
        foreach (var item in queue.Items)
        {
            if (Deliver(session, item.Frame) != RelayOutcome.Delivered)
            {
                break;
            }
            _metrics.Value.Relayed(item.Type);
        }
    }

    /// <summary>Removes the queue from the table exactly once; afterwards nobody else touches its items.</summary>
    private bool TryDetach(string dst, OfflineQueue queue)
    {
        lock (queue)
        {
            if (queue.Detached)
            {
                return false;
            }
            queue.Detached = true;
            _queues.TryRemove(new KeyValuePair<string, OfflineQueue>(dst, queue));
            Interlocked.Add(ref _queuedBytes, -queue.Bytes);
            return true;
        }
    }

    private sealed class OfflineQueue(long created)
    {
        public readonly long Created = created;
        public readonly Queue<QueuedMessage> Items = new();
        public int Bytes;
        public bool Detached;
    }

    private readonly record struct QueuedMessage(MessageType Type, string Src, byte[] Frame);
}

/// <summary>
/// Handing a frame to a socket on this node. A socket that cannot take it — its own outbound
/// budget is used up, or it is behind while the node's is — is closed as too slow (1008).
/// </summary>
internal static class LocalDelivery
{
    internal const string TooSlowReason = "too slow to receive signaling messages";

    public static RelayOutcome Deliver(PeerSession target, byte[] frame, SignalingMetrics metrics, ILogger logger)
        => Handled(target, target.Send(frame), metrics, logger);

    /// <summary>As the other overload, for a frame written straight into the socket's outgoing buffer when it can be.</summary>
    public static RelayOutcome Deliver(PeerSession target, scoped in RelayFrame frame, SignalingMetrics metrics, ILogger logger)
        => Handled(target, target.Send(frame), metrics, logger);

    private static RelayOutcome Handled(PeerSession target, SendOutcome outcome, SignalingMetrics metrics, ILogger logger)
    {
        if (outcome == SendOutcome.Accepted)
        {
            return RelayOutcome.Delivered;
        }
        if (outcome != SendOutcome.Closing && target.TryClose(System.Net.WebSockets.WebSocketCloseStatus.PolicyViolation, TooSlowReason))
        {
            var reason = outcome == SendOutcome.OverNodeBudget ? RejectionReasons.NodeOutboundBudget : RejectionReasons.SlowConsumer;
            metrics.Rejected(reason);
            Log.ClosedSlowConsumer(logger, reason);
        }
        return RelayOutcome.DestinationTooSlow;
    }
}
