using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Ice;

/// <summary>
/// /readyz detail: each provider's state, latency and failures. Degraded (still HTTP 200) when a provider is
/// degraded or down: signaling and direct connections keep working, so the node stays in rotation.
/// </summary>
internal sealed class IceHealthCheck(IceProviderRegistry registry, IceHealth health, IOptions<IceOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        var bad = new List<string>();
        foreach (var p in registry.Providers)
        {
            var state = health.StateOf(p.Name);
            data[p.Name] = new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["type"] = p.Type,
                ["priority"] = p.Priority,
                ["state"] = state.ToString().ToLowerInvariant(),
                ["latencyMs"] = health.LatencyOf(p.Name) is { } l ? Math.Round(l, 1) : null,
                ["consecutiveFailures"] = health.FailuresOf(p.Name),
                ["servers"] = health.Servers(p.Name).ToDictionary(s => s.Key, s => (object?)new Dictionary<string, object?>(StringComparer.Ordinal)
                {
                    ["state"] = s.Value.State.ToString().ToLowerInvariant(),
                    ["latencyMs"] = s.Value.LatencyMs is { } sl ? Math.Round(sl, 1) : null,
                    ["consecutiveFailures"] = s.Value.ConsecutiveFailures,
                    ["lastError"] = s.Value.LastError,
                },
                StringComparer.Ordinal),
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
