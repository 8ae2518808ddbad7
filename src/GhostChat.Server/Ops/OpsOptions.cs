namespace GhostChat.Server.Ops;

/// <summary>Who may read operational detail. Section <c>GhostChat:Ops</c>.</summary>
public sealed class OpsOptions
{
    /// <summary>Configuration section of <see cref="OpsOptions"/>.</summary>
    public const string SectionName = "GhostChat:Ops";

    /// <summary>
    /// Client addresses or CIDR networks that get <c>/metrics</c> and the per-component detail of
    /// <c>/readyz</c> (the client address as <c>GhostChat:Network:TrustedProxies</c> resolves it).
    /// Empty (the default): loopback only. Anyone else gets 404 from /metrics and only the overall
    /// status (with the same status code) from /readyz; /healthz answers everyone. A request that
    /// still carries X-Forwarded-For (it came through a proxy that is not trusted) is never given detail.
    /// </summary>
    public List<string> DetailFrom { get; } = [];
}
