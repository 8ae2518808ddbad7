namespace GhostChat.Server.Ice;

/// <summary>Token bucket per client address for <c>/api/ice</c>. Section <c>GhostChat:Ice:RateLimit</c>.</summary>
public sealed class IceRateLimitOptions
{
    /// <summary>Requests a client may make at once. Default 10; 0 turns the limit off.</summary>
    public int Burst { get; set; } = 10;

    /// <summary>Requests per minute a client regains after the burst. Default 30.</summary>
    public int PerMinute { get; set; } = 30;
}
