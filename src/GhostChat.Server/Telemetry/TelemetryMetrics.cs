using System.Diagnostics.Metrics;

namespace GhostChat.Server.Telemetry;

/// <summary>
/// Field data on /metrics (meter <c>GhostChat.Telemetry</c>): the same counts the aggregates get, and what happened to
/// each report and feedback. Labels come from the schema's enumerations only.
/// </summary>
internal sealed class TelemetryMetrics
{
    public const string MeterName = "GhostChat.Telemetry";

    private readonly Counter<long> _field;
    private readonly Counter<long> _reports;
    private readonly Counter<long> _feedback;

    public TelemetryMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _field = meter.CreateCounter<long>("ghostchat.telemetry.field", "{count}", "Field data from opted-in browsers, by metric (attempt, ttc, path, provider, browser, size, messages, resume, error, outlook, verdict) and key.");
        _reports = meter.CreateCounter<long>("ghostchat.telemetry.reports", "{report}", "POST /api/telemetry, by result (accepted, invalid, rate_limited, unavailable).");
        _feedback = meter.CreateCounter<long>("ghostchat.telemetry.feedback", "{feedback}", "POST /api/feedback, by result (accepted, invalid, rate_limited, full, unavailable).");
    }

    public void Added(IEnumerable<(string Metric, string Key, long Count)> increments)
    {
        foreach (var (metric, key, count) in increments)
        {
            if (metric != "reports")
            {
                _field.Add(count, new KeyValuePair<string, object?>("metric", metric), new KeyValuePair<string, object?>("key", key));
            }
        }
    }

    public void Report(string result) => _reports.Add(1, new KeyValuePair<string, object?>("result", result));

    public void Feedback(string result) => _feedback.Add(1, new KeyValuePair<string, object?>("result", result));
}
