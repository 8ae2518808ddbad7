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
internal sealed class RedisTelemetryStore(RedisConnection redis, TimeSpan retention, TimeProvider time) : ITelemetryStore
{
    private const char Separator = '\u001f';

    private RedisKey HourKey(long hour) => redis.Key("telemetry", hour.ToString(CultureInfo.InvariantCulture));

    private RedisKey FeedbackKey => redis.Prefix + "feedback";

    private RedisKey FeedbackIdKey => redis.Prefix + "feedback-id";

    /// <summary>Adds field/count pairs to one hour's hash and sets its expiry, atomically (one script).</summary>
    private const string AddScript = """
        for i = 1, #ARGV - 1, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
        redis.call('PEXPIRE', KEYS[1], ARGV[#ARGV])
        return 1
        """;

    public async Task AddAsync(long hour, IReadOnlyList<(string Metric, string Key, long Count)> increments, CancellationToken cancellationToken)
    {
        redis.EnsureConnected();
        var expires = Hours.ToTime(hour) + retention + TimeSpan.FromHours(1) - time.GetUtcNow();
        var args = increments.SelectMany(i => new RedisValue[] { i.Metric + Separator + i.Key, i.Count })
            .Append((long)Math.Max(1000, expires.TotalMilliseconds)).ToArray();
        await redis.Database.ScriptEvaluateAsync(AddScript, [HourKey(hour)], args).ConfigureAwait(false);
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

    /// <summary>Stores one feedback entry unless the hash is full: KEYS feedback, id counter; ARGV max, hour, JSON without its id.</summary>
    private const string FeedbackScript = """
        if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
        local id = redis.call('INCRBY', KEYS[2], 1)
        redis.call('HSET', KEYS[1], id, ARGV[2])
        return id
        """;

    public async Task<long?> AddFeedbackAsync(long hour, string text, DiagnosticsSummary? diagnostics, int maxStored, CancellationToken cancellationToken)
    {
        redis.EnsureConnected();
        // The id inside the JSON is 0; the hash field is the real one (ReadFeedbackAsync puts it back).
        var json = JsonSerializer.Serialize(new FeedbackEntry(0, Hours.ToTime(hour), text, diagnostics), TelemetryJsonContext.Default.FeedbackEntry);
        var id = (long)await redis.Database.ScriptEvaluateAsync(FeedbackScript, [FeedbackKey, FeedbackIdKey], [maxStored, json]).ConfigureAwait(false);
        return id == 0 ? null : id;
    }

    public async Task<FeedbackEntry[]> ReadFeedbackAsync(CancellationToken cancellationToken)
    {
        redis.EnsureConnected();
        var entries = await redis.Database.HashGetAllAsync(FeedbackKey).ConfigureAwait(false);
        return [.. entries
            .Select(e => (Id: (long)e.Name, Entry: JsonSerializer.Deserialize((string)e.Value!, TelemetryJsonContext.Default.FeedbackEntry)))
            .Where(e => e.Entry is not null)
            .Select(e => e.Entry! with { Id = e.Id })
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
