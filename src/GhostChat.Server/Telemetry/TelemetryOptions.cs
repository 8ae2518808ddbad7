namespace GhostChat.Server.Telemetry;

/// <summary>
/// Field data (opt-in, anonymous): hourly aggregates of what browsers that agreed report, feedback, and the
/// <c>/stats</c> page. Section <c>GhostChat:Telemetry</c>. Nothing here ever holds an address, an id, a name
/// or a time finer than the hour.
/// </summary>
public sealed class TelemetryOptions
{
    public const string SectionName = "GhostChat:Telemetry";

    /// <summary>
    /// The whole feature. Default true: browsers are asked once (and send nothing unless the person agrees).
    /// False: <c>/api/telemetry</c>, <c>/api/feedback</c>, <c>/api/stats</c> and <c>/stats</c> answer 404 and
    /// the app never asks.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// The SQLite file holding the aggregates and the feedback (created when missing, with its folder).
    /// Empty (the default): memory only, gone at restart. Ignored when the cluster is on
    /// (<c>GhostChat:Redis:ConnectionString</c>): then Redis holds them, so every node counts each report once.
    /// </summary>
    public string DatabasePath { get; set; } = "";

    /// <summary>How long hourly aggregates and feedback are kept. Default 90 days; 1 hour to 10 years.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(90);

    /// <summary>
    /// Who may read <c>/stats</c> and <c>/api/stats</c>: false (the default) only the operator
    /// (<c>GhostChat:Ops:DetailFrom</c>, loopback when empty); true everyone. Feedback is always operator-only.
    /// </summary>
    public bool StatsPublic { get; set; }

    /// <summary>Reports per client address: a burst, then so many a minute. Default 10, then 6 a minute.</summary>
    public TelemetryRateLimit Reports { get; init; } = new() { Burst = 10, PerMinute = 6 };

    /// <summary>Feedback per client address. Default 3, then 1 a minute.</summary>
    public TelemetryRateLimit Feedback { get; init; } = new() { Burst = 3, PerMinute = 1 };

    /// <summary>Longest feedback text, in characters. Default 2000; at most 10000.</summary>
    public int FeedbackMaxLength { get; set; } = 2000;

    /// <summary>Most feedback entries kept; past it new feedback is refused (503) until the operator deletes some. Default 1000.</summary>
    public int FeedbackMaxStored { get; set; } = 1000;
}

/// <summary>A token bucket per client address (IPv6 per /64). Burst 0 turns the limit off.</summary>
public sealed class TelemetryRateLimit
{
    public int Burst { get; set; }

    public int PerMinute { get; set; }
}
