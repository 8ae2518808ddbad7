using System.Net;

namespace GhostChat.Server.Ice;

/// <summary>
/// What the request asking for servers knows: the host name the browser reached us by, and the client's address
/// (after trusted-proxy forwarding), which REST credentials are derived from so TURN quotas hold per client.
/// </summary>
internal sealed record IceRequest(string? Host, IPAddress? Client = null)
{
    /// <summary>The prober's request: no browser, no host name, no client.</summary>
    public static readonly IceRequest Probe = new((string?)null);
}
