using System.Collections.Concurrent;

namespace GhostChat.Turn.Server;

/// <summary>Counts per key in a concurrent table, the key removed when its count reaches zero. Callers hold a lock.</summary>
internal static class CountTable
{
    public static void Decrement<TKey>(ConcurrentDictionary<TKey, int> counts, TKey key)
        where TKey : notnull
    {
        int left = counts.GetValueOrDefault(key) - 1;
        if (left <= 0)
        {
            counts.TryRemove(key, out _);
        }
        else
        {
            counts[key] = left;
        }
    }
}
