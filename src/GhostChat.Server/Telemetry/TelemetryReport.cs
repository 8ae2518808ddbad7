using System.Text.Json.Serialization;

namespace GhostChat.Server.Telemetry;

/// <summary>
/// One batch from a browser (docs/protocol.md, "Field data"). Every field is an enumeration or a bounded number;
/// <see cref="TelemetrySchema"/> checks them. An unknown member, a wrong type or a missing required member fails
/// deserialisation: the report is refused as a whole.
/// </summary>
internal sealed record TelemetryReport(
    int V,
    BrowserInfo Browser,
    AttemptReport[]? Attempts = null,
    RoomReport[]? Rooms = null,
    ErrorReport[]? Errors = null);

internal sealed record BrowserInfo(string Family, int Major);

/// <summary>A joiner's attempt to reach a room: its outcome, and for a connected one its time bucket and path.</summary>
internal sealed record AttemptReport(string Outcome, string Size, string? Ttc = null, string? Path = null, string? Transport = null, string? Provider = null);

/// <summary>One room's counts since the last batch: messages sent, delivered to everyone, given up; recoveries by time to resume.</summary>
internal sealed record RoomReport(string Size, int Sent, int Delivered, int GivenUp, string[]? Resumed = null);

/// <summary>An error the app showed, with the diagnostics summary when the person ran it (verdicts only, no addresses).</summary>
internal sealed record ErrorReport(string Kind, DiagnosticsSummary? Diagnostics = null);

internal sealed record DiagnosticsSummary(string Outlook, string[] Verdicts);

/// <summary>Feedback as the person sent it: text and, when they chose, the diagnostics summary.</summary>
internal sealed record FeedbackRequest(string Text, DiagnosticsSummary? Diagnostics = null);

/// <summary>Feedback as the operator reads it: the hour it arrived, never anything finer.</summary>
internal sealed record FeedbackEntry(long Id, DateTimeOffset Hour, string Text, DiagnosticsSummary? Diagnostics);

/// <summary>One hourly aggregate: how many times <see cref="Key"/> of <see cref="Metric"/> was seen in that hour.</summary>
internal sealed record AggregateRow(long Hour, string Metric, string Key, long Count);

internal sealed record StatsResponse(DateTimeOffset From, DateTimeOffset To, StatsFigures Figures, AggregateRow[] Rows);

internal sealed record TelemetryConfig(bool Enabled, bool Feedback, bool StatsPublic);

internal sealed record TelemetryProblem(string Error);

/// <summary>
/// Strict JSON: camelCase members only, no unknown member, numbers as numbers, required members and
/// non-nullable annotations enforced.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    NumberHandling = JsonNumberHandling.Strict,
    PropertyNameCaseInsensitive = false,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true,
    AllowDuplicateProperties = false,
    MaxDepth = 8)]
[JsonSerializable(typeof(TelemetryReport))]
[JsonSerializable(typeof(FeedbackRequest))]
[JsonSerializable(typeof(FeedbackEntry))]
[JsonSerializable(typeof(FeedbackEntry[]))]
[JsonSerializable(typeof(StatsResponse))]
[JsonSerializable(typeof(TelemetryConfig))]
[JsonSerializable(typeof(TelemetryProblem))]
[JsonSerializable(typeof(DiagnosticsSummary))]
internal sealed partial class TelemetryJsonContext : JsonSerializerContext;
