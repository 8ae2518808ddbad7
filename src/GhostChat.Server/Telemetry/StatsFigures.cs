namespace GhostChat.Server.Telemetry;

/// <summary>
/// The roadmap's success figures over a span of hourly aggregates: connection success (target &gt; 90 %), connected
/// within 10 s, delivery (target &gt; 99.9 %), recoveries. A rate is null when nothing was counted.
/// </summary>
internal sealed record StatsFigures(
    long Reports,
    long Attempts,
    long Connected,
    double? SuccessRate,
    double? ConnectedWithin10s,
    long Sent,
    long Delivered,
    long GivenUp,
    double? DeliveryRate,
    long Recoveries,
    double? ResumedWithin15s,
    double? RelayShare,
    long Feedback)
{
    public const double SuccessTarget = 0.90;
    public const double DeliveryTarget = 0.999;
    public const double ConnectTargetSeconds = 10;

    public static StatsFigures From(IEnumerable<AggregateRow> rows, long feedback)
    {
        var total = rows.GroupBy(r => (r.Metric, r.Key)).ToDictionary(g => g.Key, g => g.Sum(r => r.Count));
        long Sum(string metric, params string[] keys) => keys.Sum(k => total.GetValueOrDefault((metric, k)));
        long All(string metric) => total.Where(p => p.Key.Metric == metric).Sum(p => p.Value);
        static double? Rate(long part, long whole) => whole == 0 ? null : (double)part / whole;

        var connected = Sum("attempt", "connected");
        var attempts = connected + Sum("attempt", "failed");
        var delivered = Sum("messages", "delivered");
        var givenUp = Sum("messages", "given_up");
        var recoveries = All("resume");
        var paths = All("path");
        var relayed = total.Where(p => p.Key.Metric == "path" && p.Key.Key.StartsWith("relay/", StringComparison.Ordinal)).Sum(p => p.Value);
        return new StatsFigures(
            Sum("reports", "accepted"),
            attempts,
            connected,
            Rate(connected, attempts),
            Rate(Sum("ttc", "0-1s", "1-2s", "2-5s", "5-10s"), All("ttc")),
            Sum("messages", "sent"),
            delivered,
            givenUp,
            Rate(delivered, delivered + givenUp),
            recoveries,
            Rate(Sum("resume", "0-2s", "2-5s", "5-15s"), recoveries),
            Rate(relayed, paths),
            feedback);
    }
}
