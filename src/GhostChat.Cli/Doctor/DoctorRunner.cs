using System.Diagnostics;

namespace GhostChat.Cli.Doctor;

/// <summary>
/// Runs every check of <c>ghostchat doctor</c> against real sockets and returns the report; it never prints. Checks run
/// one after the other, each bounded by <see cref="DoctorOptions.Timeout"/>, and report to an optional observer:
/// signaling over HTTP and WebSocket and <c>/api/ice</c> (with a URL), STUN per server, the NAT's behaviour
/// (RFC 5780), a TURN relay round trip per server, then the summary.
/// </summary>
internal sealed class DoctorRunner(DoctorOptions options, IDoctorObserver? observer = null)
{
    /// <summary>Runs the checks. Cancellation stops the run (the report is then not produced).</summary>
    public async Task<DoctorReport> RunAsync(CancellationToken cancellationToken = default)
    {
        var startedAt = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var run = new DoctorContext(options, observer);
        bool? signaling = null;
        IceAnswer? ice = null;
        if (options.Url is { } url)
        {
            var baseUri = url.AbsoluteUri.EndsWith('/') ? url : new Uri(url.AbsoluteUri + "/");
            using var http = SignalingHttpCheck.CreateHttpClient(run);
            var answered = await new SignalingHttpCheck(run).RunAsync(http, baseUri, cancellationToken).ConfigureAwait(false);
            signaling = await new WebSocketCheck(run).RunAsync(baseUri, answered.PeerId, cancellationToken).ConfigureAwait(false);
            if (answered.AnsweredHttp)
            {
                ice = await new IceFetchCheck(run).RunAsync(http, baseUri, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                new IceFetchCheck(run).SkipUnreachable();
            }
        }

        var turnTargets = DoctorTargets.Turn(options, ice);
        var stunTargets = DoctorTargets.Stun(options, ice, turnTargets);
        var stunResults = new List<StunResult>();
        var stunCheck = new StunCheck(run);
        if (stunTargets.Count == 0)
        {
            stunCheck.ReportNone();
        }
        foreach (var target in stunTargets)
        {
            stunResults.Add(await stunCheck.RunAsync(target, cancellationToken).ConfigureAwait(false));
        }
        var nat = await new NatCheck(run).RunAsync(stunResults, ice, cancellationToken).ConfigureAwait(false);
        bool? turn = null;
        if (turnTargets.Count > 0)
        {
            turn = false;
            var turnCheck = new TurnCheck(run);
            foreach (var target in turnTargets)
            {
                turn |= await turnCheck.RunAsync(target, cancellationToken).ConfigureAwait(false);
            }
        }
        var essentials = new DoctorEssentials(signaling, stunResults.Any(r => r.Answer is not null), turn);
        var summary = DoctorSummary.Write(essentials, stunResults, nat, run.Checks);
        return new DoctorReport(options.Url?.ToString(), startedAt, clock.Elapsed, [.. run.Checks], essentials, nat, summary);
    }
}
