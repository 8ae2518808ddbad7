using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace GhostChat.Cli.Bench;

/// <summary>What one `bench signaling` run measured. Absent phases are null.</summary>
internal sealed class SignalingReport
{
    public required string Url { get; init; }

    /// <summary>The second node in cluster mode, else null.</summary>
    public string? SecondUrl { get; init; }
    public int Pairs { get; init; }
    /// <summary>Bytes of one OFFER frame as sent.</summary>
    public int PayloadBytes { get; init; }
    public ThroughputResult? Throughput { get; set; }
    public LatencyResult? Latency { get; set; }
    public IdleResult? Idle { get; set; }

    /// <summary>True when a phase lost messages or peers: the figures are then not to be trusted.</summary>
    [JsonIgnore]
    public bool Failed =>
        Throughput is { Messages: 0 } || Throughput is { SendErrors: > 0 }
        || Latency is { } l && (l.Received < l.Sent || l.Sent == 0)
        || Idle is { } i && (i.Failed > 0 || i.StillOpen < i.Registered);
}

internal sealed class ThroughputResult
{
    public double Seconds { get; init; }
    /// <summary>Relayed messages received (OFFERs and ANSWERs) in the measured window.</summary>
    public long Messages { get; init; }
    public double MessagesPerSecond { get; init; }
    public double? P50Ms { get; init; }
    public double? P99Ms { get; init; }
    public long SendErrors { get; init; }
    /// <summary>Server CPU use in the measured window (100 = one core), with --server-pid.</summary>
    public double? ServerCpuPercent { get; init; }
    /// <summary>Server CPU time per relayed message, with --server-pid.</summary>
    public double? ServerCpuMicrosecondsPerMessage { get; init; }
}

internal sealed class LatencyResult
{
    public double OfferedPerSecond { get; init; }
    public double Seconds { get; init; }
    public long Sent { get; init; }
    public long Received { get; init; }
    public double? P50Ms { get; init; }
    public double? P99Ms { get; init; }
    public double? P999Ms { get; init; }
    public double? MaxMs { get; init; }
    /// <summary>The generator fell more than 100 ms behind its schedule at least once.</summary>
    public bool GeneratorLagged { get; init; }
    /// <summary>How late the generator sent against its schedule (not part of the latency figures).</summary>
    public double? SendLagP50Ms { get; init; }
    public double? SendLagP99Ms { get; init; }
}

internal sealed class IdleResult
{
    public int Peers { get; init; }
    public int Registered { get; init; }
    public int Failed { get; init; }
    public int StillOpen { get; init; }
    public double Seconds { get; init; }
    public double ConnectionsPerSecond { get; init; }
    public double HeldSeconds { get; init; }
    public double? ServerCpuPercentWhileHeld { get; init; }
    public long? RssBeforeKiB { get; init; }
    public long? RssAfterKiB { get; init; }
    public double? BytesPerPeer { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(SignalingReport))]
internal sealed partial class SignalingReportJson : JsonSerializerContext;

internal static class SignalingReportFormat
{
    public static string ToJson(SignalingReport report) => JsonSerializer.Serialize(report, SignalingReportJson.Default.SignalingReport);

    public static string ToTable(SignalingReport report)
    {
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        text.AppendLine(c, $"PeerJS signaling at {report.Url}{(report.SecondUrl is null ? "" : " + " + report.SecondUrl)}  ({report.Pairs} pairs, OFFER frame {report.PayloadBytes} B)");
        if (report.Throughput is { } t)
        {
            text.AppendLine(c, $"  relay throughput at saturation  {t.MessagesPerSecond,10:0.0} msg/s   ({t.Messages} in {t.Seconds:0.0} s; latency p50 {Ms(t.P50Ms)}, p99 {Ms(t.P99Ms)})");
            if (t.ServerCpuPercent is { } cpu)
                text.AppendLine(c, $"  server CPU at saturation        {cpu,10:0.0} %       ({t.ServerCpuMicrosecondsPerMessage:0.0} µs per relayed message)");
        }
        if (report.Latency is { } l)
        {
            text.AppendLine(c, $"  relay latency at {l.OfferedPerSecond:0} msg/s     p50 {Ms(l.P50Ms)}  p99 {Ms(l.P99Ms)}  p99.9 {Ms(l.P999Ms)}  max {Ms(l.MaxMs)}   ({l.Received}/{l.Sent} received; send lag p50 {Ms(l.SendLagP50Ms)} p99 {Ms(l.SendLagP99Ms)}{(l.GeneratorLagged ? "; generator lagged" : "")})");
        }
        if (report.Idle is { } i)
        {
            text.AppendLine(c, $"  new connections                 {i.ConnectionsPerSecond,10:0.0} /s      ({i.Registered} registered in {i.Seconds:0.0} s, {i.Failed} failed, {i.StillOpen} still open)");
            if (i.BytesPerPeer is { } perPeer)
                text.AppendLine(c, $"  memory per idle peer            {perPeer / 1024,10:0.00} KiB    (VmRSS {i.RssBeforeKiB} → {i.RssAfterKiB} KiB)");
        }
        if (report.Failed) text.AppendLine("  WARNING: messages or peers were lost; these figures are not valid.");
        return text.ToString().TrimEnd();
    }

    private static string Ms(double? value) => value is { } v ? v.ToString("0.000", CultureInfo.InvariantCulture) + " ms" : "n/a";
}
