using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace GhostChat.Server.Ice;

/// <summary>
/// Per-provider and per-server health. A server with no failure is healthy (degraded when slower than
/// Probe:SlowLatency), with fewer than Probe:FailuresUntilDown consecutive failures degraded, then down. A provider
/// is healthy when all its probed servers are, down when all are down, degraded otherwise; unknown before its first probe.
/// Its gauges (meter <c>GhostChat.Ice</c>) show it for the registry's providers, probed or not.
/// </summary>
internal sealed class IceHealth
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, ServerHealth>> _providers = new(StringComparer.OrdinalIgnoreCase);

    public IceHealth(IceProviderRegistry registry, IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(IceMetrics.MeterName);
        meter.CreateObservableGauge("ghostchat.ice.provider.state", () => registry.Providers.Select(p =>
            new Measurement<int>((int)StateOf(p.Name), new KeyValuePair<string, object?>("provider", p.Name))),
            null, "Provider health: -1 unknown (not probed yet), 0 healthy, 1 degraded, 2 down.");
        meter.CreateObservableGauge("ghostchat.ice.provider.latency", () => registry.Providers
            .Select(p => (p.Name, Latency: LatencyOf(p.Name)))
            .Where(p => p.Latency is not null)
            .Select(p => new Measurement<double>(p.Latency!.Value, new KeyValuePair<string, object?>("provider", p.Name))),
            "ms", "Latency of the provider's fastest answering server in the last probe (Binding + Allocate).");
        meter.CreateObservableGauge("ghostchat.ice.server.state", () => All().Select(s => new Measurement<int>((int)s.Health.State,
            new KeyValuePair<string, object?>("provider", s.Provider), new KeyValuePair<string, object?>("server", s.Server))),
            null, "Health of each probed server (host:port/transport): -1 unknown, 0 healthy, 1 degraded, 2 down.");
        meter.CreateObservableGauge("ghostchat.ice.server.failures", () => All().Select(s => new Measurement<int>(s.Health.ConsecutiveFailures,
            new KeyValuePair<string, object?>("provider", s.Provider), new KeyValuePair<string, object?>("server", s.Server))),
            "{probe}", "Consecutive failed probes of each server.");
    }

    public ConcurrentDictionary<string, ServerHealth> Servers(string provider) => _providers.GetOrAdd(provider, _ => new(StringComparer.Ordinal));

    public IceHealthState StateOf(string provider)
    {
        if (!_providers.TryGetValue(provider, out var servers))
        {
            return IceHealthState.Unknown;
        }
        var states = servers.Values.Select(s => s.State).Where(s => s != IceHealthState.Unknown).ToList();
        if (states.Count == 0)
        {
            return IceHealthState.Unknown;
        }
        return states.All(s => s == IceHealthState.Healthy) ? IceHealthState.Healthy
            : states.All(s => s == IceHealthState.Down) ? IceHealthState.Down
            : IceHealthState.Degraded;
    }

    /// <summary>Lowest latency among the provider's servers that answered last time, in ms.</summary>
    public double? LatencyOf(string provider) =>
        _providers.TryGetValue(provider, out var servers)
            ? servers.Values.Where(s => s.ConsecutiveFailures == 0 && s.LatencyMs is not null).Select(s => s.LatencyMs).Min()
            : null;

    public int FailuresOf(string provider) =>
        _providers.TryGetValue(provider, out var servers) && !servers.IsEmpty ? servers.Values.Min(s => s.ConsecutiveFailures) : 0;

    public IEnumerable<(string Provider, string Server, ServerHealth Health)> All() =>
        _providers.SelectMany(p => p.Value.Select(s => (p.Key, s.Key, s.Value)));
}
