namespace GhostChat.Server.Ice;

/// <summary>Health of a provider or one of its servers, as the prober last saw it.</summary>
internal enum IceHealthState
{
    /// <summary>Not probed yet (or probing is off).</summary>
    Unknown = -1,
    Healthy = 0,
    Degraded = 1,
    Down = 2,
}
