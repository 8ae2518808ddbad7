using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Network;

/// <summary>
/// Who the client is, for every feature: behind a trusted reverse proxy (<c>GhostChat:Network:TrustedProxies</c>) the
/// forwarded-headers middleware sets <c>HttpContext.Connection.RemoteIpAddress</c> (the ICE rate limit reads it), and
/// <see cref="ClientAddressResolver"/> applies the same rule where the pipeline does not run (the signaling fast path).
/// </summary>
internal static class NetworkExtensions
{
    public static WebApplicationBuilder AddGhostChatNetwork(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<NetworkOptions>()
            .Bind(builder.Configuration.GetSection(NetworkOptions.SectionName))
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

    /// <summary>The entries that <see cref="TryParseNetwork"/> reads (options validation has refused the others).</summary>
    internal static System.Net.IPNetwork[] ParseNetworks(IEnumerable<string> values) =>
        [.. values.Select(v => TryParseNetwork(v, out var n) ? (System.Net.IPNetwork?)n : null).OfType<System.Net.IPNetwork>()];

    /// <summary>An address (a /32 or /128) or a CIDR network.</summary>
    internal static bool TryParseNetwork(string value, out System.Net.IPNetwork network)
    {
        if (System.Net.IPNetwork.TryParse(value, out network))
        {
            return true;
        }
        if (IPAddress.TryParse(value, out var address))
        {
            network = new System.Net.IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }
        network = default;
        return false;
    }
}
