using System.Net;
using System.Threading.RateLimiting;

namespace GhostChat.Server.Ice;

/// <summary>
/// A token bucket per client address (after trusted-proxy forwarding) for <c>/api/ice</c>; field data
/// (Telemetry/) makes its own with other numbers. Addresses live here only while their bucket is not full again.
/// </summary>
/// <remarks>
/// Buckets are refilled from the clock when asked (no timer per bucket or per limiter: the framework's
/// partitioned limiter ticks every 100 ms for as long as it exists, an idle server's largest periodic cost).
/// One timer, armed only while some bucket is not full, forgets the buckets that are full again.
/// </remarks>
internal sealed class IceRateLimiter : IDisposable
{
    private readonly Dictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly int _burst;
    // One token per period, in TimeProvider timestamp units.
    private readonly long _period;
    private readonly ITimer? _forget;
    private bool _forgetArmed;
    private bool _disposed;

    /// <summary><paramref name="burst"/> requests at once, then <paramref name="perMinute"/> a minute; burst 0: no limit.</summary>
    public IceRateLimiter(int burst, int perMinute, TimeProvider time)
    {
        _time = time;
        _burst = burst;
        if (burst == 0)
        {
            return;
        }
        var period = TimeSpan.FromMinutes(1) / perMinute;
        if (period < TimeSpan.FromMilliseconds(1))
        {
            period = TimeSpan.FromMilliseconds(1);
        }
        _period = Math.Max(1, (long)(period.TotalSeconds * time.TimestampFrequency));
        _forget = time.CreateTimer(_ => Forget(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Addresses (IPv4, or IPv6 /64) now held, each with a bucket that is not full.</summary>
    public int Held
    {
        get
        {
            lock (_gate)
            {
                return _buckets.Count;
            }
        }
    }

    public RateLimitLease Acquire(IPAddress? address)
    {
        if (_burst == 0)
        {
            return Lease.Granted;
        }
        var key = Key(address);
        long now = _time.GetTimestamp();
        lock (_gate)
        {
            if (!_buckets.TryGetValue(key, out var bucket))
            {
                bucket = new Bucket { Tokens = _burst, Stamp = now };
            }
            Refill(bucket, now);
            if (bucket.Tokens == 0)
            {
                long wait = _period - (now - bucket.Stamp);
                return new Lease(false, TimeSpan.FromSeconds((double)Math.Max(1, wait) / _time.TimestampFrequency));
            }
            if (bucket.Tokens == _burst)
            {
                // A full bucket starts its refill clock at its first token taken.
                bucket.Stamp = now;
            }
            bucket.Tokens--;
            _buckets[key] = bucket;
            if (!_forgetArmed && !_disposed)
            {
                _forgetArmed = true;
                _forget!.Change(RefillTime, Timeout.InfiniteTimeSpan);
            }
            return Lease.Granted;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _forgetArmed = false;
        }
        _forget?.Dispose();
    }

    /// <summary>How long an empty bucket takes to fill: after that a bucket not used since is full.</summary>
    private TimeSpan RefillTime => TimeSpan.FromSeconds((double)_period * _burst / _time.TimestampFrequency);

    private void Refill(Bucket bucket, long now)
    {
        long gained = (now - bucket.Stamp) / _period;
        if (gained <= 0)
        {
            return;
        }
        if (bucket.Tokens + gained >= _burst)
        {
            bucket.Tokens = _burst;
            bucket.Stamp = now;
        }
        else
        {
            bucket.Tokens += (int)gained;
            bucket.Stamp += gained * _period;
        }
    }

    /// <summary>Drops the buckets that are full again; re-arms while any is left.</summary>
    private void Forget()
    {
        long now = _time.GetTimestamp();
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            List<string>? full = null;
            foreach (var (key, bucket) in _buckets)
            {
                Refill(bucket, now);
                if (bucket.Tokens == _burst)
                {
                    (full ??= []).Add(key);
                }
            }
            if (full is not null)
            {
                foreach (var key in full)
                {
                    _buckets.Remove(key);
                }
            }
            _forgetArmed = _buckets.Count > 0;
            _forget!.Change(_forgetArmed ? RefillTime : Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>IPv6 clients are limited per /64 (one host usually holds a whole /64); IPv4 per address.</summary>
    private static string Key(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            var bytes = address.GetAddressBytes();
            Array.Clear(bytes, 8, 8);
            return new IPAddress(bytes).ToString();
        }
        return address.ToString();
    }

    private sealed class Bucket
    {
        public int Tokens;
        // When the last token was counted in (TimeProvider timestamp).
        public long Stamp;
    }

    private sealed class Lease(bool acquired, TimeSpan retryAfter) : RateLimitLease
    {
        public static readonly Lease Granted = new(true, TimeSpan.Zero);

        public override bool IsAcquired => acquired;

        public override IEnumerable<string> MetadataNames => acquired ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            if (!acquired && metadataName == MetadataName.RetryAfter.Name)
            {
                metadata = retryAfter;
                return true;
            }
            metadata = null;
            return false;
        }
    }
}
