using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using GhostChat.Turn.Client;

namespace GhostChat.Cli.Doctor;

/// <summary>What one STUN server answered: its address when resolved, the Binding answer when there was one.</summary>
internal sealed record StunResult(IceUrl Url, IPEndPoint? EndPoint, StunBindingResult? Answer);

/// <summary><c>stun:HOST:PORT</c>: one Binding request over UDP; the answer is this machine's public address.</summary>
internal sealed class StunCheck(DoctorContext run)
{
    /// <summary><c>stun:none</c>: /api/ice named no STUN server and none was given.</summary>
    public void ReportNone()
    {
        run.Start("stun:none", "STUN");
        run.Add(new DoctorCheck("stun:none", "stun", "STUN", CheckStatus.Fail,
            "There is no STUN server to test: /api/ice lists none and none was given.",
            "Give one with --stun host:port, or enable the embedded STUN/TURN server (GhostChat:Turn)."));
    }

    public async Task<StunResult> RunAsync(IceUrl url, CancellationToken cancellationToken)
    {
        string id = $"stun:{url.HostForDisplay}:{url.Port}", title = $"STUN {url.HostForDisplay}:{url.Port}";
        run.Start(id, title);
        var details = new Dictionary<string, string>(StringComparer.Ordinal) { ["url"] = url.ToString() };
        if (url.Scheme == "stuns")
        {
            run.Add(new DoctorCheck(id, "stun", title, CheckStatus.Skip, "stuns: (STUN over TLS) is not checked; browsers hardly use it.",
                null, null, details));
            return new StunResult(url, null, null);
        }
        IPEndPoint ep;
        try
        {
            ep = await DoctorText.ResolveAsync(url, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            run.Add(new DoctorCheck(id, "stun", title, CheckStatus.Fail, $"The name '{url.Host}' does not resolve from here.",
                "Check the host name and its DNS record.", null, details));
            return new StunResult(url, null, null);
        }
        details["address"] = ep.ToString();
        using var probe = StunProbe.Open(ep.AddressFamily);
        var sw = Stopwatch.StartNew();
        try
        {
            var answer = await probe.TryBindingAsync(ep, timeout: run.Options.Timeout, cancellationToken: cancellationToken)
                .ConfigureAwait(false);
            double ms = sw.Elapsed.TotalMilliseconds;
            if (answer is null)
            {
                run.Add(probe.NonStunAnswers > 0
                    ? new DoctorCheck(id, "stun", title, CheckStatus.Fail,
                        $"UDP {url.Port} on {url.Host} answered, but not with STUN: another service is on that port.",
                        "Point the STUN URL at the STUN/TURN server's port (3478 by default).", null, details)
                    : new DoctorCheck(id, "stun", title, CheckStatus.Fail,
                        $"No STUN answer from {url.Host} on UDP {url.Port} within {DoctorText.Ms(run.Options.Timeout.TotalMilliseconds)}: "
                        + $"UDP {url.Port} is blocked from here, or the server is down.",
                        "Clients will need TURN over TCP or TLS (port 443 passes most firewalls).", null, details));
                return new StunResult(url, ep, null);
            }
            details["mapped"] = answer.Mapped.ToString();
            if (answer.OtherAddress is { } other)
            {
                details["otherAddress"] = other.ToString();
            }
            if (answer.ResponseOrigin is { } origin)
            {
                details["responseOrigin"] = origin.ToString();
            }
            run.Add(new DoctorCheck(id, "stun", title, CheckStatus.Ok,
                $"Your address as the server sees it: {answer.Mapped} ({DoctorText.Ms(ms)}).",
                null, ms, details));
            return new StunResult(url, ep, answer);
        }
        catch (TurnException ex)
        {
            details["error"] = ex.Message;
            run.Add(new DoctorCheck(id, "stun", title, CheckStatus.Fail,
                ex.Code != 0
                    ? $"The server answered Binding with error {ex.Code}."
                    : $"{url.Host}:{url.Port} sent a malformed STUN answer ({ex.Message}).",
                "Is a STUN server (and not another service) listening on that port?", null, details));
            return new StunResult(url, ep, null);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or InvalidOperationException or ArgumentException)
        {
            // Not expected from a UDP exchange; reported as a verdict rather than ending the run.
            details["error"] = ex.GetType().Name + ": " + ex.Message;
            run.Add(new DoctorCheck(id, "stun", title, CheckStatus.Fail,
                $"The STUN exchange with {url.Host}:{url.Port} failed: {ex.Message}",
                null, null, details));
            return new StunResult(url, ep, null);
        }
    }
}
