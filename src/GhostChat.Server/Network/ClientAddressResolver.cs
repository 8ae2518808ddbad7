using System.Net;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Network;

/// <summary>
/// The client address for connections handled outside the HTTP pipeline (the signaling fast path):
/// the same rule as the forwarded-headers middleware — the last X-Forwarded-For entry, believed
/// only from a configured trusted proxy.
/// </summary>
internal sealed class ClientAddressResolver(IOptions<NetworkOptions> options)
{
    private readonly System.Net.IPNetwork[] _trusted = NetworkExtensions.ParseNetworks(options.Value.TrustedProxies);

    public IPAddress? Resolve(IPAddress? remote, string? forwardedFor)
    {
        if (remote is null || _trusted.Length == 0 || string.IsNullOrEmpty(forwardedFor))
        {
            return remote;
        }
        var canonical = remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote;
        if (!_trusted.Any(n => n.Contains(canonical)))
        {
            return remote;
        }
        var last = forwardedFor[(forwardedFor.LastIndexOf(',') + 1)..].Trim();
        return IPAddress.TryParse(last, out var client) ? client : remote;
    }
}
