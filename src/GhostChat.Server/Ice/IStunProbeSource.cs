namespace GhostChat.Server.Ice;

/// <summary>
/// STUN URLs on one address and two ports that <c>/api/ice</c> announces as <c>stunProbes</c>, so a browser can tell
/// whether its NAT maps per destination (symmetric). The embedded TURN server registers one when it has a second port.
/// </summary>
internal interface IStunProbeSource
{
    /// <summary>The URLs for this request, or null when there are none to announce.</summary>
    IReadOnlyList<string>? StunProbes(IceRequest request);
}
