using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace GhostChat.Server.Signaling.Cluster;

/// <summary>
/// Relay across nodes. A message for a peer on this node is delivered directly; for a peer on
/// another node it is published on that node's channel (in order: one ordered subscription per
/// node); for an offline peer, or one whose node no longer listens, it goes to a Redis queue with
/// the same bounds and EXPIRE semantics as the in-memory queues. Any node sweeps expired queues;
/// a script detaches each queue atomically, so exactly one node sends its EXPIREs.
/// Everything read back from Redis (channel messages, queue items) is checked before any client
/// sees it: sealed with the cluster key (<see cref="ClusterTrust"/>), within size, well formed, and
/// a relayed frame must be a valid frame of the type and destination its header claims. Anything
/// else is dropped and counted (<c>ghostchat.cluster.messages.dropped</c>), never thrown.
/// </summary>
internal sealed class RedisRelayBus : IRelayBus, IHostedService
{
    private const string EnqueueScript = """
        local size = tonumber(ARGV[2])
        if tonumber(redis.call('GET', KEYS[3]) or '0') + size > tonumber(ARGV[5]) then return 0 end
        if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
        if tonumber(redis.call('GET', KEYS[2]) or '0') + size > tonumber(ARGV[4]) then return 0 end
        redis.call('RPUSH', KEYS[1], ARGV[1])
        redis.call('INCRBY', KEYS[2], size)
        redis.call('INCRBY', KEYS[3], size)
        redis.call('ZADD', KEYS[4], 'NX', ARGV[6], ARGV[7])
        return 1
        """;

    private const string DetachScript = """
        local items = redis.call('LRANGE', KEYS[1], 0, -1)
        local bytes = tonumber(redis.call('GET', KEYS[2]) or '0')
        redis.call('DEL', KEYS[1], KEYS[2])
        redis.call('ZREM', KEYS[4], ARGV[1])
        if bytes > 0 then redis.call('DECRBY', KEYS[3], bytes) end
        return items
        """;

    // Room for the seal, the header fields and the src/dst the node adds to a client's frame.
    private const int Overhead = 1024;

    private readonly RedisConnection _redis;
    private readonly ClusterTrust _trust;
    private readonly RedisPeerDirectory _directory;
    private readonly IOptionsMonitor<SignalingOptions> _options;
    private readonly TimeProvider _time;
    private readonly ClusterMetrics _cluster;
    private readonly Lazy<SignalingMetrics> _metrics;
    private readonly ILogger<RedisRelayBus> _logger;
    private ChannelMessageQueue? _subscription;
    private ChannelMessageQueue? _broadcasts;
    private long _queuedBytes;
    private long _dropped;
    private long _lastDropWarning = -1;

    public RedisRelayBus(RedisConnection redis, ClusterTrust trust, RedisPeerDirectory directory, IOptionsMonitor<SignalingOptions> options, TimeProvider time,
        ClusterMetrics cluster, IServiceProvider services, ILogger<RedisRelayBus> logger)
    {
        _redis = redis;
        _trust = trust;
        _directory = directory;
        _options = options;
        _time = time;
        _cluster = cluster;
        _logger = logger;
        _metrics = new Lazy<SignalingMetrics>(services.GetRequiredService<SignalingMetrics>);
    }

    public long QueuedBytes => Interlocked.Read(ref _queuedBytes);

    private RedisKey QueueKey(string dst) => _redis.Key("queue", dst);

    private RedisKey QueueBytesKey(string dst) => _redis.Key("queuebytes", dst);

    private RedisKey TotalBytesKey => _redis.Prefix + "queuebytes";

    private RedisKey QueuesKey => _redis.Prefix + "queues";

    private int MaxRelayedFrameBytes => _options.CurrentValue.Limits.MaxFrameBytes + Overhead;

