using System.Globalization;

namespace GhostChat.Cli.FieldData;

/// <summary>A line of the figures table: what, how much, the roadmap's target and whether it is met.</summary>
internal sealed record FigureLine(string Id, string Label, string Value, string Target, FigureVerdict Verdict);

internal enum FigureVerdict
{
    /// <summary>No target for this figure.</summary>
    None,

    /// <summary>At or above the target.</summary>
    Met,

    /// <summary>Below the target.</summary>
    Below,

    /// <summary>Nothing counted in the period.</summary>
    NoData,
}

/// <summary>One UTC day of the period: connection attempts and delivery, each with its rate (null when nothing was counted).</summary>
internal sealed record DayLine(DateOnly Day, long Attempts, long Connected, double? SuccessRate, long Delivered, long GivenUp, double? DeliveryRate);

/// <summary>One key of a distribution: its count, its share of the table, and a note (e.g. within the 10 s target).</summary>
internal sealed record CountLine(string Key, long Count, double Share, string Note);

/// <summary>A distribution the /stats page draws as a bar chart: time to connect, time to resume, paths, providers, error kinds, browsers.</summary>
internal sealed record CountTable(string Id, string Title, IReadOnlyList<CountLine> Lines)
{
    public long Total => Lines.Sum(l => l.Count);
}

/// <summary>
/// The /stats page's figures and charts as tables, computed from one <c>/api/stats</c> answer the way web/src/ui/stats.ts
/// does: the server's figures as they are, the per-hour rates summed per UTC day, the distributions summed over the period.
/// </summary>
internal sealed record StatsView(int Days, StatsAnswer Answer, IReadOnlyList<FigureLine> Figures, IReadOnlyList<DayLine> ByDay, IReadOnlyList<CountTable> Tables)
{
    public const double SuccessTarget = 0.90, DeliveryTarget = 0.999, ConnectTargetSeconds = 10;

    /// <summary>The time-to-connect buckets (web/src/core/telemetry); the first four are within the 10 s target.</summary>
    public static readonly string[] ConnectBuckets = ["0-1s", "1-2s", "2-5s", "5-10s", "10-30s", "30s+"];

    /// <summary>The time-to-resume buckets; the first three are within 15 s.</summary>
    public static readonly string[] ResumeBuckets = ["0-2s", "2-5s", "5-15s", "15-60s", "60s+"];

    public static StatsView From(int days, StatsAnswer answer)
    {
        var rows = answer.Rows;
        return new StatsView(days, answer, FiguresOf(answer.Figures), DaysOf(answer), [
            Ordered("connect", "Time to connect", Totals(rows, "ttc"), ConnectBuckets, 4, "within 10 s", "over 10 s"),
            Ordered("resume", "Recoveries: time to resume", Totals(rows, "resume"), ResumeBuckets, 3, "within 15 s", "over 15 s"),
            ByCount("paths", "Path mix (path/transport)", Totals(rows, "path")),
            ByCount("providers", "Relay providers", Totals(rows, "provider")),
            ByCount("errors", "Error kinds", Totals(rows, "error")),
            ByCount("browsers", "Browsers", Totals(rows, "browser")),
        ]);
    }

    /// <summary>A rate as the page shows it: "93.3 %", or "–" when nothing was counted.</summary>
    public static string Percent(double? rate, int digits = 1) =>
        rate is { } r ? (r * 100).ToString("F" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) + " %" : "–";

    private static List<FigureLine> FiguresOf(StatsFigures f)
    {
        static FigureVerdict Against(double? rate, double target) =>
            rate is not { } r ? FigureVerdict.NoData : r >= target ? FigureVerdict.Met : FigureVerdict.Below;
        static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
        return
        [
            new("successRate", "Connection success", $"{Percent(f.SuccessRate)} ({N(f.Connected)} of {N(f.Attempts)} attempts)", "≥ 90 %", Against(f.SuccessRate, SuccessTarget)),
            new("connectedWithin10s", "Connected within 10 s", Percent(f.ConnectedWithin10s) + " of connections", "< 10 s", FigureVerdict.None),
            new("deliveryRate", "Delivery", $"{Percent(f.DeliveryRate, 2)} ({N(f.Delivered)} delivered, {N(f.GivenUp)} given up; {N(f.Sent)} sent)", "≥ 99.9 %", Against(f.DeliveryRate, DeliveryTarget)),
            new("recoveries", "Recoveries", N(f.Recoveries), "", FigureVerdict.None),
            new("resumedWithin15s", "Resumed within 15 s", Percent(f.ResumedWithin15s) + " of recoveries", "", FigureVerdict.None),
            new("relayShare", "Relayed connections", Percent(f.RelayShare) + " of connections with a known path", "", FigureVerdict.None),
            new("reports", "Reports", N(f.Reports), "", FigureVerdict.None),
            new("feedback", "Feedback entries", N(f.Feedback), "", FigureVerdict.None),
        ];
    }

    private static List<DayLine> DaysOf(StatsAnswer answer)
    {
        var days = new List<DayLine>();
        var first = DateOnly.FromDateTime(answer.From.UtcDateTime);
        var last = DateOnly.FromDateTime(answer.To.UtcDateTime);
        var byDay = answer.Rows.ToLookup(r => DateOnly.FromDateTime(DateTimeOffset.FromUnixTimeSeconds(r.Hour).UtcDateTime));
        for (var day = first; day <= last; day = day.AddDays(1))
        {
            var rows = byDay[day].ToList();
            long Sum(string metric, string key) => rows.Where(r => r.Metric == metric && r.Key == key).Sum(r => r.Count);
            long connected = Sum("attempt", "connected"), attempts = connected + Sum("attempt", "failed");
            long delivered = Sum("messages", "delivered"), givenUp = Sum("messages", "given_up");
            days.Add(new DayLine(day, attempts, connected, Rate(connected, attempts), delivered, givenUp, Rate(delivered, delivered + givenUp)));
        }
        return days;
    }

    private static double? Rate(long part, long whole) => whole == 0 ? null : (double)part / whole;

    private static Dictionary<string, long> Totals(IEnumerable<StatsRow> rows, string metric) =>
        rows.Where(r => r.Metric == metric).GroupBy(r => r.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Sum(r => r.Count), StringComparer.Ordinal);

    /// <summary>Every bucket in its order, zeros included; the first <paramref name="within"/> are noted as within the target.</summary>
    private static CountTable Ordered(string id, string title, Dictionary<string, long> totals, string[] buckets, int within, string inside, string outside)
    {
        var total = totals.Values.Sum();
        var lines = buckets.Select((b, i) => Line(b, totals.GetValueOrDefault(b), total, i < within ? inside : outside)).ToList();
        // A bucket this version does not know (a newer server) is still shown, after the known ones.
        lines.AddRange(totals.Where(p => !buckets.Contains(p.Key)).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => Line(p.Key, p.Value, total, "")));
        return new CountTable(id, title, lines);
    }

    /// <summary>Most counted first, then by name, as the page's bar charts.</summary>
    private static CountTable ByCount(string id, string title, Dictionary<string, long> totals)
    {
        var total = totals.Values.Sum();
        return new CountTable(id, title,
            [.. totals.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Select(p => Line(p.Key, p.Value, total, ""))]);
    }

    private static CountLine Line(string key, long count, long total, string note) => new(key, count, total == 0 ? 0 : (double)count / total, note);
}
