namespace GhostChat.Server.Telemetry;

/// <summary>
/// Where field data lives: hourly aggregates (hour, metric, key, count) and feedback entries (id, hour, text,
/// diagnostics). Hours are Unix seconds at the start of an hour (UTC). No implementation keeps an address, an id,
/// a per-report row or a finer time.
/// </summary>
internal interface ITelemetryStore
{
    /// <summary>Adds every increment to the aggregates of <paramref name="hour"/>, all or none.</summary>
    Task AddAsync(long hour, IReadOnlyList<(string Metric, string Key, long Count)> increments, CancellationToken cancellationToken);

    /// <summary>The aggregates of the hours from <paramref name="fromHour"/> to <paramref name="toHour"/>, by hour, metric and key.</summary>
    Task<AggregateRow[]> ReadAsync(long fromHour, long toHour, CancellationToken cancellationToken);

    /// <summary>Stores feedback unless <paramref name="maxStored"/> entries are there already; its id, or null when full.</summary>
    Task<long?> AddFeedbackAsync(long hour, string text, DiagnosticsSummary? diagnostics, int maxStored, CancellationToken cancellationToken);

    Task<FeedbackEntry[]> ReadFeedbackAsync(CancellationToken cancellationToken);

    /// <summary>Deletes one feedback entry; false when there was none with that id.</summary>
    Task<bool> DeleteFeedbackAsync(long id, CancellationToken cancellationToken);

    /// <summary>Forgets aggregates and feedback of the hours before <paramref name="beforeHour"/>.</summary>
    Task PruneAsync(long beforeHour, CancellationToken cancellationToken);
}

internal static class Hours
{
    public const long Second = 3600;

    /// <summary>The start of the hour holding <paramref name="time"/>, in Unix seconds.</summary>
    public static long Of(DateTimeOffset time)
    {
        var s = time.ToUnixTimeSeconds();
        return s - (((s % Second) + Second) % Second);
    }

    public static DateTimeOffset ToTime(long hour) => DateTimeOffset.FromUnixTimeSeconds(hour);
}
