using System.Net.Sockets;

namespace GhostChat.Cli.Doctor;

/// <summary>Plain-language verdicts for an HTTP request to the server that got no HTTP answer (signaling and /api/ice).</summary>
internal static class HttpVerdicts
{
    /// <summary>Verdict and advice for <paramref name="ex"/>: an <see cref="HttpRequestException"/> or a timeout.</summary>
    public static (string Verdict, string Advice) Explain(Exception ex, Uri baseUri, TimeSpan timeout)
    {
        string where = $"{baseUri.Host}:{baseUri.Port}";
        if (ex is OperationCanceledException)
        {
            return ($"No answer from {where} within {DoctorText.Ms(timeout.TotalMilliseconds)}.",
                "A firewall may drop the traffic, or the server is overloaded; try a longer --timeout.");
        }
        var http = (HttpRequestException)ex;
        var socket = FindInner<SocketException>(ex);
        return http.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError =>
                ($"The name '{baseUri.Host}' does not resolve from here.", "Check the host name and its DNS record."),
            HttpRequestError.SecureConnectionError =>
                ($"The HTTPS connection to {where} failed: {ex.InnerException?.Message ?? ex.Message}",
                    "The certificate is not trusted here or not valid for this name; browsers will refuse it too "
                    + "(use --insecure to check the rest anyway)."),
            HttpRequestError.ConnectionError when socket?.SocketErrorCode == SocketError.ConnectionRefused =>
                ($"Nothing listens at {where} (connection refused): signaling is unreachable.",
                    "Is GhostChat running, and on this port? `ghostchat serve` prints the URL it listens on."),
            HttpRequestError.ConnectionError
                when socket?.SocketErrorCode is SocketError.TimedOut or SocketError.HostUnreachable or SocketError.NetworkUnreachable =>
                ($"{where} is not reachable from here ({socket.SocketErrorCode}).",
                    "A firewall drops the traffic, or the address is wrong."),
            HttpRequestError.InvalidResponse or HttpRequestError.ResponseEnded =>
                ($"{where} answered, but not with HTTP (or the connection broke): {ex.Message}",
                    "Is this the HTTP port? (https:// vs http://, or another service on the port.)"),
            _ => ($"The request to {where} failed: {ex.Message}", "Check the URL and the network path to the server."),
        };
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
}
