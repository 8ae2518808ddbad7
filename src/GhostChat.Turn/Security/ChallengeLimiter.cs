using GhostChat.Turn.Stun;

namespace GhostChat.Turn.Security;

/// <summary>
/// How many 401/438 challenges each source gets per second, in a table whose size never changes: every source
/// bucket (<see cref="PeerKey.SourceBucket"/>: an IPv4 address or an IPv6 /64) is hashed with a per-process key into
/// two of <see cref="Slots"/> counters, and is answered while the smaller of its two counters is within the
/// limit. A flood from any number of (spoofed) sources spreads over the slots and leaves almost every other
/// source its budget; a source that floods only uses up its own two slots. Sources that share both slots with
/// a flooding one (about one in 4·10⁹ for a single flooder) share its budget. Lock-free, allocation-free.
/// </summary>
internal sealed class ChallengeLimiter(int perSecond, TimeProvider time)
{
    /// <summary>Counters in the table (a power of two): 512 KiB.</summary>
    public const int Slots = 1 << 16;

    // Each slot: the second it counts (high 32 bits) and the count in that second (low 32 bits).
    private readonly long[] _slots = new long[Slots];
    private readonly ulong _key0 = (ulong)Random.Shared.NextInt64();
    private readonly ulong _key1 = (ulong)Random.Shared.NextInt64();

    /// <summary>Counts one challenge for <paramref name="source"/>; false when its budget for this second is spent.</summary>
    public bool TryTake(PeerKey source)
    {
        var bucket = source.SourceBucket;
        uint second = (uint)time.GetUtcNow().ToUnixTimeSeconds();
        int a = Take(Slot(bucket, _key0), second);
        int b = Take(Slot(bucket, _key1), second);
        return Math.Min(a, b) <= perSecond;
    }

    private static int Slot(PeerKey bucket, ulong key)
    {
        ulong h = key ^ (ulong)bucket.Address ^ ((ulong)(bucket.Address >> 64) * 0x9E3779B97F4A7C15UL) ^ (bucket.IsV6 ? 0xD6E8FEB86659FD93UL : 0);
        // SplitMix64 finaliser: every input bit moves every output bit.
        h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9UL;
        h = (h ^ (h >> 27)) * 0x94D049BB133111EBUL;
        h ^= h >> 31;
        return (int)(h & (Slots - 1));
    }

    /// <summary>Adds one to the slot's count for <paramref name="second"/> and returns it (saturating).</summary>
    private int Take(int slot, uint second)
    {
        while (true)
        {
            long old = Volatile.Read(ref _slots[slot]);
            uint count = (uint)old;
            uint next = (uint)((ulong)old >> 32) == second ? (count == uint.MaxValue ? count : count + 1) : 1;
            long value = ((long)second << 32) | next;
            if (value == old || Interlocked.CompareExchange(ref _slots[slot], value, old) == old)
            {
                return (int)Math.Min(next, int.MaxValue);
            }
        }
    }
}
