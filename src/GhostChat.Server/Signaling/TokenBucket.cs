namespace GhostChat.Server.Signaling;

/// <summary>
/// A token bucket driven by <see cref="TimeProvider"/> timestamps, so limits are testable on a fake
/// clock. A mutable struct: it lives inside its owner and is used under the owner's exclusion.
/// </summary>
internal struct TokenBucket
{
    private double _tokens;
    private long _last;

    public TokenBucket(int burst, long now)
    {
        _tokens = burst;
        _last = now;
    }

    /// <summary>Takes one token if there is one, after refilling for the time since the last call.</summary>
    public bool TryTake(long now, long ticksPerSecond, double ratePerSecond, int burst)
    {
        if (now > _last)
        {
            _tokens = Math.Min(burst, _tokens + (now - _last) * ratePerSecond / ticksPerSecond);
            _last = now;
        }
        if (_tokens >= 1)
        {
            _tokens -= 1;
            return true;
        }
        return false;
    }

    /// <summary>Whether the bucket would be full at <paramref name="now"/> (nothing to remember any more).</summary>
    public readonly bool IsFullAt(long now, long ticksPerSecond, double ratePerSecond, int burst)
        => _tokens + (now - _last) * ratePerSecond / ticksPerSecond >= burst;
}
