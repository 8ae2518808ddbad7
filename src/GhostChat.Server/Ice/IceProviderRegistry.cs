using GhostChat.Server.Ice.Providers;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Ice;

/// <summary>
/// The enabled providers, built once at start from <c>GhostChat:Ice</c> (changes need a restart). Types other
/// features own come from their <see cref="IIceProviderFactory"/>; with no providers configured, each factory's
/// default (the embedded TURN server, when enabled, as provider "embedded"); the older <c>Servers</c> list is one
/// static provider "servers" (its entries in their order) with priority 1000.
/// </summary>
internal sealed class IceProviderRegistry
{
    /// <summary>The provider name of the older <c>GhostChat:Ice:Servers</c> list.</summary>
    public const string LegacyName = "servers";

    public IceProviderRegistry(
        IOptions<IceOptions> options,
        IEnumerable<IIceProviderFactory> factories,
        IHttpClientFactory http,
        TimeProvider time,
        IceMetrics metrics,
        ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger("GhostChat.Server.Ice");
        var o = options.Value;
        var byType = factories.ToDictionary(f => f.Type, StringComparer.OrdinalIgnoreCase);
        var providers = new List<IceProvider>();
        foreach (var (name, p) in o.Providers)
        {
            if (!p.Enabled)
            {
                continue;
            }
            providers.Add(p.Type?.ToLowerInvariant() switch
            {
                IceProviderTypes.RestSecret => new RestSecretIceProvider(name, p, time),
                IceProviderTypes.Static => new StaticIceProvider(name, p),
                IceProviderTypes.Twilio => new TwilioIceProvider(name, p, http, time, metrics, logger),
                IceProviderTypes.Cloudflare => new CloudflareIceProvider(name, p, http, time, metrics, logger),
                IceProviderTypes.Metered => new MeteredIceProvider(name, p, http, time, metrics, logger),
                { } type when byType.TryGetValue(type, out var factory) => factory.Create(name, p),
                _ => throw new InvalidOperationException($"unknown ICE provider type '{p.Type}'"), // the validator refuses these first
            });
        }
        if (o.Providers.Count == 0)
        {
            providers.AddRange(byType.Values.Select(f => f.CreateDefault()).OfType<IceProvider>());
        }
        if (o.Servers.Count > 0)
        {
            providers.Add(new StaticIceProvider(LegacyName, new IceProviderOptions { Type = IceProviderTypes.Static, Priority = 1000 },
                [.. o.Servers.Select(s => new IceServerEntry([.. s.Urls], s.Username, s.Credential, null))]));
        }
        Providers = [.. providers.OrderBy(p => p.Priority).ThenBy(p => p.Name, StringComparer.Ordinal)];
        Log.Providers(logger, Providers.Count, Providers.Count == 0 ? "none" : string.Join(", ", Providers.Select(p => $"{p.Name} ({p.Type}, priority {p.Priority})")));
    }

    /// <summary>Enabled providers by priority, then name.</summary>
    public IReadOnlyList<IceProvider> Providers { get; }

    public IceProvider? Find(string name) => Providers.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
}
