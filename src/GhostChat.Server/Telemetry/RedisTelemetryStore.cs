using System.Globalization;
using System.Text.Json;
using GhostChat.Server.Signaling.Cluster;
using StackExchange.Redis;

namespace GhostChat.Server.Telemetry;

/// <summary>
/// Aggregates and feedback in the cluster's Redis, so every node adds to the same counts and a report counts once
/// whichever node took it. One hash per hour (<c>{prefix}telemetry:{hour}</c>, field <c>metric␟key</c>) that
/// expires after the retention; feedback in one hash (<c>{prefix}feedback</c>, field id, value JSON with its hour).
/// </summary>
internal sealed class RedisTelemetryStore(RedisConnection redis, TimeSpan retention) : ITelemetryStore
{
    private const char Separator = '\u001f';

    private RedisKey HourKey(long hour) => redis.Key("telemetry", hour.ToString(CultureInfo.InvariantCulture));

    private RedisKey FeedbackKey => redis.Prefix + "feedback";

    private RedisKey FeedbackIdKey => redis.Prefix + "feedback-id";

    public async Task AddAsync(long hour, IReadOnlyList<(string Metric, string Key, long Count)> increments, CancellationToken cancellationToken)
    {
        redis.EnsureConnected();
        var key = HourKey(hour);
        var transaction = redis.Database.CreateTransaction();
        var writes = increments.Select(i => (Task)transaction.HashIncrementAsync(key, i.Metric + Separator + i.Key, i.Count)).ToList();
        writes.Add(transaction.KeyExpireAsync(key, Hours.ToTime(hour).UtcDateTime + retention + TimeSpan.FromHours(1)));
        await transaction.ExecuteAsync().ConfigureAwait(false);
        await Task.WhenAll(writes).ConfigureAwait(false);
    }

    public async Task<AggregateRow[]> ReadAsync(long fromHour, long toHour, CancellationToken cancellationToken)
    {
        redis.EnsureConnected();
        var batch = redis.Database.CreateBatch();
        var reads = new List<(long Hour, Task<HashEntry[]> Entries)>();
        for (var hour = fromHour; hour <= toHour; hour += Hours.Second)
        {
            reads.Add((hour, batch.HashGetAllAsync(HourKey(hour))));
        }
        batch.Execute();
        var rows = new List<AggregateRow>();
        foreach (var (hour, entries) in reads)
        {
            foreach (var entry in (await entries.ConfigureAwait(false)).OrderBy(e => (string?)e.Name, StringComparer.Ordinal))
            {
                var field = (string)entry.Name!;
                var split = field.IndexOf(Separator, StringComparison.Ordinal);
                if (split > 0 && entry.Value.TryParse(out long count))
                {
                    rows.Add(new AggregateRow(hour, field[..split], field[(split + 1)..], count));
                }
            }
        }
        return [.. rows];
    }

    public async Task<long?> AddFeedbackAsync(long hour, string text, DiagnosticsSummary? diagnostics, int maxStored, CancellationToken cancellationToken)
    {
        redis.EnsureConnected();
        if (await redis.Database.HashLengthAsync(FeedbackKey).ConfigureAwait(false) >= maxStored)
        {
            return null;
        }
        var id = await redis.Database.StringIncrementAsync(FeedbackIdKey).ConfigureAwait(false);
        var entry = new FeedbackEntry(id, Hours.ToTime(hour), text, diagnostics);
        await redis.Database.HashSetAsync(FeedbackKey, id, JsonSerializer.Serialize(entry, TelemetryJsonContext.Default.FeedbackEntry)).ConfigureAwait(false);
        return id;
    }

    public async Task<FeedbackEntry[]> ReadFeedbackAsync(CancellationToken cancellationToken)
    {
        redis.EnsureConnected();
        var entries = await redis.Database.HashGetAllAsync(FeedbackKey).ConfigureAwait(false);
        return [.. entries
            .Select(e => JsonSerializer.Deserialize((string)e.Value!, TelemetryJsonContext.Default.FeedbackEntry))
            .OfType<FeedbackEntry>()
            .OrderBy(e => e.Id)];
    }

    public Task<bool> DeleteFeedbackAsync(long id, CancellationToken cancellationToken)
    {
        redis.EnsureConnected();
        return redis.Database.HashDeleteAsync(FeedbackKey, id);
    }

    /// <summary>Hourly hashes expire by themselves; feedback older than the retention is deleted here.</summary>
    public async Task PruneAsync(long beforeHour, CancellationToken cancellationToken)
    {
        var old = (await ReadFeedbackAsync(cancellationToken).ConfigureAwait(false)).Where(e => e.Hour.ToUnixTimeSeconds() < beforeHour).Select(e => (RedisValue)e.Id).ToArray();
        if (old.Length > 0)
        {
            await redis.Database.HashDeleteAsync(FeedbackKey, old).ConfigureAwait(false);
        }
    }
}
