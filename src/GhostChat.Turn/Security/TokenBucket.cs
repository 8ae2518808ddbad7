namespace GhostChat.Turn.Security;

/// <summary>
/// A token bucket driven by <see cref="TimeProvider"/> timestamps, so limits are testable on a fake clock: the one
/// rate limiter of the TURN relay (bytes per second per allocation) and of signaling (messages per socket, connects
/// per address). A mutable struct: it lives inside its owner and is used under the owner's exclusion; it allocates
/// nothing.
/// </summary>
public struct TokenBucket
{
    private double _tokens;
    private long _last;

    /// <summary>A full bucket of <paramref name="burst"/> tokens at timestamp <paramref name="now"/>.</summary>
    public TokenBucket(double burst, long now)
    {
        _tokens = burst;
        _last = now;
    }

    /// <summary>
    /// Takes <paramref name="count"/> tokens if there are that many, after refilling at <paramref name="ratePerSecond"/>
    /// (up to <paramref name="burst"/>) for the time since the last call.
    /// </summary>
    public bool TryTake(long now, long ticksPerSecond, double ratePerSecond, double burst, int count = 1)
    {
        if (now > _last)
        {
            _tokens = Math.Min(burst, _tokens + ((now - _last) * ratePerSecond / ticksPerSecond));
            _last = now;
        }
        if (_tokens >= count)
        {
            _tokens -= count;
            return true;
        }
        return false;
    }

    /// <summary>Whether the bucket would be full at <paramref name="now"/> (nothing to remember any more).</summary>
    public readonly bool IsFullAt(long now, long ticksPerSecond, double ratePerSecond, double burst)
        => _tokens + ((now - _last) * ratePerSecond / ticksPerSecond) >= burst;
}
