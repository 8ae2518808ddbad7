using System.Net;
using System.Threading.RateLimiting;
using GhostChat.Server.Ice;
using GhostChat.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace GhostChat.Server.Tests.Ice;

/// <summary>The per-address token buckets of /api/ice and field data, on a fake clock.</summary>
public sealed class IceRateLimiterTests
{
    private static readonly IPAddress A = IPAddress.Parse("203.0.113.7");
    private static readonly IPAddress B = IPAddress.Parse("198.51.100.9");

    [Fact]
    public void Burst_ThenRefusedWithRetryAfter_UntilATokenIsBack_OtherAddressUnaffected()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var limiter = new IceRateLimiter(3, 30, time); // one token every 2 s
        for (int i = 0; i < 3; i++)
        {
            Assert.True(limiter.Acquire(A).IsAcquired);
        }
        using var refused = limiter.Acquire(A);
        Assert.False(refused.IsAcquired);
        Assert.True(refused.TryGetMetadata(MetadataName.RetryAfter, out var retry));
        Assert.Equal(TimeSpan.FromSeconds(2), retry);
        Assert.True(limiter.Acquire(B).IsAcquired);

        time.Advance(TimeSpan.FromSeconds(1.5));
        using var stillRefused = limiter.Acquire(A);
        Assert.False(stillRefused.IsAcquired);
        Assert.True(stillRefused.TryGetMetadata(MetadataName.RetryAfter, out retry));
        Assert.Equal(TimeSpan.FromSeconds(0.5), retry);

        time.Advance(TimeSpan.FromSeconds(0.5));
        Assert.True(limiter.Acquire(A).IsAcquired);
        Assert.False(limiter.Acquire(A).IsAcquired);
    }

    [Fact]
    public void Address_ForgottenOnceItsBucketIsFull_AndTheTimerStopsUntilTheNextRequest()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var timers = new TimerWatch(time);
        using var limiter = new IceRateLimiter(2, 60, timers); // full again 2 s after emptying
        Assert.Equal(0, timers.Armed);
        Assert.True(limiter.Acquire(A).IsAcquired);
        Assert.True(limiter.Acquire(A).IsAcquired);
        Assert.Equal(1, limiter.Held);
        Assert.Equal(1, timers.Armed);

        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(0, limiter.Held);
        Assert.Equal(0, timers.Armed);

        // Forgotten means a full bucket: the whole burst again, and the timer with it.
        Assert.True(limiter.Acquire(A).IsAcquired);
        Assert.True(limiter.Acquire(A).IsAcquired);
        Assert.False(limiter.Acquire(A).IsAcquired);
        Assert.Equal(1, timers.Armed);
    }

    [Fact]
    public void Address_StillRefilling_IsKeptAtTheSweep()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var timers = new TimerWatch(time);
        using var limiter = new IceRateLimiter(2, 60, timers);
        Assert.True(limiter.Acquire(A).IsAcquired);
        time.Advance(TimeSpan.FromSeconds(1.5));
        Assert.True(limiter.Acquire(B).IsAcquired);
        Assert.True(limiter.Acquire(B).IsAcquired);
        time.Advance(TimeSpan.FromSeconds(0.5)); // the sweep: A is full again, B is not
        Assert.Equal(1, limiter.Held);
        Assert.Equal(1, timers.Armed);
        Assert.False(limiter.Acquire(B).IsAcquired);
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(0, limiter.Held);
        Assert.Equal(0, timers.Armed);
    }

    [Fact]
    public void Ipv6_SharesABucketPerSlash64_AndMappedIpv4IsTheIpv4Address()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var limiter = new IceRateLimiter(1, 1, time);
        Assert.True(limiter.Acquire(IPAddress.Parse("2001:db8:1:2::1")).IsAcquired);
        Assert.False(limiter.Acquire(IPAddress.Parse("2001:db8:1:2:ffff::9")).IsAcquired);
        Assert.True(limiter.Acquire(IPAddress.Parse("2001:db8:1:3::1")).IsAcquired);
        Assert.True(limiter.Acquire(A).IsAcquired);
        Assert.False(limiter.Acquire(A.MapToIPv6()).IsAcquired);
        Assert.True(limiter.Acquire(null).IsAcquired);
        Assert.False(limiter.Acquire(null).IsAcquired);
    }

    [Fact]
    public void BurstZero_NoLimit_AndNoTimer()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var timers = new TimerWatch(time);
        using var limiter = new IceRateLimiter(0, 30, timers);
        for (int i = 0; i < 1000; i++)
        {
            Assert.True(limiter.Acquire(A).IsAcquired);
        }
        Assert.Equal(0, limiter.Held);
        Assert.Equal(0, timers.Armed);
    }
}
