namespace GhostChat.Server.Ice;

/// <summary>What the request asking for servers knows: the host name the browser reached us by.</summary>
internal sealed record IceRequest(string? Host)
{
    /// <summary>The prober's request: no browser, no host name.</summary>
    public static readonly IceRequest Probe = new((string?)null);
}
