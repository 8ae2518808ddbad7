namespace GhostChat.Server.Ice;

/// <summary>One RTCIceServer of the older <c>GhostChat:Ice:Servers</c> list.</summary>
public sealed class IceServerOptions
{
    /// <summary>One or more stun:, stuns:, turn: or turns: URLs.</summary>
    public List<string> Urls { get; init; } = [];

    /// <summary>TURN username; required for turn:/turns: URLs.</summary>
    public string? Username { get; set; }

    /// <summary>TURN credential; required for turn:/turns: URLs.</summary>
    public string? Credential { get; set; }
}
