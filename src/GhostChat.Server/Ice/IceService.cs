using GhostChat.Server.Ice.Providers;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Ice;

/// <summary>
/// Assembles an answer: the providers not excluded, healthy first (then not yet probed, then degraded), by
/// priority within a state; down providers are left out unless nothing else is left, then they come last. Each
/// provider's servers sharing one credential are merged into one RTCIceServer; at most MaxServers entries. A
/// provider that does not answer within AnswerBudget is skipped for this answer (its fetch goes on and fills the cache).
/// The STUN probe URLs come from every <see cref="IStunProbeSource"/>, whichever providers answer.
/// </summary>
internal sealed class IceService(
    IceProviderRegistry registry,
    IceHealth health,
    IEnumerable<IStunProbeSource> stunProbeSources,
    IOptions<IceOptions> options,
    TimeProvider time,
    ILogger<IceService> logger)
{
    public async Task<IceAnswer> AnswerAsync(IceRequest request, IReadOnlySet<string> exclude, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var candidates = registry.Providers
            .Where(p => !exclude.Contains(p.Name))
            .Select(p => (Provider: p, State: health.StateOf(p.Name)))
            .OrderBy(p => Rank(p.State))
            .ThenBy(p => p.Provider.Priority)
            .ThenBy(p => p.Provider.Name, StringComparer.Ordinal)
            .ToList();
        var live = candidates.Where(c => c.State != IceHealthState.Down).Select(c => c.Provider).ToList();
        var down = candidates.Where(c => c.State == IceHealthState.Down).Select(c => c.Provider).ToList();

        var answer = await CollectAsync(live, request, o, cancellationToken).ConfigureAwait(false);
        if (answer.Servers.Count == 0 && down.Count > 0)
        {
            // Better a server the prober could not reach (from where the server stands) than none at all.
            answer = await CollectAsync(down, request, o, cancellationToken).ConfigureAwait(false);
        }
        return answer with { StunProbes = StunProbes(request) };
    }

    private List<string>? StunProbes(IceRequest request)
    {
        var urls = stunProbeSources.SelectMany(s => s.StunProbes(request) ?? []).ToList();
        return urls.Count == 0 ? null : urls;
    }

    private async Task<IceAnswer> CollectAsync(List<IceProvider> providers, IceRequest request, IceOptions o, CancellationToken cancellationToken)
    {
        var lookups = providers.Select(p => GetAsync(p, request, o.AnswerBudget, cancellationToken)).ToArray();
        var results = await Task.WhenAll(lookups).ConfigureAwait(false);
        var servers = new List<IceServerEntry>();
        var names = new List<string>();
        for (int i = 0; i < providers.Count && servers.Count < o.MaxServers; i++)
        {
            foreach (var entry in Merge(results[i] ?? []))
            {
                if (servers.Count >= o.MaxServers)
                {
                    break;
                }
                servers.Add(entry);
                names.Add(providers[i].Name);
            }
        }
        var expires = servers.Where(s => s.Expires is not null).Select(s => s.Expires).Min();
        return new IceAnswer(servers, names, expires, o.RelayOnly);
    }

    private async Task<IReadOnlyList<IceServerEntry>?> GetAsync(IceProvider provider, IceRequest request, TimeSpan budget, CancellationToken cancellationToken)
    {
        try
        {
            return await provider.GetServersAsync(request, cancellationToken).WaitAsync(budget, time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Log.ProviderOverBudget(logger, provider.Name, budget);
            return null;
        }
    }

    /// <summary>Entries with the same username and credential become one RTCIceServer, in the order they first appear.</summary>
    internal static IEnumerable<IceServerEntry> Merge(IReadOnlyList<IceServerEntry> entries) => entries
        .GroupBy(e => (e.Username, e.Credential))
        .Select(g => new IceServerEntry([.. g.SelectMany(e => e.Urls).Distinct(StringComparer.Ordinal)], g.Key.Username, g.Key.Credential, g.Select(e => e.Expires).Min()));

    private static int Rank(IceHealthState state) => state switch
    {
        IceHealthState.Healthy => 0,
        IceHealthState.Unknown => 1,
        IceHealthState.Degraded => 2,
        _ => 3,
    };
}
