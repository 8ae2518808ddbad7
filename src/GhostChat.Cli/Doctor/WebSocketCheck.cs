using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text.Json;

namespace GhostChat.Cli.Doctor;

/// <summary>
/// <c>signaling:websocket</c>: the PeerJS handshake, with the peer id the HTTP check got: the server's first
/// message on <c>/peerjs</c> must be OPEN.
/// </summary>
internal sealed class WebSocketCheck(DoctorContext run)
{
    private const string Id = "signaling:websocket", Title = "Signaling (WebSocket)";

    /// <summary>True when the server answered OPEN; skipped (false) when the HTTP check got no <paramref name="peerId"/>.</summary>
    public async Task<bool> RunAsync(Uri baseUri, string? peerId, CancellationToken cancellationToken)
    {
        run.Start(Id, Title);
        if (peerId is null)
        {
            run.Add(new DoctorCheck(Id, "signaling", Title, CheckStatus.Skip, "Not tried: the HTTP check failed."));
            return false;
        }
        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var key = Uri.EscapeDataString(run.Options.Key);
        var builder = new UriBuilder(baseUri)
        {
            Scheme = baseUri.Scheme == "https" ? "wss" : "ws",
            Path = baseUri.AbsolutePath + "peerjs",
            Query = $"key={key}&id={Uri.EscapeDataString(peerId)}&token={token}&version=ghostchat-doctor",
        };
        var details = new Dictionary<string, string>(StringComparer.Ordinal) { ["url"] = new UriBuilder(builder.Uri) { Query = "" }.Uri.ToString() };
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        if (run.Options.Insecure)
        {
            socket.Options.RemoteCertificateValidationCallback = run.AcceptWhenInsecure;
        }
        var sw = Stopwatch.StartNew();
        try
        {
            using var cts = run.Linked(cancellationToken);
            await socket.ConnectAsync(builder.Uri, cts.Token).ConfigureAwait(false);
            var buffer = new byte[16 * 1024];
            var result = await socket.ReceiveAsync(buffer, cts.Token).ConfigureAwait(false);
            double ms = sw.Elapsed.TotalMilliseconds;
            if (result.MessageType == WebSocketMessageType.Close)
            {
                run.Add(new DoctorCheck(Id, "signaling", Title, CheckStatus.Fail,
                    $"The server closed the WebSocket without OPEN ({socket.CloseStatus} {socket.CloseStatusDescription}).",
                    "Look at the server's log; a limit (sockets per address, allowed origins) may refuse this client.", ms, details));
                return false;
            }
            var (type, message) = ReadFirstFrame(buffer.AsMemory(0, result.Count));
            details["firstFrame"] = type.Length > 0 ? type : "(not PeerJS JSON)";
            await CloseQuietlyAsync(socket).ConfigureAwait(false);
            if (type == "OPEN")
            {
                run.Add(new DoctorCheck(Id, "signaling", Title, CheckStatus.Ok, $"PeerJS handshake works: OPEN after {DoctorText.Ms(ms)}.",
                    null, ms, details));
                return true;
            }
            run.Add(new DoctorCheck(Id, "signaling", Title, CheckStatus.Fail,
                type == "ERROR"
                    ? $"The server refused the PeerJS handshake: {message}"
                    : $"The first WebSocket message was {(type.Length > 0 ? type : "not PeerJS JSON")}, not OPEN.",
                "Check --key and the server's signaling limits.", ms, details));
            return false;
        }
        catch (Exception ex)
            when (ex is WebSocketException or OperationCanceledException or HttpRequestException
                && !cancellationToken.IsCancellationRequested)
        {
            run.Add(Failed(ex, (int)socket.HttpStatusCode, details));
            return false;
        }
    }

    private DoctorCheck Failed(Exception ex, int status, Dictionary<string, string> details)
    {
        if (status != 0)
        {
            details["status"] = status.ToString(CultureInfo.InvariantCulture);
        }
        details["error"] = ex.Message;
        string verdict = ex is OperationCanceledException
            ? $"No PeerJS OPEN within {DoctorText.Ms(run.Options.Timeout.TotalMilliseconds)}."
            : status != 0 ? $"The WebSocket upgrade was refused (HTTP {status})." : $"The WebSocket connection failed: {ex.Message}";
        string advice = status is 400 or 426 or 404 or 405 || (status == 200 && ex is WebSocketException)
            ? "A reverse proxy in front of GhostChat does not pass WebSocket upgrades: forward the Upgrade and Connection headers "
                + "(see deploy/proxy/)."
            : status == 403
                ? "The server refused this client (allowed origins or per-address limits)."
                : "HTTP works but WebSockets do not: check proxies and firewalls between here and the server.";
        return new DoctorCheck(Id, "signaling", Title, CheckStatus.Fail, verdict, advice, null, details);
    }

    /// <summary>The PeerJS message type of the first frame and its <c>payload.msg</c>; empty strings when it is not PeerJS JSON.</summary>
    private static (string Type, string Message) ReadFirstFrame(ReadOnlyMemory<byte> frame)
    {
        string type = "", message = "";
        try
        {
            using var doc = JsonDocument.Parse(frame);
            var root = doc.RootElement;
            type = root.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
            if (root.TryGetProperty("payload", out var p) && p.ValueKind == JsonValueKind.Object
                && p.TryGetProperty("msg", out var msg) && msg.ValueKind == JsonValueKind.String)
            {
                message = msg.GetString()!;
            }
        }
        catch (JsonException)
        {
        }
        return (type, message);
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
}
