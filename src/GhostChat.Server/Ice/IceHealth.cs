using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using GhostChat.Server.Ice.Providers;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Ice;

/// <summary>One server of one provider as the prober last saw it.</summary>
internal sealed class ServerHealth
{
    public IceHealthState State { get; set; } = IceHealthState.Unknown;

    public double? LatencyMs { get; set; }

    public int ConsecutiveFailures { get; set; }

    public string? LastError { get; set; }

    public DateTimeOffset NextProbe { get; set; } = DateTimeOffset.MinValue;

    public DateTimeOffset? LastProbe { get; set; }
}

/// <summary>
/// Per-provider and per-server health. A server with no failure is healthy (degraded when slower than
/// Probe:SlowLatency), with fewer than Probe:FailuresUntilDown consecutive failures degraded, then down. A provider
/// is healthy when all its probed servers are, down when all are down, degraded otherwise; unknown before its first probe.
/// </summary>
internal sealed class IceHealth
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, ServerHealth>> _providers = new(StringComparer.OrdinalIgnoreCase);

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

/// <summary>The ICE service's instruments (meter <c>GhostChat.Ice</c>). No addresses of clients.</summary>
internal sealed class IceMetrics
{
    public const string MeterName = "GhostChat.Ice";

    private readonly Counter<long> _probes;
    private readonly Counter<long> _fetches;
    private readonly Counter<long> _requests;

    public IceMetrics(IMeterFactory meterFactory, IceHealth health, IServiceProvider services)
    {
        // Resolved lazily: the registry's providers record their fetches here.
        IceProviderRegistry registry() => services.GetRequiredService<IceProviderRegistry>();
        var meter = meterFactory.Create(MeterName);
        meter.CreateObservableGauge("ghostchat.ice.provider.state", () => registry().Providers.Select(p =>
            new Measurement<int>((int)health.StateOf(p.Name), new KeyValuePair<string, object?>("provider", p.Name))),
            null, "Provider health: -1 unknown (not probed yet), 0 healthy, 1 degraded, 2 down.");
        meter.CreateObservableGauge("ghostchat.ice.provider.latency", () => registry().Providers
            .Select(p => (p.Name, Latency: health.LatencyOf(p.Name)))
            .Where(p => p.Latency is not null)
            .Select(p => new Measurement<double>(p.Latency!.Value, new KeyValuePair<string, object?>("provider", p.Name))),
            "ms", "Latency of the provider's fastest answering server in the last probe (Binding + Allocate).");
        meter.CreateObservableGauge("ghostchat.ice.server.state", () => health.All().Select(s =>
            new Measurement<int>((int)s.Health.State, new KeyValuePair<string, object?>("provider", s.Provider), new KeyValuePair<string, object?>("server", s.Server))),
            null, "Health of each probed server (host:port/transport): -1 unknown, 0 healthy, 1 degraded, 2 down.");
        meter.CreateObservableGauge("ghostchat.ice.server.failures", () => health.All().Select(s =>
            new Measurement<int>(s.Health.ConsecutiveFailures, new KeyValuePair<string, object?>("provider", s.Provider), new KeyValuePair<string, object?>("server", s.Server))),
            "{probe}", "Consecutive failed probes of each server.");
        _probes = meter.CreateCounter<long>("ghostchat.ice.probes", "{probe}", "Health probes, by provider, transport and result (ok, failed).");
        _fetches = meter.CreateCounter<long>("ghostchat.ice.provider.fetches", "{request}", "Credential API calls of external providers, by result (ok, http_error, rate_limited, timeout, unreachable, malformed).");
        _requests = meter.CreateCounter<long>("ghostchat.ice.requests", "{request}", "/api/ice requests, by result (ok, rate_limited, bad_request).");
    }

    public void Probed(string provider, IceTransport transport, bool ok) => _probes.Add(1,
        new KeyValuePair<string, object?>("provider", provider),
        new KeyValuePair<string, object?>("transport", transport.ToString().ToLowerInvariant()),
        new KeyValuePair<string, object?>("result", ok ? "ok" : "failed"));

    public void Fetched(string provider, string result) => _fetches.Add(1,
        new KeyValuePair<string, object?>("provider", provider), new KeyValuePair<string, object?>("result", result));

    public void Request(string result) => _requests.Add(1, new KeyValuePair<string, object?>("result", result));
}

/// <summary>
/// /readyz detail: each provider's state, latency and failures. Degraded (still HTTP 200) when a provider is
/// degraded or down: signaling and direct connections keep working, so the node stays in rotation.
/// </summary>
internal sealed class IceHealthCheck(IceProviderRegistry registry, IceHealth health, IOptions<IceOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>();
        var bad = new List<string>();
        foreach (var p in registry.Providers)
        {
            var state = health.StateOf(p.Name);
            data[p.Name] = new Dictionary<string, object?>
            {
                ["type"] = p.Type,
                ["priority"] = p.Priority,
                ["state"] = state.ToString().ToLowerInvariant(),
                ["latencyMs"] = health.LatencyOf(p.Name) is { } l ? Math.Round(l, 1) : null,
                ["consecutiveFailures"] = health.FailuresOf(p.Name),
                ["servers"] = health.Servers(p.Name).ToDictionary(s => s.Key, s => (object?)new Dictionary<string, object?>
                {
                    ["state"] = s.Value.State.ToString().ToLowerInvariant(),
                    ["latencyMs"] = s.Value.LatencyMs is { } sl ? Math.Round(sl, 1) : null,
                    ["consecutiveFailures"] = s.Value.ConsecutiveFailures,
                    ["lastError"] = s.Value.LastError,
                }),
            };
            if (state is IceHealthState.Degraded or IceHealthState.Down)
            {
                bad.Add($"{p.Name} is {state.ToString().ToLowerInvariant()}");
            }
        }
        if (registry.Providers.Count == 0)
        {
            return Task.FromResult(HealthCheckResult.Healthy("No ICE providers: browsers get host candidates only.", data));
        }
        if (!options.Value.Probe.Enabled)
        {
            return Task.FromResult(HealthCheckResult.Healthy("ICE providers are not probed (GhostChat:Ice:Probe:Enabled is false).", data));
        }
        return Task.FromResult(bad.Count == 0
            ? HealthCheckResult.Healthy("Every ICE provider answers its probes (or was not probed yet).", data)
            : HealthCheckResult.Degraded("ICE: " + string.Join("; ", bad) + ".", data: data));
    }
}
