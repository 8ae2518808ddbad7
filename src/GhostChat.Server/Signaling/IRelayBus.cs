namespace GhostChat.Server.Signaling;

/// <summary>What happened to a relayed message.</summary>
internal enum RelayOutcome
{
    /// <summary>Handed to the destination's socket.</summary>
    Delivered,
    /// <summary>The destination is offline; the message waits in its queue until it connects or expires.</summary>
    Queued,
    /// <summary>The destination is offline and this type is never queued (LEAVE, EXPIRE).</summary>
    Dropped,
    /// <summary>The destination's queue (or all queues) is full; the sender was sent EXPIRE.</summary>
    QueueFull,
    /// <summary>The destination's socket is too far behind; it is being closed.</summary>
    DestinationTooSlow,
}

/// <summary>A relayed message: the frame already rebuilt with <c>src</c> set by the broker.</summary>
internal readonly record struct RelayMessage(MessageType Type, string Src, string Dst, bool Queueable, byte[] Frame);

/// <summary>
/// Carries messages to a peer wherever it is connected, and keeps messages for offline peers in
/// bounded queues that expire with EXPIRE to their senders. In-memory for one node; Redis pub/sub
/// and Redis queues for several.
/// </summary>
internal interface IRelayBus
{
    /// <summary>Delivers, queues or drops <paramref name="message"/>.</summary>
    ValueTask<RelayOutcome> RelayAsync(RelayMessage message, CancellationToken cancellationToken);

    /// <summary>A peer registered: hand it whatever was queued for it, in order.</summary>
    ValueTask PeerOnlineAsync(PeerSession session, CancellationToken cancellationToken);

    /// <summary>Drops queues older than the expire timeout and tells their senders (EXPIRE).</summary>
    ValueTask ExpireAsync(CancellationToken cancellationToken);

    /// <summary>Bytes currently held in offline queues on this node.</summary>
    long QueuedBytes { get; }
}
