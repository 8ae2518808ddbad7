using System.Diagnostics.Metrics;
using GhostChat.Turn.Client;

namespace GhostChat.Server.Ice;

/// <summary>
/// The ICE service's counters (meter <c>GhostChat.Ice</c>), fed by those who count: the prober, the HTTP providers and
/// the endpoint. The health gauges belong to <see cref="IceHealth"/>. No addresses of clients.
/// </summary>
internal sealed class IceMetrics
{
    public const string MeterName = "GhostChat.Ice";

    private readonly Counter<long> _probes;
    private readonly Counter<long> _fetches;
    private readonly Counter<long> _requests;

    public IceMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _probes = meter.CreateCounter<long>("ghostchat.ice.probes", "{probe}", "Health probes, by provider, transport and result (ok, failed).");
        _fetches = meter.CreateCounter<long>("ghostchat.ice.provider.fetches", "{request}", "Credential API calls of external providers, by result (ok, http_error, rate_limited, timeout, unreachable, malformed).");
        _requests = meter.CreateCounter<long>("ghostchat.ice.requests", "{request}", "/api/ice requests, by result (ok, rate_limited, bad_request).");
    }

    public void Probed(string provider, TurnTransport transport, bool ok) => _probes.Add(1,
        new KeyValuePair<string, object?>("provider", provider),
        new KeyValuePair<string, object?>("transport", transport.ToString().ToLowerInvariant()),
        new KeyValuePair<string, object?>("result", ok ? "ok" : "failed"));

    public void Fetched(string provider, string result) => _fetches.Add(1,
        new KeyValuePair<string, object?>("provider", provider), new KeyValuePair<string, object?>("result", result));

    public void Request(string result) => _requests.Add(1, new KeyValuePair<string, object?>("result", result));
}
