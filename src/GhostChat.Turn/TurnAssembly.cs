namespace GhostChat.Turn;

/// <summary>Marker for the GhostChat STUN/TURN library (RFC 8489, RFC 8656).</summary>
public static class TurnAssembly
{
    /// <summary>The library's name, for logs and diagnostics.</summary>
    public const string Name = "GhostChat.Turn";
}
