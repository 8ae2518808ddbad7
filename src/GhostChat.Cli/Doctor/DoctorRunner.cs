using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http;
using System.Net.NetworkInformation;
using System.Net.Security;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using GhostChat.Turn.Auth;
using GhostChat.Turn.Client;

namespace GhostChat.Cli.Doctor;

/// <summary>
/// Runs every check of <c>ghostchat doctor</c> against real sockets and returns the report; it never prints. Checks run
/// one after the other, each bounded by <see cref="DoctorOptions.Timeout"/>, and report to an optional observer.
/// </summary>
internal sealed class DoctorRunner
{
    private static readonly TimeSpan FilteringWait = TimeSpan.FromSeconds(2);

    private readonly DoctorOptions _o;
    private readonly IDoctorObserver? _observer;
    private readonly List<DoctorCheck> _checks = [];

    public DoctorRunner(DoctorOptions options, IDoctorObserver? observer = null)
    {
        _o = options;
        _observer = observer;
    }

    /// <summary>Runs the checks. Cancellation stops the run (the report is then not produced).</summary>
    public async Task<DoctorReport> RunAsync(CancellationToken cancellationToken = default)
    {
        var startedAt = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        bool? signaling = null;
        IceAnswer? ice = null;
        if (_o.Url is { } url)
        {
            var baseUri = url.AbsoluteUri.EndsWith('/') ? url : new Uri(url.AbsoluteUri + "/");
            using var http = CreateHttpClient();
            signaling = await CheckSignalingAsync(http, baseUri, cancellationToken).ConfigureAwait(false);
            if (_checks[0].Status == CheckStatus.Fail && _checks[0].Details?.ContainsKey("status") != true)
            {
                // Nothing answered HTTP at all: asking /api/ice would only repeat that.
                Start("ice:fetch", "ICE servers (/api/ice)");
                Add(new DoctorCheck("ice:fetch", "ice", "ICE servers (/api/ice)", CheckStatus.Skip, "Not tried: the server does not answer HTTP."));
            }
            else
            {
                ice = await CheckIceAsync(http, baseUri, cancellationToken).ConfigureAwait(false);
            }
        }

        var turnTargets = TurnTargets(ice);
        var stunResults = await CheckStunAsync(StunTargets(ice, turnTargets), cancellationToken).ConfigureAwait(false);
        var nat = await CheckNatAsync(stunResults, ice, cancellationToken).ConfigureAwait(false);
        bool? turn = null;
        if (turnTargets.Count > 0)
        {
            turn = false;
            foreach (var target in turnTargets)
            {
                turn |= await CheckTurnAsync(target, cancellationToken).ConfigureAwait(false);
            }
        }
        var essentials = new DoctorEssentials(signaling, stunResults.Any(r => r.Answer is not null), turn);
        return new DoctorReport(_o.Url?.ToString(), startedAt, clock.Elapsed, [.. _checks], essentials, nat, Summarise(essentials, stunResults, nat));
    }

    // ───────────────────────────── signaling ─────────────────────────────

