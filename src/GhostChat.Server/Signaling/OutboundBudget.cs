using Microsoft.Extensions.Options;

namespace GhostChat.Server.Signaling;

/// <summary>
/// The node's budget for signaling frames accepted for sending but not yet written to their
/// sockets (<see cref="SignalingLimits.MaxOutboundBytesTotal"/>). Every <see cref="PeerSession"/>
/// reserves a frame's bytes here when it accepts the frame and releases them once the frame is
/// written or dropped, so <see cref="Bytes"/> is what all outbound queues hold right now.
/// </summary>
internal sealed class OutboundBudget(IOptionsMonitor<SignalingOptions> options)
{
    private long _bytes;

    /// <summary>Bytes accepted for sending and not yet written, on all sockets of this node.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Reserves <paramref name="size"/> bytes unless that would pass the node's budget.</summary>
    public bool TryReserve(int size)
    {
        var limit = options.CurrentValue.Limits.MaxOutboundBytesTotal;
        if (Interlocked.Add(ref _bytes, size) > limit)
        {
            Interlocked.Add(ref _bytes, -size);
            return false;
        }
        return true;
    }

    /// <summary>
    /// Reserves <paramref name="size"/> bytes even past the budget: an idle socket's one frame in
    /// flight (it goes straight to the transport and, for a socket that reads, is written at once).
    /// </summary>
    public void Reserve(int size) => Interlocked.Add(ref _bytes, size);

    public void Release(long size) => Interlocked.Add(ref _bytes, -size);
}
