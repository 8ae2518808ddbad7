using System.Text.Json.Serialization;

namespace GhostChat.Cli.FieldData;

/// <summary>
/// <c>GET /api/stats?days=N</c> as the server sends it (docs/protocol.md, "Field data"): the span, the roadmap's figures
/// and the hourly rows they come from. Members the server may add later are ignored; missing or mistyped ones are not.
/// </summary>
internal sealed record StatsAnswer(DateTimeOffset From, DateTimeOffset To, StatsFigures Figures, StatsRow[] Rows);

/// <summary>The figures of the span. A rate is null when nothing was counted; <see cref="Feedback"/> is 0 unless the operator asks.</summary>
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
    long Feedback);

/// <summary>One hourly aggregate: in the hour starting at <see cref="Hour"/> (Unix seconds), <see cref="Key"/> of <see cref="Metric"/> was counted <see cref="Count"/> times.</summary>
internal sealed record StatsRow(long Hour, string Metric, string Key, long Count);

/// <summary>One feedback entry of <c>GET /api/feedback</c>: the hour it arrived, never anything finer.</summary>
internal sealed record FeedbackItem(long Id, DateTimeOffset Hour, string Text, FeedbackDiagnostics? Diagnostics);

/// <summary>The diagnostics summary a person chose to attach: an outlook and verdicts, no addresses.</summary>
internal sealed record FeedbackDiagnostics(string Outlook, string[] Verdicts);

/// <summary>The server's refusal body, <c>{"error": "…"}</c>.</summary>
internal sealed record FieldDataProblem(string? Error);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    NumberHandling = JsonNumberHandling.Strict,
    PropertyNameCaseInsensitive = false,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true,
    AllowDuplicateProperties = false,
    MaxDepth = 8)]
[JsonSerializable(typeof(StatsAnswer))]
[JsonSerializable(typeof(FeedbackItem[]))]
[JsonSerializable(typeof(FieldDataProblem))]
internal sealed partial class FieldDataJsonContext : JsonSerializerContext;
