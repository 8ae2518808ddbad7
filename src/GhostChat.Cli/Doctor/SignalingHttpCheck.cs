using System.Diagnostics;
using System.Globalization;

namespace GhostChat.Cli.Doctor;

/// <summary>What the HTTP check found: the peer id handed out (null when none) and whether anything answered HTTP at all.</summary>
internal sealed record SignalingHttpResult(string? PeerId, bool AnsweredHttp);

/// <summary>
/// <c>signaling:http</c>: <c>GET {url}/{key}/id</c> must answer a PeerJS peer id, as the reference server does.
/// </summary>
internal sealed class SignalingHttpCheck(DoctorContext run)
{
    private const string Id = "signaling:http", Title = "Signaling (HTTP)";

    /// <summary>The client the HTTP checks share: the connect timeout of the run, redirects followed, --insecure honoured.</summary>
    public static HttpClient CreateHttpClient(DoctorContext run)
    {
        var handler = new SocketsHttpHandler { ConnectTimeout = run.Options.Timeout, AllowAutoRedirect = true };
        if (run.Options.Insecure)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = run.AcceptWhenInsecure;
        }
        return new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    public async Task<SignalingHttpResult> RunAsync(HttpClient http, Uri baseUri, CancellationToken cancellationToken)
    {
        run.Start(Id, Title);
        var idUri = new Uri(baseUri, Uri.EscapeDataString(run.Options.Key) + "/id");
        var sw = Stopwatch.StartNew();
        try
        {
            using var cts = run.Linked(cancellationToken);
            using var response = await http.GetAsync(idUri, cts.Token).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync(cts.Token).ConfigureAwait(false);
            double ms = sw.Elapsed.TotalMilliseconds;
            var details = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["url"] = idUri.ToString(),
                ["status"] = ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture),
            };
            if (response.IsSuccessStatusCode && body.Length is > 0 and < 200 && !body.Contains('<', StringComparison.Ordinal))
            {
                run.Add(new DoctorCheck(Id, "signaling", Title, CheckStatus.Ok,
                    $"The server answers over HTTP in {DoctorText.Ms(ms)} and hands out peer ids.", null, ms, details));
                return new SignalingHttpResult(body.Trim(), AnsweredHttp: true);
            }
            run.Add(new DoctorCheck(Id, "signaling", Title, CheckStatus.Fail,
                $"GET {idUri.AbsolutePath} answered {(int)response.StatusCode} {response.ReasonPhrase} instead of a peer id: "
                + "this URL is not a PeerJS/GhostChat signaling server.",
                "Check the URL (scheme, host, port, path) and --key; behind a proxy, check that it forwards this path to GhostChat.",
                ms, details));
            return new SignalingHttpResult(null, AnsweredHttp: true);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            var (verdict, advice) = HttpVerdicts.Explain(ex, baseUri, run.Options.Timeout);
            run.Add(new DoctorCheck(Id, "signaling", Title, CheckStatus.Fail, verdict, advice, null,
                new Dictionary<string, string>(StringComparer.Ordinal) { ["url"] = idUri.ToString(), ["error"] = ex.Message }));
            return new SignalingHttpResult(null, AnsweredHttp: false);
        }
    }
}
