using System.Globalization;
using System.Net;
using GhostChat.Server.Ice.Providers;
using GhostChat.Turn.Client;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Ice;

/// <summary>
/// Probes every server of every provider: a STUN Binding, then (turn: URLs) an Allocate with the provider's
/// credentials, over the URL's transport (UDP, TCP or TLS), then releases the allocation. A server is probed every
/// Probe:Interval; a down one waits twice as long after each further failure, up to Probe:MaxBackoff. Provider
/// credentials come through the provider (so external providers' caches stay warm and refresh before expiry).
/// </summary>
internal sealed class IceProber(
    IceProviderRegistry registry,
    IceHealth health,
    IceMetrics metrics,
    IOptions<IceOptions> options,
    TimeProvider time,
    ILogger<IceProber> logger) : BackgroundService
{

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value.Probe;
        if (!o.Enabled || registry.Providers.Count == 0)
        {
            return;
        }
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ProbeRoundAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.ProbeRoundFailed(logger, ex);
            }
            try
            {
                await Task.Delay(o.Interval, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Probes every server that is due, all providers in parallel.</summary>
    public Task ProbeRoundAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(registry.Providers.Select(p => ProbeProviderAsync(p, cancellationToken)));

    private async Task ProbeProviderAsync(IceProvider provider, CancellationToken cancellationToken)
    {
        var o = options.Value.Probe;
        var servers = health.Servers(provider.Name);
        IReadOnlyList<IceServerEntry>? entries;
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            timeout.CancelAfter(o.Timeout);
            try
            {
                entries = await provider.GetProbeServersAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                entries = null;
            }
        }
        const string CredentialsKey = "credentials";
        if (entries is null)
        {
            // No servers to probe: the provider's API failed (it logged why) or the embedded server is not running.
            var h = servers.GetOrAdd(CredentialsKey, _ => new ServerHealth());
            if (h.NextProbe <= time.GetUtcNow())
            {
                Record(provider, CredentialsKey, h, ok: false, latency: null, error: "no servers or credentials from the provider", TurnTransport.Udp, countProbe: false);
            }
            return;
        }
        servers.TryRemove(CredentialsKey, out _);
        var targets = new Dictionary<string, (IceUrl Url, IceServerEntry Entry)>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            foreach (var u in entry.Urls)
            {
                if (IceUrl.TryParse(u, out var url))
                {
                    targets.TryAdd(url.Key, (url, entry));
                }
            }
        }
        foreach (var stale in servers.Keys.Where(k => !targets.ContainsKey(k)).ToList())
        {
            servers.TryRemove(stale, out _);
        }
        var due = targets.Where(t => servers.GetOrAdd(t.Key, _ => new ServerHealth()).NextProbe <= time.GetUtcNow()).ToList();
        await Task.WhenAll(due.Select(async t =>
        {
            var (url, entry) = t.Value;
            var h = servers[t.Key];
            if (url.Scheme == "stuns")
            {
                h.NextProbe = DateTimeOffset.MaxValue; // browsers do not use stuns:; nothing to probe
                return;
            }
            var started = time.GetTimestamp();
            string? error = await ProbeAsync(provider, url, entry, cancellationToken).ConfigureAwait(false);
            var latency = time.GetElapsedTime(started).TotalMilliseconds;
            Record(provider, t.Key, h, error is null, latency, error, url.Connection, countProbe: true);
        })).ConfigureAwait(false);
    }

    private void Record(IceProvider provider, string key, ServerHealth h, bool ok, double? latency, string? error, TurnTransport transport, bool countProbe)
    {
        var o = options.Value.Probe;
        var before = h.State;
        var now = time.GetUtcNow();
        h.LastProbe = now;
        if (ok)
        {
            h.ConsecutiveFailures = 0;
            h.LatencyMs = latency;
            h.LastError = null;
            h.State = latency > o.SlowLatency.TotalMilliseconds ? IceHealthState.Degraded : IceHealthState.Healthy;
            h.NextProbe = now + o.Interval;
        }
        else
        {
            h.ConsecutiveFailures++;
            h.LastError = error;
            h.State = h.ConsecutiveFailures >= o.FailuresUntilDown ? IceHealthState.Down : IceHealthState.Degraded;
            // A down server waits longer before the next try: Interval × 2^(failures beyond the threshold), capped.
            var extra = Math.Max(0, h.ConsecutiveFailures - o.FailuresUntilDown);
            var wait = TimeSpan.FromTicks((long)Math.Min(o.MaxBackoff.Ticks, o.Interval.Ticks * Math.Pow(2, Math.Min(extra, 20))));
            h.NextProbe = now + wait - TimeSpan.FromMilliseconds(1);
        }
        if (ok)
        {
            h.NextProbe -= TimeSpan.FromMilliseconds(1); // due again at the next tick, not one tick later
        }
        if (countProbe)
        {
            metrics.Probed(provider.Name, transport, ok);
        }
        Log.Probe(logger, provider.Name, key, ok ? $"ok in {latency:0} ms" : "failed: " + error);
        if (before != h.State)
        {
            Log.ServerState(logger, provider.Name, key, h.State, ok ? $"{latency?.ToString("0", CultureInfo.InvariantCulture)} ms" : $"{h.ConsecutiveFailures} failure(s): {error}");
        }
    }

    /// <summary>Returns null when the server did what it should, otherwise why not (no secrets).</summary>
    private async Task<string?> ProbeAsync(IceProvider provider, IceUrl url, IceServerEntry entry, CancellationToken cancellationToken)
    {
        var o = options.Value.Probe;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(o.Timeout);
        var step = "resolve";
        try
        {
            IPAddress address;
            if (!IPAddress.TryParse(url.Host, out address!))
            {
                var addresses = await Dns.GetHostAddressesAsync(url.Host, timeout.Token).ConfigureAwait(false);
                address = addresses.FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
                    ?? throw new TurnException(0, "no address");
            }
            var endpoint = new IPEndPoint(address, url.Port);
            step = "connect";
            var transport = url.Connection;
            await using var client = await TurnClient.ConnectAsync(transport, endpoint, IPAddress.TryParse(url.Host, out _) ? null : url.Host, provider.CertificateValidation, timeout.Token).ConfigureAwait(false);
            client.InitialRto = TimeSpan.FromMilliseconds(250);
            client.MaxTries = 5;
            step = "binding";
            await client.BindingAsync(timeout.Token).ConfigureAwait(false);
            if (url.IsTurn && entry.Username is not null && entry.Credential is not null)
            {
                step = "allocate";
                await client.AllocateAsync(entry.Username, entry.Credential, TimeSpan.FromSeconds(60), timeout.Token).ConfigureAwait(false);
                try
                {
                    await client.RefreshAsync(TimeSpan.Zero, timeout.Token).ConfigureAwait(false); // release at once
                }
                catch (TurnException)
                {
                    // the allocation times out on its own
                }
            }
            return null;
        }
        catch (TurnException ex)
        {
            return ex.Code switch
            {
                0 => $"{step}: no answer",
                401 => $"{step}: 401 (credentials refused)",
                _ => $"{step}: error {ex.Code.ToString(CultureInfo.InvariantCulture)}",
            };
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"{step}: no answer within {o.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s";
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException or System.Security.Authentication.AuthenticationException)
        {
            return $"{step}: {ex.GetType().Name.Replace("Exception", "", StringComparison.Ordinal)} ({(ex as System.Net.Sockets.SocketException)?.SocketErrorCode.ToString() ?? "stream"})";
        }
    }
}