    private TimeSpan QueueItemMaxAge => 2 * (_options.CurrentValue.ExpireTimeout + ClusterTrust.MessageWindow);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // One ordered queue: messages from a node arrive in the order it published them.
        _subscription = await _redis.Subscriber.SubscribeAsync(_redis.NodeChannel(_redis.NodeId));
        _subscription.OnMessage(OnNodeMessageAsync);
        _broadcasts = await _redis.Subscriber.SubscribeAsync(_redis.BroadcastChannel);
        _broadcasts.OnMessage(OnBroadcast);
        ClusterLog.ClusterMode(_logger, _redis.NodeId);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_subscription is not null)
        {
            await _subscription.UnsubscribeAsync();
        }
        if (_broadcasts is not null)
        {
            await _broadcasts.UnsubscribeAsync();
        }
    }

    public async ValueTask<RelayOutcome> RelayAsync(RelayMessage message, CancellationToken cancellationToken)
    {
        if (_directory.FindLocal(message.Dst) is { } local)
        {
            return LocalDelivery.Deliver(local, message.Frame, _metrics.Value, _logger);
        }
        try
        {
            var node = await _directory.LocateAsync(message.Dst, cached: true);
            if (node is not null && node != _redis.NodeId)
            {
                var listeners = await _redis.PublishAsync(node, ClusterMessages.Relay(message.Dst, message.Type, message.Src, message.Frame));
                if (listeners > 0)
                {
                    _cluster.Sent();
                    return RelayOutcome.Delivered;
                }
                _directory.ForgetLocation(message.Dst);
                _cluster.DeadNode(); // its node died; the peer will reconnect elsewhere: keep the message for it
            }
            return message.Queueable ? await EnqueueAsync(message) : RelayOutcome.Dropped;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            _redis.Failed(ex);
            if (message.Queueable)
            {
                await SendExpireAsync(message.Dst, message.Src); // tell the sender now rather than never
            }
            return RelayOutcome.Dropped;
        }
    }

    public async ValueTask PeerOnlineAsync(PeerSession session, CancellationToken cancellationToken)
    {
        try
        {
            await FlushAsync(session);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            _redis.Failed(ex); // the queue stays; it expires or is flushed on the next registration
        }
    }

    public async ValueTask ExpireAsync(CancellationToken cancellationToken)
    {
        if (!_redis.IsConnected)
        {
            return;
        }
        try
        {
            var db = _redis.Database;
            var cutoff = _time.GetUtcNow().ToUnixTimeMilliseconds() - (long)_options.CurrentValue.ExpireTimeout.TotalMilliseconds;
            var due = await db.SortedSetRangeByScoreAsync(QueuesKey, double.NegativeInfinity, cutoff, take: 500);
            foreach (var entry in due)
            {
                var dst = (string)entry!;
                var notified = new HashSet<string>(StringComparer.Ordinal);
                foreach (var item in await DetachAsync(dst))
                {
                    if (OpenQueueItem(dst, item, out _, out var src, out _) && notified.Add(src))
                    {
                        await SendExpireAsync(dst, src);
                    }
                }
            }
            Interlocked.Exchange(ref _queuedBytes, (long)await db.StringGetAsync(TotalBytesKey));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            _redis.Failed(ex);
        }
    }

    private async Task<RelayOutcome> EnqueueAsync(RelayMessage message)
    {
        var limits = _options.CurrentValue.Limits;
        var size = message.Frame.Length;
        var ok = size <= limits.MaxQueuedBytesPerPeer && limits.MaxQueuedMessagesPerPeer > 0 && (long)await _redis.Database.ScriptEvaluateAsync(EnqueueScript,
            [QueueKey(message.Dst), QueueBytesKey(message.Dst), TotalBytesKey, QueuesKey],
            [_trust.Seal(QueueKey(message.Dst)!, ClusterMessages.QueueItem(message.Type, message.Src, message.Frame)), size, limits.MaxQueuedMessagesPerPeer, limits.MaxQueuedBytesPerPeer,
             limits.MaxQueuedBytesTotal, _time.GetUtcNow().ToUnixTimeMilliseconds(), message.Dst]) == 1;
        if (!ok)
        {
            _metrics.Value.Rejected(RejectionReasons.QueueFull);
            await SendExpireAsync(message.Dst, message.Src);
            return RelayOutcome.QueueFull;
        }
        _metrics.Value.Queued();

        // The destination may have registered meanwhile, here or elsewhere: have its node flush.
        var node = await _directory.LocateAsync(message.Dst);
        if (node == _redis.NodeId && _directory.FindLocal(message.Dst) is { } late)
        {
            await FlushAsync(late);
        }
        else if (node is not null && node != _redis.NodeId)
        {
            await _redis.PublishAsync(node, ClusterMessages.Flush(message.Dst));
        }
        return RelayOutcome.Queued;
    }

    private async Task<byte[][]> DetachAsync(string dst)
    {
        var result = await _redis.Database.ScriptEvaluateAsync(DetachScript, [QueueKey(dst), QueueBytesKey(dst), TotalBytesKey, QueuesKey], [dst]);
        return result.IsNull ? [] : [.. ((RedisResult[])result!).Select(r => (byte[])r!)];
    }

    private async Task FlushAsync(PeerSession session)
    {
        if (session.Id is not { } id)
        {
            return;
        }
        foreach (var item in await DetachAsync(id))
        {
            if (!OpenQueueItem(id, item, out var type, out _, out var frame))
            {
                continue;
            }
            if (LocalDelivery.Deliver(session, frame, _metrics.Value, _logger) != RelayOutcome.Delivered)
            {
                break;
            }
            _metrics.Value.Relayed(type);
        }
    }

    /// <summary>Tells <paramref name="sender"/>, wherever it is connected, that <paramref name="unreachable"/> is not.</summary>
    private async Task SendExpireAsync(string unreachable, string sender)
    {
        var frame = SignalingFrames.Expire(unreachable, sender);
        if (_directory.FindLocal(sender) is { } local)
        {
            if (local.TrySend(frame))
            {
                _metrics.Value.Expired();
            }
            return;
        }
        try
        {
            var node = await _directory.LocateAsync(sender);
            if (node is not null && node != _redis.NodeId
                && await _redis.PublishAsync(node, ClusterMessages.Relay(sender, MessageType.Expire, unreachable, frame)) > 0)
            {
                _metrics.Value.Expired();
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            _redis.Failed(ex);
        }
    }

    private async Task OnNodeMessageAsync(ChannelMessage message)
    {
        try
        {
            var drop = CheckNodeMessage((byte[]?)message.Message, out var kind, out var fields, out var type, out var frame);
            if (drop != ClusterDrop.None)
            {
                Dropped(drop);
                return;
            }
            switch (kind)
            {
                case 'R':
                    var dst = fields[0];
                    if (_directory.FindLocal(dst) is { } local)
                    {
                        if (LocalDelivery.Deliver(local, frame, _metrics.Value, _logger) == RelayOutcome.Delivered)
                        {
                            _cluster.Received();
                            _metrics.Value.Relayed(type);
                        }
                    }
                    else if (type is MessageType.Offer or MessageType.Answer or MessageType.Candidate)
                    {
                        await EnqueueAsync(new RelayMessage(type, fields[2], dst, true, frame)); // it left this node meanwhile
                    }
                    break;
                case 'K':
                    _directory.HandleKick(fields[0], fields[1]);
                    break;
                case 'F':
                    if (_directory.FindLocal(fields[0]) is { } target)
                    {
                        await FlushAsync(target);
                    }
                    break;
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            _redis.Failed(ex);
        }
    }

    /// <summary>
    /// A message on the broadcast channel: an id registered somewhere, so its cached location goes.
    /// Sealed and fresh like every node message; a replay only costs a lookup, so it is not refused.
    /// </summary>
    private void OnBroadcast(ChannelMessage message)
    {
        var bytes = (byte[]?)message.Message;
        if (bytes is null)
        {
            Dropped(ClusterDrop.Malformed);
            return;
        }
        if (bytes.Length > Overhead)
        {
            Dropped(ClusterDrop.Oversize);
            return;
        }
        var opened = _trust.Open(_redis.BroadcastChannelName, bytes, ClusterTrust.MessageWindow, once: false, out var body);
        if (opened != ClusterDrop.None)
        {
            Dropped(opened);
            return;
        }
        if (!ClusterMessages.TryParse(body, out var kind, out var fields, out _) || kind != 'M' || !PeerIds.IsValidId(fields[0]))
        {
            Dropped(ClusterDrop.Malformed);
            return;
        }
        _directory.ForgetLocation(fields[0]);
    }

    /// <summary>A message on this node's channel: sealed for it, fresh, once, well formed, with a valid frame.</summary>
    private ClusterDrop CheckNodeMessage(byte[]? message, out char kind, out string[] fields, out MessageType type, out byte[] frame)
    {
        kind = '\0';
        fields = [];
        type = MessageType.Unknown;
        frame = [];
        if (message is null)
        {
            return ClusterDrop.Malformed;
        }
        if (message.Length > MaxRelayedFrameBytes + Overhead)
        {
            return ClusterDrop.Oversize;
        }
        var opened = _trust.Open(_redis.NodeChannelName(_redis.NodeId), message, ClusterTrust.MessageWindow, once: true, out var body);
        if (opened != ClusterDrop.None)
        {
            return opened;
        }
        if (!ClusterMessages.TryParse(body, out kind, out fields, out frame) || !PeerIds.IsValidId(fields[0]))
        {
            return ClusterDrop.Malformed;
        }
        return kind switch
        {
            'R' => !TryParseType(fields[1], out type) || !PeerIds.IsValidId(fields[2]) ? ClusterDrop.Malformed : CheckFrame(fields[0], type, frame),
            'K' => fields[1].Length is 0 or > 128 ? ClusterDrop.Malformed : ClusterDrop.None,
            _ => ClusterDrop.None,
        };
    }

    /// <summary>A queue item for <paramref name="dst"/>: sealed for its queue, not too old, well formed, with a valid frame. Counts a drop.</summary>
    private bool OpenQueueItem(string dst, byte[] item, out MessageType type, out string src, out byte[] frame)
    {
        type = MessageType.Unknown;
        src = "";
        frame = [];
        ArraySegment<byte> body = default;
        var drop = item.Length > MaxRelayedFrameBytes + Overhead ? ClusterDrop.Oversize : _trust.Open(QueueKey(dst)!, item, QueueItemMaxAge, once: false, out body);
        if (drop == ClusterDrop.None)
        {
            drop = !ClusterMessages.TryParseQueueItem(body, out type, out src, out frame) || !PeerIds.IsValidId(src) ? ClusterDrop.Malformed : CheckFrame(dst, type, frame);
        }
        if (drop != ClusterDrop.None)
        {
            Dropped(drop);
            return false;
        }
        return true;
    }

    private static bool TryParseType(string text, out MessageType type)
    {
        type = int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var t) ? (MessageType)t : MessageType.Unknown;
        return type is MessageType.Offer or MessageType.Answer or MessageType.Candidate or MessageType.Leave or MessageType.Expire;
    }

    /// <summary>A frame a node relays is one the broker built: a JSON object of the claimed type, for the claimed destination.</summary>
    private ClusterDrop CheckFrame(string dst, MessageType type, byte[] frame)
    {
        if (frame.Length > MaxRelayedFrameBytes)
        {
            return ClusterDrop.Oversize;
        }
        var parsed = SignalingFrames.TryParse(frame, _options.CurrentValue.Limits.MaxJsonDepth, out var f);
        return parsed == MalformedKind.None && f.Type == type && f.Dst == dst ? ClusterDrop.None : ClusterDrop.BadFrame;
    }

    private void Dropped(ClusterDrop reason)
    {
        _cluster.Dropped(reason);
        var count = Interlocked.Increment(ref _dropped);
        var reasonTag = ClusterMetrics.ReasonTag(reason);

        // A Warning at most once a minute (a flood of forgeries must not flood the log); Debug otherwise.
        var now = _time.GetTimestamp();
        var last = Interlocked.Read(ref _lastDropWarning);
        if ((last < 0 || _time.GetElapsedTime(last, now) >= TimeSpan.FromMinutes(1)) && Interlocked.CompareExchange(ref _lastDropWarning, now, last) == last)
        {
            ClusterLog.DroppedWarning(_logger, reasonTag, count);
        }
        else
        {
            ClusterLog.Dropped(_logger, reasonTag);
        }
    }
}
