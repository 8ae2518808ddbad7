using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Hosting;

/// <summary>Which reverse proxies are trusted to say who the client is.</summary>
public sealed class NetworkOptions
{
    /// <summary>
    /// Addresses or CIDR networks of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are
    /// honoured. Empty (the default): forwarded headers are ignored and the socket's peer address is
    /// the client address.
    /// </summary>
    public List<string> TrustedProxies { get; } = [];
}

internal static class ForwardedHeadersSetup
{
    public static WebApplicationBuilder AddGhostChatNetwork(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<NetworkOptions>()
            .Bind(builder.Configuration.GetSection("GhostChat:Network"))
            .Validate(o => o.TrustedProxies.All(p => TryParseNetwork(p, out _)),
                "GhostChat:Network:TrustedProxies must hold IP addresses or CIDR networks such as 10.0.0.1 or 10.0.0.0/8.")
            .ValidateOnStart();
        builder.Services.AddSingleton<ClientAddressResolver>();
        return builder;
    }

    public static IApplicationBuilder UseGhostChatForwardedHeaders(this IApplicationBuilder app)
    {
        var network = app.ApplicationServices.GetRequiredService<IOptions<NetworkOptions>>().Value;
        if (network.TrustedProxies.Count == 0)
        {
            return app;
        }

        var options = new ForwardedHeadersOptions
        {
            ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto,
            ForwardLimit = 1,
        };
        // The framework trusts loopback by default; we trust exactly what was configured.
        options.KnownIPNetworks.Clear();
        options.KnownProxies.Clear();
        foreach (var entry in network.TrustedProxies)
        {
            if (TryParseNetwork(entry, out var net))
            {
                options.KnownIPNetworks.Add(net);
            }
        }
        return app.UseForwardedHeaders(options);
    }

    internal static bool TryParseNetwork(string value, out System.Net.IPNetwork network)
    {
        if (System.Net.IPNetwork.TryParse(value, out network))
        {
            return true;
        }
        if (IPAddress.TryParse(value, out var address))
        {
            network = new System.Net.IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }
        network = default;
        return false;
    }
}

/// <summary>
/// The client address for connections handled outside the HTTP pipeline (the signaling fast path):
/// the same rule as the forwarded-headers middleware — the last X-Forwarded-For entry, believed
/// only from a configured trusted proxy.
/// </summary>
internal sealed class ClientAddressResolver(IOptions<NetworkOptions> options)
{
    private readonly System.Net.IPNetwork[] _trusted = [.. options.Value.TrustedProxies
        .Select(p => ForwardedHeadersSetup.TryParseNetwork(p, out var n) ? (System.Net.IPNetwork?)n : null)
        .OfType<System.Net.IPNetwork>()];

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
