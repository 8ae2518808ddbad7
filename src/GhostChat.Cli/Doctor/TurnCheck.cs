using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using GhostChat.Turn.Client;

namespace GhostChat.Cli.Doctor;

/// <summary>
/// <c>turn:TRANSPORT:HOST:PORT</c>: connect, Allocate with the target's credentials, CreatePermission for this
/// machine's own address, then a relayed round trip (<see cref="TurnRelayRoundTrip"/>); the allocation is released.
/// </summary>
internal sealed class TurnCheck(DoctorContext run)
{
    /// <summary>True when a relay was allocated (even if this machine may not be its own peer).</summary>
    public async Task<bool> RunAsync(TurnTarget target, CancellationToken cancellationToken)
    {
        var url = target.Url;
        string transport = url.ClientTransport;
        string id = $"turn:{transport}:{url.HostForDisplay}:{url.Port}";
        string title = $"TURN {transport.ToUpperInvariant()} {url.HostForDisplay}:{url.Port}";
        run.Start(id, title);
        var details = new Dictionary<string, string>(StringComparer.Ordinal) { ["url"] = url.ToString(), ["credentials"] = target.Source.ToString() };
        if (target.Provider is not null)
        {
            details["provider"] = target.Provider;
        }
        if (target.Username is null || target.Password is null)
        {
            var (v, a) = TurnVerdicts.Explain(new TurnException(401, "no credentials"), TurnStep.Allocate, transport, url.Host, url.Port,
                CredentialSource.None, false);
            run.Add(new DoctorCheck(id, "turn", title, CheckStatus.Fail, "No credentials to try: " + v, a, null, details));
            return false;
        }
        var step = TurnStep.Resolve;
        string? certificateProblem = null;
        TurnClient? client = null;
        using var cts = run.Linked(cancellationToken);
        try
        {
            var ep = await DoctorText.ResolveAsync(url, cts.Token).ConfigureAwait(false);
            details["address"] = ep.ToString();
            step = TurnStep.Connect;
            var kind = transport switch { "tcp" => TurnTransport.Tcp, "tls" => TurnTransport.Tls, _ => TurnTransport.Udp };
            RemoteCertificateValidationCallback validate = (_, _, _, errors) =>
            {
                if (errors == SslPolicyErrors.None)
                {
                    return true;
                }
                certificateProblem = errors.ToString();
                return run.Options.Insecure;
            };
            client = await TurnClient.ConnectAsync(kind, ep, url.Host, validate, cts.Token).ConfigureAwait(false);
            client.InitialRto = TimeSpan.FromMilliseconds(250);
            client.MaxTries = 16;
            step = TurnStep.Allocate;
            var sw = Stopwatch.StartNew();
            var allocation = await client.AllocateAsync(target.Username, target.Password, TimeSpan.FromMinutes(2), cts.Token)
                .ConfigureAwait(false);
            double allocateMs = sw.Elapsed.TotalMilliseconds;
            details["relayed"] = allocation.Relayed.ToString();
            details["mapped"] = allocation.Mapped.ToString();
            details["allocateMs"] = allocateMs.ToString("0.0", CultureInfo.InvariantCulture);

            step = TurnStep.Permission;
            await client.CreatePermissionAsync(new IPEndPoint(allocation.Mapped.Address, 0), cts.Token).ConfigureAwait(false);
            step = TurnStep.Relay;
            sw.Restart();
            await TurnRelayRoundTrip.RunAsync(client, allocation, cts.Token).ConfigureAwait(false);
            double relayMs = sw.Elapsed.TotalMilliseconds;
            details["relayMs"] = relayMs.ToString("0.0", CultureInfo.InvariantCulture);
            string verdict = $"Allocate and a relayed round trip (Send/Data and ChannelData) work over {transport.ToUpperInvariant()}: "
                + $"relayed address {allocation.Relayed}, allocate {DoctorText.Ms(allocateMs)}.";
            if (certificateProblem is not null)
            {
                details["certificate"] = certificateProblem;
                run.Add(new DoctorCheck(id, "turn", title, CheckStatus.Warn,
                    verdict + $" But the TLS certificate is not trusted here ({certificateProblem}).",
                    "Browsers refuse turns: servers with an untrusted certificate: install one valid for " + url.Host + ".",
                    allocateMs, details));
            }
            else
            {
                run.Add(new DoctorCheck(id, "turn", title, CheckStatus.Ok, verdict, null, allocateMs, details));
            }
            return true;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested
            && ex is SocketException or TurnException or OperationCanceledException or TimeoutException or IOException
                or AuthenticationException)
        {
            bool timedOut = ex is OperationCanceledException;
            var (verdict, advice) = TurnVerdicts.Explain(ex, step, transport, url.Host, url.Port, target.Source, timedOut);
            details["step"] = step.ToString().ToLowerInvariant();
            details["error"] = ex.Message;
            if (ex is TurnException { Code: > 0 } te)
            {
                details["code"] = te.Code.ToString(CultureInfo.InvariantCulture);
            }
            if (certificateProblem is not null)
            {
                details["certificate"] = certificateProblem;
            }
            // Allocation worked but this machine's own address cannot be a peer (safe default on public servers): TURN works.
            bool allocated = step == TurnStep.Permission && ex is TurnException { Code: 403 };
            run.Add(new DoctorCheck(id, "turn", title, allocated ? CheckStatus.Warn : CheckStatus.Fail, verdict, advice, null, details));
            return allocated;
        }
        finally
        {
            if (client is not null)
            {
                await ReleaseAsync(client).ConfigureAwait(false);
            }
        }
    }

    private static async Task ReleaseAsync(TurnClient client)
    {
        try
        {
            if (!client.IsClosed)
            {
                client.MaxTries = 2;
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                await client.RefreshAsync(TimeSpan.Zero, cts.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is TurnException or OperationCanceledException or SocketException or InvalidOperationException)
        {
            // No allocation (it failed earlier) or the server is gone: nothing to release.
        }
        await client.DisposeAsync().ConfigureAwait(false);
    }
}
