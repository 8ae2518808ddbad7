using System.Net;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Ice;

/// <summary>
/// A token bucket per client address (after trusted-proxy forwarding) for <c>/api/ice</c>; field data
/// (Telemetry/) makes its own with other numbers. Addresses live here only while their bucket does.
/// </summary>
internal sealed class IceRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<IPAddress?>? _limiter;

    public IceRateLimiter(IOptions<IceOptions> options)
        : this(options.Value.RateLimit.Burst, options.Value.RateLimit.PerMinute)
    {
    }

    /// <summary><paramref name="burst"/> requests at once, then <paramref name="perMinute"/> a minute; burst 0: no limit.</summary>
    public IceRateLimiter(int burst, int perMinute)
    {
        if (burst == 0)
        {
            return;
        }
        var period = TimeSpan.FromMinutes(1) / perMinute;
        _limiter = PartitionedRateLimiter.Create<IPAddress?, string>(address => RateLimitPartition.GetTokenBucketLimiter(
            Key(address),
            _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = burst,
                TokensPerPeriod = 1,
                ReplenishmentPeriod = period < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : period,
                QueueLimit = 0,
                AutoReplenishment = true,
            }));
    }

    public RateLimitLease Acquire(IPAddress? address) => _limiter?.AttemptAcquire(address) ?? Unlimited.Instance;

    public void Dispose() => _limiter?.Dispose();

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

    private sealed class Unlimited : RateLimitLease
    {
        public static readonly Unlimited Instance = new();

        public override bool IsAcquired => true;

        public override IEnumerable<string> MetadataNames => [];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return false;
        }
    }
}
