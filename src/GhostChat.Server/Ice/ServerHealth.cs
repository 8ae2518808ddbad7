namespace GhostChat.Server.Ice;

/// <summary>One server of one provider as the prober last saw it.</summary>
internal sealed class ServerHealth
{
    public IceHealthState State { get; set; } = IceHealthState.Unknown;

    public double? LatencyMs { get; set; }

    public int ConsecutiveFailures { get; set; }

    public string? LastError { get; set; }

    public DateTimeOffset NextProbe { get; set; } = DateTimeOffset.MinValue;

    public DateTimeOffset? LastProbe { get; set; }
}