    private HttpClient CreateHttpClient()
    {
        var handler = new SocketsHttpHandler { ConnectTimeout = _o.Timeout, AllowAutoRedirect = true };
        if (_o.Insecure)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = AcceptWhenInsecure;
        }
        return new HttpClient(handler) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
    }

    private async Task<bool> CheckSignalingAsync(HttpClient http, Uri baseUri, CancellationToken cancellationToken)
    {
        const string httpId = "signaling:http", httpTitle = "Signaling (HTTP)";
        Start(httpId, httpTitle);
        var idUri = new Uri(baseUri, Uri.EscapeDataString(_o.Key) + "/id");
        string? peerId = null;
        bool httpOk;
        var sw = Stopwatch.StartNew();
        try
        {
            using var cts = Linked(cancellationToken);
            using var response = await http.GetAsync(idUri, cts.Token).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync(cts.Token).ConfigureAwait(false);
            double ms = sw.Elapsed.TotalMilliseconds;
            var details = new Dictionary<string, string> { ["url"] = idUri.ToString(), ["status"] = ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture) };
            if (response.IsSuccessStatusCode && body.Length is > 0 and < 200 && !body.Contains('<', StringComparison.Ordinal))
            {
                peerId = body.Trim();
                httpOk = true;
                Add(new DoctorCheck(httpId, "signaling", httpTitle, CheckStatus.Ok, $"The server answers over HTTP in {Ms(ms)} and hands out peer ids.", null, ms, details));
            }
            else
            {
                httpOk = false;
                Add(new DoctorCheck(httpId, "signaling", httpTitle, CheckStatus.Fail,
                    $"GET {idUri.AbsolutePath} answered {(int)response.StatusCode} {response.ReasonPhrase} instead of a peer id: this URL is not a PeerJS/GhostChat signaling server.",
                    "Check the URL (scheme, host, port, path) and --key; behind a proxy, check that it forwards this path to GhostChat.", ms, details));
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            httpOk = false;
            var (verdict, advice) = ExplainHttp(ex, baseUri);
            Add(new DoctorCheck(httpId, "signaling", httpTitle, CheckStatus.Fail, verdict, advice, null, new Dictionary<string, string> { ["url"] = idUri.ToString(), ["error"] = ex.Message }));
        }

        const string wsId = "signaling:websocket", wsTitle = "Signaling (WebSocket)";
        Start(wsId, wsTitle);
        if (!httpOk)
        {
            Add(new DoctorCheck(wsId, "signaling", wsTitle, CheckStatus.Skip, "Not tried: the HTTP check failed."));
            return false;
        }
        return await CheckWebSocketAsync(baseUri, peerId!, cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> CheckWebSocketAsync(Uri baseUri, string peerId, CancellationToken cancellationToken)
    {
        const string id = "signaling:websocket", title = "Signaling (WebSocket)";
        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var builder = new UriBuilder(baseUri)
        {
            Scheme = baseUri.Scheme == "https" ? "wss" : "ws",
            Path = baseUri.AbsolutePath + "peerjs",
            Query = $"key={Uri.EscapeDataString(_o.Key)}&id={Uri.EscapeDataString(peerId)}&token={token}&version=ghostchat-doctor",
        };
        var details = new Dictionary<string, string> { ["url"] = new UriBuilder(builder.Uri) { Query = "" }.Uri.ToString() };
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        if (_o.Insecure)
        {
            socket.Options.RemoteCertificateValidationCallback = AcceptWhenInsecure;
        }
        var sw = Stopwatch.StartNew();
        try
        {
            using var cts = Linked(cancellationToken);
            await socket.ConnectAsync(builder.Uri, cts.Token).ConfigureAwait(false);
            var buffer = new byte[16 * 1024];
            var result = await socket.ReceiveAsync(buffer, cts.Token).ConfigureAwait(false);
            double ms = sw.Elapsed.TotalMilliseconds;
            if (result.MessageType == WebSocketMessageType.Close)
            {
                Add(new DoctorCheck(id, "signaling", title, CheckStatus.Fail, $"The server closed the WebSocket without OPEN ({socket.CloseStatus} {socket.CloseStatusDescription}).",
                    "Look at the server's log; a limit (sockets per address, allowed origins) may refuse this client.", ms, details));
                return false;
            }
            string type = "", message = "";
            try
            {
                using var doc = JsonDocument.Parse(buffer.AsMemory(0, result.Count));
                type = doc.RootElement.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
                if (doc.RootElement.TryGetProperty("payload", out var p) && p.ValueKind == JsonValueKind.Object && p.TryGetProperty("msg", out var msg) && msg.ValueKind == JsonValueKind.String)
                {
                    message = msg.GetString()!;
                }
            }
            catch (JsonException)
            {
            }
            details["firstFrame"] = type.Length > 0 ? type : "(not PeerJS JSON)";
            await CloseQuietlyAsync(socket).ConfigureAwait(false);
            if (type == "OPEN")
            {
                Add(new DoctorCheck(id, "signaling", title, CheckStatus.Ok, $"PeerJS handshake works: OPEN after {Ms(ms)}.", null, ms, details));
                return true;
            }
            Add(new DoctorCheck(id, "signaling", title, CheckStatus.Fail,
                type == "ERROR" ? $"The server refused the PeerJS handshake: {message}" : $"The first WebSocket message was {(type.Length > 0 ? type : "not PeerJS JSON")}, not OPEN.",
                "Check --key and the server's signaling limits.", ms, details));
            return false;
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or HttpRequestException && !cancellationToken.IsCancellationRequested)
        {
            int status = (int)socket.HttpStatusCode;
            if (status != 0)
            {
                details["status"] = status.ToString(CultureInfo.InvariantCulture);
            }
            details["error"] = ex.Message;
            string verdict = ex is OperationCanceledException
                ? $"No PeerJS OPEN within {Ms(_o.Timeout.TotalMilliseconds)}."
                : status != 0 ? $"The WebSocket upgrade was refused (HTTP {status})." : $"The WebSocket connection failed: {ex.Message}";
            string advice = status is 400 or 426 or 404 or 405 || (status == 200 && ex is WebSocketException)
                ? "A reverse proxy in front of GhostChat does not pass WebSocket upgrades: forward the Upgrade and Connection headers (see deploy/proxy/)."
                : status == 403 ? "The server refused this client (allowed origins or per-address limits)." : "HTTP works but WebSockets do not: check proxies and firewalls between here and the server.";
            Add(new DoctorCheck(id, "signaling", title, CheckStatus.Fail, verdict, advice, null, details));
            return false;
        }
    }

    private static async Task CloseQuietlyAsync(ClientWebSocket socket)
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "doctor done", cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
        }
    }

    private (string Verdict, string Advice) ExplainHttp(Exception ex, Uri baseUri)
    {
        string where = $"{baseUri.Host}:{baseUri.Port}";
        if (ex is OperationCanceledException)
        {
            return ($"No answer from {where} within {Ms(_o.Timeout.TotalMilliseconds)}.", "A firewall may drop the traffic, or the server is overloaded; try a longer --timeout.");
        }
        var http = (HttpRequestException)ex;
        var socket = FindInner<SocketException>(ex);
        return http.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError => ($"The name '{baseUri.Host}' does not resolve from here.", "Check the host name and its DNS record."),
            HttpRequestError.SecureConnectionError => ($"The HTTPS connection to {where} failed: {ex.InnerException?.Message ?? ex.Message}",
                "The certificate is not trusted here or not valid for this name; browsers will refuse it too (use --insecure to check the rest anyway)."),
            HttpRequestError.ConnectionError when socket?.SocketErrorCode == SocketError.ConnectionRefused =>
                ($"Nothing listens at {where} (connection refused): signaling is unreachable.", "Is GhostChat running, and on this port? `ghostchat serve` prints the URL it listens on."),
            HttpRequestError.ConnectionError when socket?.SocketErrorCode is SocketError.TimedOut or SocketError.HostUnreachable or SocketError.NetworkUnreachable =>
                ($"{where} is not reachable from here ({socket.SocketErrorCode}).", "A firewall drops the traffic, or the address is wrong."),
            HttpRequestError.InvalidResponse or HttpRequestError.ResponseEnded =>
                ($"{where} answered, but not with HTTP (or the connection broke): {ex.Message}", "Is this the HTTP port? (https:// vs http://, or another service on the port.)"),
            _ => ($"The request to {where} failed: {ex.Message}", "Check the URL and the network path to the server."),
        };
    }

    // ───────────────────────────── /api/ice ─────────────────────────────

    /// <summary>What /api/ice said (contract C2), reduced to what the checks need.</summary>
    private sealed record IceAnswer(IReadOnlyList<(IceUrl Url, string? Username, string? Credential, string? Provider)> Servers, IReadOnlyList<IceUrl> StunProbes);

    private async Task<IceAnswer?> CheckIceAsync(HttpClient http, Uri baseUri, CancellationToken cancellationToken)
    {
        const string id = "ice:fetch", title = "ICE servers (/api/ice)";
        Start(id, title);
        var uri = new Uri(baseUri, "api/ice");
        var details = new Dictionary<string, string> { ["url"] = uri.ToString() };
        var sw = Stopwatch.StartNew();
        string body;
        HttpResponseMessage response;
        try
        {
            using var cts = Linked(cancellationToken);
            response = await http.GetAsync(uri, cts.Token).ConfigureAwait(false);
            body = await response.Content.ReadAsStringAsync(cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            var (verdict, advice) = ExplainHttp(ex, baseUri);
            Add(new DoctorCheck(id, "ice", title, CheckStatus.Fail, verdict, advice, null, details));
            return null;
        }
        double ms = sw.Elapsed.TotalMilliseconds;
        using (response)
        {
            details["status"] = ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                Add(new DoctorCheck(id, "ice", title, CheckStatus.Warn, "This server has no /api/ice (an older GhostChat, or not GhostChat): browsers get no STUN/TURN servers from it.",
                    "Check STUN/TURN directly with --stun and --turn.", ms, details));
                return null;
            }
            if ((int)response.StatusCode == 429)
            {
                var retry = response.Headers.RetryAfter?.Delta?.TotalSeconds;
                Add(new DoctorCheck(id, "ice", title, CheckStatus.Warn, $"/api/ice is rate-limiting this address (429){(retry is { } r ? $"; retry after {r:0} s" : "")}.",
                    "Wait and run doctor again; many users behind one address share the limit.", ms, details));
                return null;
            }
            if (!response.IsSuccessStatusCode)
            {
                Add(new DoctorCheck(id, "ice", title, CheckStatus.Fail, $"/api/ice answered {(int)response.StatusCode} {response.ReasonPhrase}.",
                    "Look at the server's log (a provider misconfiguration shows at start).", ms, details));
                return null;
            }
        }
        if (!TryParseIce(body, out var answer, out var problem, out var ignored))
        {
            details["body"] = Snippet(body);
            Add(new DoctorCheck(id, "ice", title, CheckStatus.Fail, $"/api/ice answered with something that is not the JSON GhostChat sends: {problem}.",
                "A proxy or another application may be answering on this URL; or the server and this doctor are different versions.", ms, details));
            return null;
        }
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
        var providers = answer.Servers.Select(s => s.Provider).Where(p => p is not null).Distinct().ToList();
        if (providers.Count > 0)
        {
            details["providers"] = string.Join(' ', providers);
        }
        if (answer.Servers.Count == 0)
        {
            Add(new DoctorCheck(id, "ice", title, CheckStatus.Warn, "/api/ice lists no STUN or TURN server: browsers will only find direct paths on the same network.",
                "Enable the embedded TURN server or configure a provider (GhostChat:Ice).", ms, details));
        }
        else
        {
            var noCredentials = answer.Servers.Where(s => s.Url.IsTurn && (s.Username is null || s.Credential is null)).ToList();
            Add(new DoctorCheck(id, "ice", title, noCredentials.Count > 0 || ignored.Count > 0 ? CheckStatus.Warn : CheckStatus.Ok,
                $"/api/ice lists {turn} TURN and {stun} STUN URL{(stun == 1 ? "" : "s")} ({Ms(ms)})."
                + (noCredentials.Count > 0 ? $" {noCredentials.Count} TURN URL(s) come without credentials." : "")
                + (ignored.Count > 0 ? $" {ignored.Count} URL(s) could not be read and are ignored." : ""),
                noCredentials.Count > 0 ? "TURN servers need a username and credential in the ICE configuration." : null, ms, details));
        }
        return answer;
    }

    private static bool TryParseIce(string body, out IceAnswer answer, out string problem, out List<string> ignored)
    {
        answer = null!;
        problem = "";
        ignored = [];
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body);
        }
        catch (JsonException ex)
        {
            problem = "not JSON (" + ex.Message.Split('.')[0] + ")";
            return false;
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("iceServers", out var list) || list.ValueKind != JsonValueKind.Array)
            {
                problem = "no \"iceServers\" array";
                return false;
            }
            string?[] providers = root.TryGetProperty("providers", out var pv) && pv.ValueKind == JsonValueKind.Array
                ? [.. pv.EnumerateArray().Select(p => p.ValueKind == JsonValueKind.String ? p.GetString() : null)]
                : [];
            var servers = new List<(IceUrl, string?, string?, string?)>();
            int index = 0;
            foreach (var server in list.EnumerateArray())
            {
                if (server.ValueKind != JsonValueKind.Object || !server.TryGetProperty("urls", out var urls))
                {
                    problem = $"iceServers[{index}] has no \"urls\"";
                    return false;
                }
                var texts = urls.ValueKind switch
                {
                    JsonValueKind.String => [urls.GetString()],
                    JsonValueKind.Array => urls.EnumerateArray().Select(u => u.ValueKind == JsonValueKind.String ? u.GetString() : null).ToList(),
                    _ => null,
                };
                if (texts is null || texts.Any(t => t is null))
                {
                    problem = $"iceServers[{index}].urls is not a string or a list of strings";
                    return false;
                }
                string? username = server.TryGetProperty("username", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
                string? credential = server.TryGetProperty("credential", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                string? provider = index < providers.Length ? providers[index] : null;
                foreach (var text in texts)
                {
                    if (IceUrl.TryParse(text, out var url, out var error))
                    {
                        servers.Add((url, username, credential, provider));
                    }
                    else
                    {
                        ignored.Add(error);
                    }
                }
                index++;
            }
            var probes = new List<IceUrl>();
            if (root.TryGetProperty("stunProbes", out var sp) && sp.ValueKind == JsonValueKind.Array)
            {
                foreach (var p in sp.EnumerateArray())
                {
                    if (p.ValueKind == JsonValueKind.String && IceUrl.TryParse(p.GetString(), out var url, out var error) && !url.IsTurn)
                    {
                        probes.Add(url);
                    }
                    else
                    {
                        ignored.Add("stunProbes: " + (p.ValueKind == JsonValueKind.String ? p.GetString() : p.ValueKind.ToString()));
                    }
                }
            }
            answer = new IceAnswer(servers, probes);
            return true;
        }
    }

    // ───────────────────────────── STUN ─────────────────────────────

    private sealed record TurnTarget(IceUrl Url, string? Username, string? Password, CredentialSource Source, string? Provider);

    private sealed record StunResult(IceUrl Url, IPEndPoint? EndPoint, StunBindingResult? Answer);

    private List<TurnTarget> TurnTargets(IceAnswer? ice)
    {
        var targets = new List<TurnTarget>();
        foreach (var (url, user, credential, provider) in ice?.Servers ?? [])
        {
            if (url.IsTurn)
            {
                targets.Add(new TurnTarget(url, user, credential, CredentialSource.IceEndpoint, provider));
            }
        }
        foreach (var url in _o.Turn)
        {
            if (_o.Secret is { Length: > 0 } secret)
            {
                var c = TurnRestCredentials.Create(secret, "ghostchat-doctor", TimeSpan.FromHours(1), DateTimeOffset.UtcNow);
                targets.Add(new TurnTarget(url, c.Username, c.Password, CredentialSource.Secret, null));
            }
            else if (_o.Username is not null && _o.Password is not null)
            {
                targets.Add(new TurnTarget(url, _o.Username, _o.Password, CredentialSource.Static, null));
            }
            else
            {
                targets.Add(new TurnTarget(url, null, null, CredentialSource.None, null));
            }
        }
        return [.. targets.DistinctBy(t => (t.Url.ToString(), t.Username))];
    }

    private List<IceUrl> StunTargets(IceAnswer? ice, List<TurnTarget> turn)
    {
        var list = new List<IceUrl>(_o.Stun);
        list.AddRange(ice?.Servers.Where(s => s.Url.Scheme is "stun" or "stuns").Select(s => s.Url) ?? []);
        list.AddRange(ice?.StunProbes ?? []);
        // TURN servers answer unauthenticated Binding on their UDP port too: check those when nothing else names them.
        list.AddRange(turn.Where(t => t.Url.Scheme == "turn" && t.Url.Transport == "udp").Select(t => new IceUrl("stun", t.Url.Host, t.Url.Port, "udp")));
        return [.. list.DistinctBy(u => (u.Scheme, u.Host.ToLowerInvariant(), u.Port))];
    }

    private async Task<List<StunResult>> CheckStunAsync(List<IceUrl> targets, CancellationToken cancellationToken)
    {
        var results = new List<StunResult>();
        if (targets.Count == 0)
        {
            Start("stun:none", "STUN");
            Add(new DoctorCheck("stun:none", "stun", "STUN", CheckStatus.Fail, "There is no STUN server to test: /api/ice lists none and none was given.",
                "Give one with --stun host:port, or enable the embedded STUN/TURN server (GhostChat:Turn)."));
            return results;
        }
        foreach (var url in targets)
        {
            string id = $"stun:{url.HostForDisplay}:{url.Port}", title = $"STUN {url.HostForDisplay}:{url.Port}";
            Start(id, title);
            var details = new Dictionary<string, string> { ["url"] = url.ToString() };
            if (url.Scheme == "stuns")
            {
                Add(new DoctorCheck(id, "stun", title, CheckStatus.Skip, "stuns: (STUN over TLS) is not checked; browsers hardly use it.", null, null, details));
                results.Add(new StunResult(url, null, null));
                continue;
            }
            IPEndPoint ep;
            try
            {
                ep = await ResolveAsync(url, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                Add(new DoctorCheck(id, "stun", title, CheckStatus.Fail, $"The name '{url.Host}' does not resolve from here.", "Check the host name and its DNS record.", null, details));
                results.Add(new StunResult(url, null, null));
                continue;
            }
            details["address"] = ep.ToString();
            using var probe = StunProbe.Open(ep.AddressFamily);
            var sw = Stopwatch.StartNew();
            try
            {
                var answer = await probe.TryBindingAsync(ep, timeout: _o.Timeout, cancellationToken: cancellationToken).ConfigureAwait(false);
                double ms = sw.Elapsed.TotalMilliseconds;
                if (answer is null)
                {
                    Add(probe.NonStunAnswers > 0
                        ? new DoctorCheck(id, "stun", title, CheckStatus.Fail, $"UDP {url.Port} on {url.Host} answered, but not with STUN: another service is on that port.",
                            "Point the STUN URL at the STUN/TURN server's port (3478 by default).", null, details)
                        : new DoctorCheck(id, "stun", title, CheckStatus.Fail, $"No STUN answer from {url.Host} on UDP {url.Port} within {Ms(_o.Timeout.TotalMilliseconds)}: UDP {url.Port} is blocked from here, or the server is down.",
                            "Clients will need TURN over TCP or TLS (port 443 passes most firewalls).", null, details));
                    results.Add(new StunResult(url, ep, null));
                    continue;
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
                Add(new DoctorCheck(id, "stun", title, CheckStatus.Ok, $"Your address as the server sees it: {answer.Mapped} ({Ms(ms)}).", null, ms, details));
                results.Add(new StunResult(url, ep, answer));
            }
            catch (TurnException ex)
            {
                details["error"] = ex.Message;
                Add(new DoctorCheck(id, "stun", title, CheckStatus.Fail,
                    ex.Code != 0 ? $"The server answered Binding with error {ex.Code}." : $"{url.Host}:{url.Port} sent a malformed STUN answer ({ex.Message}).",
                    "Is a STUN server (and not another service) listening on that port?", null, details));
                results.Add(new StunResult(url, ep, null));
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or InvalidOperationException or ArgumentException)
            {
                // Not expected from a UDP exchange; reported as a verdict rather than ending the run.
                details["error"] = ex.GetType().Name + ": " + ex.Message;
                Add(new DoctorCheck(id, "stun", title, CheckStatus.Fail, $"The STUN exchange with {url.Host}:{url.Port} failed: {ex.Message}", null, null, details));
                results.Add(new StunResult(url, ep, null));
            }
        }
        return results;
    }

    // ───────────────────────────── NAT (RFC 5780) ─────────────────────────────

    private async Task<NatBehaviour?> CheckNatAsync(List<StunResult> stun, IceAnswer? ice, CancellationToken cancellationToken)
    {
        const string mapId = "nat:mapping", mapTitle = "NAT mapping", filterId = "nat:filtering", filterTitle = "NAT filtering";
        Start(mapId, mapTitle);
        IPEndPoint? primary = null;
        IPAddress? alternateAddress = null;
        int alternatePort = -1;
        var offered = stun.FirstOrDefault(r => r.Answer?.OtherAddress is not null);
        if (offered is { EndPoint: { } ep, Answer: { OtherAddress: { } other } answer })
        {
            primary = ep;
            alternatePort = other.Port;
            var origin = answer.ResponseOrigin?.Address ?? ep.Address;
            // A second address is usable only when the server's own view of its address is the one we reached (not behind NAT).
            if (!other.Address.Equals(origin) && !other.Address.Equals(IPAddress.Any) && !other.Address.Equals(IPAddress.IPv6Any) && origin.Equals(ep.Address))
            {
                alternateAddress = other.Address;
            }
        }
        else if (ice is not null && ice.StunProbes.Count >= 2)
        {
            var answered = stun.Where(r => r.Answer is not null && r.EndPoint is not null && ice.StunProbes.Any(p => p.Host == r.Url.Host && p.Port == r.Url.Port)).ToList();
            var pair = answered.SelectMany(a => answered.Where(b => b.EndPoint!.Address.Equals(a.EndPoint!.Address) && b.EndPoint.Port != a.EndPoint.Port).Select(b => (a, b))).FirstOrDefault();
            if (pair.a is not null)
            {
                primary = pair.a.EndPoint;
                alternatePort = pair.b.EndPoint!.Port;
            }
        }
        if (!stun.Any(r => r.Answer is not null))
        {
            Add(new DoctorCheck(mapId, "nat", mapTitle, CheckStatus.Skip, "Not measured: no STUN server answered."));
            Start(filterId, filterTitle);
            Add(new DoctorCheck(filterId, "nat", filterTitle, CheckStatus.Skip, "Not measured: no STUN server answered."));
            return null;
        }
        if (primary is null)
        {
            const string why = "The STUN server offers no second port (RFC 5780 OTHER-ADDRESS), so the NAT's behaviour cannot be measured.";
            const string advice = "GhostChat: set GhostChat:Turn:AlternatePort (operator guide, \"The STUN second port\"); coturn: give it two IP addresses.";
            Add(new DoctorCheck(mapId, "nat", mapTitle, CheckStatus.Skip, why, advice));
            Start(filterId, filterTitle);
            Add(new DoctorCheck(filterId, "nat", filterTitle, CheckStatus.Skip, why));
            return null;
        }

        try
        {
            bool hasAlternateAddress = alternateAddress is not null;
            IPEndPoint? m1, m2 = null, m3 = null, mp = null;
            int localPort;
            using (var probe = StunProbe.Open(primary.AddressFamily))
            {
                localPort = probe.LocalEndPoint.Port;
                m1 = (await probe.TryBindingAsync(primary, timeout: _o.Timeout, cancellationToken: cancellationToken).ConfigureAwait(false))?.Mapped;
                if (m1 is not null && hasAlternateAddress)
                {
                    m2 = (await probe.TryBindingAsync(new IPEndPoint(alternateAddress!, primary.Port), timeout: _o.Timeout, cancellationToken: cancellationToken).ConfigureAwait(false))?.Mapped;
                    m3 = (await probe.TryBindingAsync(new IPEndPoint(alternateAddress!, alternatePort), timeout: _o.Timeout, cancellationToken: cancellationToken).ConfigureAwait(false))?.Mapped;
                }
                else if (m1 is not null)
                {
                    mp = (await probe.TryBindingAsync(new IPEndPoint(primary.Address, alternatePort), timeout: _o.Timeout, cancellationToken: cancellationToken).ConfigureAwait(false))?.Mapped;
                }
            }

            // Filtering: a fresh socket that has only ever sent to the primary, so any answer from elsewhere passed the NAT's filter.
            bool changeRefused = false;
            bool? answeredBoth = null, answeredPort = null;
            if (m1 is not null)
            {
                using var probe = StunProbe.Open(primary.AddressFamily);
                if (await probe.TryBindingAsync(primary, timeout: _o.Timeout, cancellationToken: cancellationToken).ConfigureAwait(false) is not null)
                {
                    try
                    {
                        if (hasAlternateAddress)
                        {
                            var r = await probe.TryBindingAsync(primary, changeIp: true, changePort: true, timeout: FilteringWait, cancellationToken: cancellationToken).ConfigureAwait(false);
                            changeRefused |= r is not null && r.From.Equals(primary);
                            answeredBoth = r is not null && !r.From.Equals(primary);
                        }
                        if (answeredBoth != true)
                        {
                            var r = await probe.TryBindingAsync(primary, changePort: true, timeout: FilteringWait, cancellationToken: cancellationToken).ConfigureAwait(false);
                            changeRefused |= r is not null && r.From.Equals(primary);
                            answeredPort = r is not null && !r.From.Equals(primary);
                        }
                    }
                    catch (TurnException)
                    {
                        changeRefused = true;
                    }
                }
            }

            return ReportNat(primary, alternateAddress, alternatePort, hasAlternateAddress, localPort, m1, m2, m3, mp, changeRefused, answeredBoth, answeredPort);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or InvalidOperationException or ArgumentException)
        {
            Add(new DoctorCheck(mapId, "nat", mapTitle, CheckStatus.Skip, "Could not be measured: " + ex.Message));
            Start(filterId, filterTitle);
            Add(new DoctorCheck(filterId, "nat", filterTitle, CheckStatus.Skip, "Could not be measured: " + ex.Message));
            return null;
        }
    }

    private NatBehaviour ReportNat(IPEndPoint primary, IPAddress? alternateAddress, int alternatePort, bool hasAlternateAddress, int localPort,
        IPEndPoint? m1, IPEndPoint? m2, IPEndPoint? m3, IPEndPoint? mp, bool changeRefused, bool? answeredBoth, bool? answeredPort)
    {
        const string mapId = "nat:mapping", mapTitle = "NAT mapping", filterId = "nat:filtering", filterTitle = "NAT filtering";
        var observations = new NatObservations(LocalAddresses(), localPort, m1, hasAlternateAddress, m2, m3, mp, changeRefused, answeredBoth, answeredPort);
        var nat = NatClassifier.Classify(observations);
        var details = new Dictionary<string, string>
        {
            ["server"] = primary.ToString(),
            ["alternate"] = new IPEndPoint(alternateAddress ?? primary.Address, alternatePort).ToString(),
        };
        void Put(string key, IPEndPoint? value)
        {
            if (value is not null)
            {
                details[key] = value.ToString();
            }
        }
        Put("mappedPrimary", m1);
        Put("mappedAlternateAddress", m2);
        Put("mappedAlternateBoth", m3);
        Put("mappedAlternatePort", mp);
        Add(new DoctorCheck(mapId, "nat", mapTitle, nat.Mapping switch
        {
            NatMapping.NoNat or NatMapping.EndpointIndependent => CheckStatus.Ok,
            _ => CheckStatus.Warn,
        }, nat.MappingVerdict, nat.Mapping is NatMapping.AddressDependent or NatMapping.AddressAndPortDependent ? nat.Advice : null, null, details));
        Start(filterId, filterTitle);
        var filterDetails = new Dictionary<string, string>();
        if (answeredBoth is { } b)
        {
            filterDetails["answerFromOtherAddressAndPort"] = b ? "yes" : "no";
        }
        if (answeredPort is { } p)
        {
            filterDetails["answerFromOtherPort"] = p ? "yes" : "no";
        }
        if (changeRefused)
        {
            filterDetails["changeRequest"] = "refused";
        }
        Add(new DoctorCheck(filterId, "nat", filterTitle, nat.Filtering == NatFiltering.Unknown ? CheckStatus.Skip : CheckStatus.Ok, nat.FilteringVerdict,
            nat.Mapping is NatMapping.AddressDependent or NatMapping.AddressAndPortDependent ? null : nat.Advice, null, filterDetails));
        return nat;
    }

    private static List<IPAddress> LocalAddresses()
    {
        try
        {
            return [.. NetworkInterface.GetAllNetworkInterfaces().SelectMany(i => i.GetIPProperties().UnicastAddresses).Select(u => u.Address)];
        }
        catch (NetworkInformationException)
        {
            return [];
        }
    }

    // ───────────────────────────── TURN ─────────────────────────────

    private async Task<bool> CheckTurnAsync(TurnTarget target, CancellationToken cancellationToken)
    {
        var url = target.Url;
        string transport = url.ClientTransport;
        string id = $"turn:{transport}:{url.HostForDisplay}:{url.Port}", title = $"TURN {transport.ToUpperInvariant()} {url.HostForDisplay}:{url.Port}";
        Start(id, title);
        var details = new Dictionary<string, string> { ["url"] = url.ToString(), ["credentials"] = target.Source.ToString() };
        if (target.Provider is not null)
        {
            details["provider"] = target.Provider;
        }
        if (target.Username is null || target.Password is null)
        {
            var (v, a) = TurnVerdicts.Explain(new TurnException(401, "no credentials"), TurnStep.Allocate, transport, url.Host, url.Port, CredentialSource.None, false);
            Add(new DoctorCheck(id, "turn", title, CheckStatus.Fail, "No credentials to try: " + v, a, null, details));
            return false;
        }
        var step = TurnStep.Resolve;
        string? certificateProblem = null;
        TurnClient? client = null;
        using var cts = Linked(cancellationToken);
        try
        {
            var ep = await ResolveAsync(url, cts.Token).ConfigureAwait(false);
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
                return _o.Insecure;
            };
            client = await TurnClient.ConnectAsync(kind, ep, url.Host, validate, cts.Token).ConfigureAwait(false);
            client.InitialRto = TimeSpan.FromMilliseconds(250);
            client.MaxTries = 16;
            step = TurnStep.Allocate;
            var sw = Stopwatch.StartNew();
            var allocation = await client.AllocateAsync(target.Username, target.Password, TimeSpan.FromMinutes(2), cts.Token).ConfigureAwait(false);
            double allocateMs = sw.Elapsed.TotalMilliseconds;
            details["relayed"] = allocation.Relayed.ToString();
            details["mapped"] = allocation.Mapped.ToString();
            details["allocateMs"] = allocateMs.ToString("0.0", CultureInfo.InvariantCulture);

            step = TurnStep.Permission;
            await client.CreatePermissionAsync(new IPEndPoint(allocation.Mapped.Address, 0), cts.Token).ConfigureAwait(false);
            step = TurnStep.Relay;
            sw.Restart();
            await RelayRoundTripAsync(client, allocation, cts.Token).ConfigureAwait(false);
            double relayMs = sw.Elapsed.TotalMilliseconds;
            details["relayMs"] = relayMs.ToString("0.0", CultureInfo.InvariantCulture);
            string verdict = $"Allocate and a relayed round trip (Send/Data and ChannelData) work over {transport.ToUpperInvariant()}: relayed address {allocation.Relayed}, allocate {Ms(allocateMs)}.";
            if (certificateProblem is not null)
            {
                details["certificate"] = certificateProblem;
                Add(new DoctorCheck(id, "turn", title, CheckStatus.Warn, verdict + $" But the TLS certificate is not trusted here ({certificateProblem}).",
                    "Browsers refuse turns: servers with an untrusted certificate: install one valid for " + url.Host + ".", allocateMs, details));
            }
            else
            {
                Add(new DoctorCheck(id, "turn", title, CheckStatus.Ok, verdict, null, allocateMs, details));
            }
            return true;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is SocketException or TurnException or OperationCanceledException or TimeoutException or IOException or System.Security.Authentication.AuthenticationException)
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
            Add(new DoctorCheck(id, "turn", title, allocated ? CheckStatus.Warn : CheckStatus.Fail, verdict, advice, null, details));
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

    /// <summary>
    /// A UDP socket here stands in for a peer: it sends to the relayed address (the server relays it as a Data
    /// indication, which also tells us the peer's address as the relay sees it), the client answers with a Send
    /// indication, then both directions again over a bound channel (ChannelData).
    /// </summary>
    private static async Task RelayRoundTripAsync(TurnClient client, TurnAllocation allocation, CancellationToken cancellationToken)
    {
        using var peer = new Socket(allocation.Relayed.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        peer.Bind(new IPEndPoint(allocation.Relayed.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0));
        var nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));

        var ping = Encoding.ASCII.GetBytes("ghostchat-doctor-ping-" + nonce);
        var fromPeer = await RepeatUntilAsync(
            () => peer.SendToAsync(ping, SocketFlags.None, allocation.Relayed, cancellationToken).AsTask(),
            async ct =>
            {
                var d = await client.ReceiveAsync(ct).ConfigureAwait(false);
                return d.Data.AsSpan().SequenceEqual(ping) ? d.Peer : null;
            }, cancellationToken).ConfigureAwait(false);

        var pong = Encoding.ASCII.GetBytes("ghostchat-doctor-pong-" + nonce);
        await RepeatUntilAsync(
            () =>
            {
                client.Send(fromPeer, pong);
                return Task.CompletedTask;
            },
            ct => ReceiveMatchingAsync(peer, pong, ct), cancellationToken).ConfigureAwait(false);

        const ushort channel = 0x4000;
        await client.ChannelBindAsync(channel, fromPeer, cancellationToken).ConfigureAwait(false);
        var viaChannel = Encoding.ASCII.GetBytes("ghostchat-doctor-channel-" + nonce);
        await RepeatUntilAsync(
            () =>
            {
                client.SendChannel(channel, viaChannel);
                return Task.CompletedTask;
            },
            ct => ReceiveMatchingAsync(peer, viaChannel, ct), cancellationToken).ConfigureAwait(false);
        var back = Encoding.ASCII.GetBytes("ghostchat-doctor-back-" + nonce);
        await RepeatUntilAsync(
            () => peer.SendToAsync(back, SocketFlags.None, allocation.Relayed, cancellationToken).AsTask(),
            async ct =>
            {
                var d = await client.ReceiveAsync(ct).ConfigureAwait(false);
                return d.ViaChannel && d.Data.AsSpan().SequenceEqual(back) ? "ok" : null;
            }, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<string?> ReceiveMatchingAsync(Socket peer, byte[] expected, CancellationToken cancellationToken)
    {
        var buffer = new byte[2048];
        var r = await peer.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(peer.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0), cancellationToken).ConfigureAwait(false);
        return buffer.AsSpan(0, r.ReceivedBytes).SequenceEqual(expected) ? "ok" : null;
    }

    /// <summary>Sends, then waits a little for the matching answer; sends again (UDP loses packets) until <paramref name="cancellationToken"/> ends it.</summary>
    private static async Task<T> RepeatUntilAsync<T>(Func<Task> send, Func<CancellationToken, Task<T?>> receive, CancellationToken cancellationToken)
        where T : class
    {
        var wait = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await send().ConfigureAwait(false);
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt.CancelAfter(wait);
            try
            {
                while (true)
                {
                    if (await receive(attempt.Token).ConfigureAwait(false) is { } result)
                    {
                        return result;
                    }
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                wait = TimeSpan.FromMilliseconds(Math.Min(wait.TotalMilliseconds * 2, 1000));
            }
            catch (SocketException) when (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
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

    // ───────────────────────────── helpers ─────────────────────────────

    private static async Task<IPEndPoint> ResolveAsync(IceUrl url, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(url.Host, out var literal))
        {
            return new IPEndPoint(literal, url.Port);
        }
        var addresses = await Dns.GetHostAddressesAsync(url.Host, cancellationToken).ConfigureAwait(false);
        var address = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
            ?? throw new SocketException((int)SocketError.HostNotFound);
        return new IPEndPoint(address, url.Port);
    }

    private string Summarise(DoctorEssentials e, List<StunResult> stun, NatBehaviour? nat)
    {
        var problems = new List<string>();
        var working = new List<string>();
        if (e.Signaling == false)
        {
            problems.Add("signaling is unreachable");
        }
        else if (e.Signaling == true)
        {
            working.Add("signaling");
        }
        if (!e.Stun)
        {
            problems.Add(stun.Count == 0 ? "there is no STUN server to test" : "no STUN server answered");
        }
        else
        {
            working.Add("STUN (public address " + stun.First(s => s.Answer is not null).Answer!.Mapped + ")");
        }
        var turnChecks = _checks.Where(c => c.Group == "turn").ToList();
        var turnOk = turnChecks.Where(c => c.Status is CheckStatus.Ok or CheckStatus.Warn).Select(c => c.Id.Split(':')[1].ToUpperInvariant()).Distinct().ToList();
        var turnBad = turnChecks.Where(c => c.Status == CheckStatus.Fail).Select(c => c.Id.Split(':')[1].ToUpperInvariant()).Distinct().Except(turnOk).ToList();
        if (e.Turn == false)
        {
            problems.Add("no TURN server could allocate a relay");
        }
        else if (e.Turn == true)
        {
            working.Add("TURN over " + string.Join(", ", turnOk));
            if (turnBad.Count > 0)
            {
                problems.Add("TURN over " + string.Join(", ", turnBad) + " failed");
            }
        }
        var text = new StringBuilder();
        text.Append(problems.Count == 0 ? "Everything essential works: " + string.Join("; ", working) + "." : "Problems: " + string.Join("; ", problems) + ".");
        if (problems.Count > 0 && working.Count > 0)
        {
            text.Append(" Working: ").Append(string.Join("; ", working)).Append('.');
        }
        if (nat is not null && nat.Mapping != NatMapping.Unknown)
        {
            text.Append(" NAT: ").Append(NatText.Id(nat.Mapping)).Append(" mapping");
            if (nat.Filtering != NatFiltering.Unknown)
            {
                text.Append(", ").Append(NatText.Id(nat.Filtering)).Append(" filtering");
            }
            text.Append('.');
        }
        return text.ToString();
    }

    /// <summary>--insecure: certificates this machine does not trust are let through (the TURN check still reports them).</summary>
    private bool AcceptWhenInsecure(object sender, System.Security.Cryptography.X509Certificates.X509Certificate? certificate, System.Security.Cryptography.X509Certificates.X509Chain? chain, SslPolicyErrors errors) =>
        errors == SslPolicyErrors.None || _o.Insecure;

    private CancellationTokenSource Linked(CancellationToken cancellationToken)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(_o.Timeout);
        return cts;
    }

    private static T? FindInner<T>(Exception? ex)
        where T : Exception
    {
        while (ex is not null)
        {
            if (ex is T t)
            {
                return t;
            }
            ex = ex.InnerException;
        }
        return null;
    }

    private static string Snippet(string body)
    {
        var one = body.ReplaceLineEndings(" ").Trim();
        return one.Length <= 80 ? one : one[..80] + "…";
    }

    private static string Ms(double ms) => ms >= 1000 ? $"{ms / 1000:0.0} s" : $"{ms:0} ms";

    private void Start(string id, string title) => _observer?.Started(id, title);

    private void Add(DoctorCheck check)
    {
        _checks.Add(check);
        _observer?.Completed(check);
    }
}
