namespace GhostChat.Server.Ice;

/// <summary>
/// Static ICE servers handed to browsers by <c>GET /api/ice</c>. Section <c>GhostChat:Ice</c>.
/// A later ICE service (short-lived TURN credentials, health, failover) replaces this.
/// </summary>
public sealed class IceOptions
{
    public const string SectionName = "GhostChat:Ice";

    /// <summary>ICE servers in the order browsers should try them. Default: none (host candidates suffice on one machine or LAN).</summary>
    public List<IceServerOptions> Servers { get; init; } = [];
}

/// <summary>One RTCIceServer.</summary>
public sealed class IceServerOptions
{
    /// <summary>One or more stun:, stuns:, turn: or turns: URLs.</summary>
    public List<string> Urls { get; init; } = [];

    /// <summary>TURN username; required for turn:/turns: URLs.</summary>
    public string? Username { get; set; }

    /// <summary>TURN credential; required for turn:/turns: URLs.</summary>
    public string? Credential { get; set; }
}
