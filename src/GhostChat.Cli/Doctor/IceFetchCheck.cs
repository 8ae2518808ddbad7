using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace GhostChat.Cli.Doctor;

/// <summary><c>ice:fetch</c>: <c>GET {url}/api/ice</c> must answer the STUN/TURN servers browsers get, in GhostChat's JSON.</summary>
internal sealed class IceFetchCheck(DoctorContext run)
{
    private const string Id = "ice:fetch", Title = "ICE servers (/api/ice)";

    /// <summary>Nothing answered HTTP at all: asking /api/ice would only repeat that.</summary>
    public void SkipUnreachable()
    {
        run.Start(Id, Title);
        run.Add(new DoctorCheck(Id, "ice", Title, CheckStatus.Skip, "Not tried: the server does not answer HTTP."));
    }

    /// <summary>The answer, or null when there is none to use (the check says why).</summary>
    public async Task<IceAnswer?> RunAsync(HttpClient http, Uri baseUri, CancellationToken cancellationToken)
    {
        run.Start(Id, Title);
        var uri = new Uri(baseUri, "api/ice");
        var details = new Dictionary<string, string>(StringComparer.Ordinal) { ["url"] = uri.ToString() };
        var sw = Stopwatch.StartNew();
        string body;
        HttpResponseMessage response;
        try
        {
            using var cts = run.Linked(cancellationToken);
            response = await http.GetAsync(uri, cts.Token).ConfigureAwait(false);
            body = await response.Content.ReadAsStringAsync(cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            var (verdict, advice) = HttpVerdicts.Explain(ex, baseUri, run.Options.Timeout);
            run.Add(new DoctorCheck(Id, "ice", Title, CheckStatus.Fail, verdict, advice, null, details));
            return null;
        }
        double ms = sw.Elapsed.TotalMilliseconds;
        using (response)
        {
            details["status"] = ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
            if (Refused(response, ms, details) is { } refused)
            {
                run.Add(refused);
                return null;
            }
        }
        if (!IceAnswer.TryParse(body, out var answer, out var problem, out var ignored))
        {
            details["body"] = DoctorText.Snippet(body);
            run.Add(new DoctorCheck(Id, "ice", Title, CheckStatus.Fail,
                $"/api/ice answered with something that is not the JSON GhostChat sends: {problem}.",
                "A proxy or another application may be answering on this URL; or the server and this doctor are different versions.",
                ms, details));
            return null;
        }
        run.Add(Answered(answer, ignored, ms, details));
        return answer;
    }

    /// <summary>The check for an answer that is not a 2xx, or null for a 2xx.</summary>
    private static DoctorCheck? Refused(HttpResponseMessage response, double ms, Dictionary<string, string> details)
    {
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return new DoctorCheck(Id, "ice", Title, CheckStatus.Warn,
                "This server has no /api/ice (an older GhostChat, or not GhostChat): browsers get no STUN/TURN servers from it.",
                "Check STUN/TURN directly with --stun and --turn.", ms, details);
        }
        if ((int)response.StatusCode == 429)
        {
            var retry = response.Headers.RetryAfter?.Delta?.TotalSeconds;
            return new DoctorCheck(Id, "ice", Title, CheckStatus.Warn,
                $"/api/ice is rate-limiting this address (429){(retry is { } r ? $"; retry after {r:0} s" : "")}.",
                "Wait and run doctor again; many users behind one address share the limit.", ms, details);
        }
        if (!response.IsSuccessStatusCode)
        {
            return new DoctorCheck(Id, "ice", Title, CheckStatus.Fail,
                $"/api/ice answered {(int)response.StatusCode} {response.ReasonPhrase}.",
                "Look at the server's log (a provider misconfiguration shows at start).", ms, details);
        }
        return null;
    }

    private static DoctorCheck Answered(IceAnswer answer, List<string> ignored, double ms, Dictionary<string, string> details)
    {
        int turn = answer.Servers.Count(s => s.Url.IsTurn), stun = answer.Servers.Count - turn;
        details["servers"] = answer.Servers.Count.ToString(CultureInfo.InvariantCulture);
        if (answer.StunProbes.Count > 0)
        {
            details["stunProbes"] = string.Join(' ', answer.StunProbes);
        }
        if (ignored.Count > 0)
        {
            details["ignored"] = string.Join("; ", ignored);
        }
        var providers = answer.Servers.Select(s => s.Provider).Where(p => p is not null).Distinct(StringComparer.Ordinal).ToList();
        if (providers.Count > 0)
        {
            details["providers"] = string.Join(' ', providers);
        }
        if (answer.Servers.Count == 0)
        {
            return new DoctorCheck(Id, "ice", Title, CheckStatus.Warn,
                "/api/ice lists no STUN or TURN server: browsers will only find direct paths on the same network.",
                "Enable the embedded TURN server or configure a provider (GhostChat:Ice).", ms, details);
        }
        var noCredentials = answer.Servers.Where(s => s.Url.IsTurn && (s.Username is null || s.Credential is null)).ToList();
        return new DoctorCheck(Id, "ice", Title, noCredentials.Count > 0 || ignored.Count > 0 ? CheckStatus.Warn : CheckStatus.Ok,
            $"/api/ice lists {turn} TURN and {stun} STUN URL{(stun == 1 ? "" : "s")} ({DoctorText.Ms(ms)})."
            + (noCredentials.Count > 0 ? $" {noCredentials.Count} TURN URL(s) come without credentials." : "")
            + (ignored.Count > 0 ? $" {ignored.Count} URL(s) could not be read and are ignored." : ""),
            noCredentials.Count > 0 ? "TURN servers need a username and credential in the ICE configuration." : null, ms, details);
    }
}
