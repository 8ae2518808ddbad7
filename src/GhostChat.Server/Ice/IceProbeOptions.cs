namespace GhostChat.Server.Ice;

/// <summary>Health probes of every provider's servers. Section <c>GhostChat:Ice:Probe</c>.</summary>
public sealed class IceProbeOptions
{
    /// <summary>Probing on or off. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Time between two probes of a healthy server. Default 60 s.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long one probe (Binding, then Allocate) may take. Default 5 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Consecutive failed probes after which a server is down (fewer: degraded). Default 2.</summary>
    public int FailuresUntilDown { get; set; } = 2;

    /// <summary>A probe slower than this marks the server degraded. Default 2 s.</summary>
    public TimeSpan SlowLatency { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Longest wait before probing a down server again (the wait doubles from <see cref="Interval"/>). Default 10 min.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromMinutes(10);
}
