namespace GhostChat.Server.Network;

/// <summary>Which reverse proxies are trusted to say who the client is. Section <c>GhostChat:Network</c>.</summary>
public sealed class NetworkOptions
{
    /// <summary>Configuration section of <see cref="NetworkOptions"/>.</summary>
    public const string SectionName = "GhostChat:Network";

    /// <summary>
    /// Addresses or CIDR networks of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are
    /// honoured. Empty (the default): forwarded headers are ignored and the socket's peer address is
    /// the client address.
    /// </summary>
    public List<string> TrustedProxies { get; } = [];
}
