using System.Diagnostics.Metrics;

namespace GhostChat.Server.Ice;

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
