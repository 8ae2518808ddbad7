using System.Globalization;

namespace GhostChat.Server.Ice;

/// <summary>A parsed <c>stun:</c>/<c>stuns:</c>/<c>turn:</c>/<c>turns:</c> URL (RFC 7064, RFC 7065).</summary>
internal sealed record IceUrl(string Scheme, string Host, int Port, IceTransport Transport)
{
    public bool IsTurn => Scheme is "turn" or "turns";

    /// <summary>A short, stable name for metrics and /readyz: "host:port/udp".</summary>
    public string Key => $"{(Host.Contains(':', StringComparison.Ordinal) ? "[" + Host + "]" : Host)}:{Port.ToString(CultureInfo.InvariantCulture)}/{Transport.ToString().ToLowerInvariant()}";

    public static bool TryParse(string? url, out IceUrl parsed)
    {
        parsed = null!;
        if (string.IsNullOrWhiteSpace(url) || url.Length > 512)
        {
            return false;
        }
        int colon = url.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            return false;
        }
        var scheme = url[..colon].ToLowerInvariant();
        if (scheme is not ("stun" or "stuns" or "turn" or "turns"))
        {
            return false;
        }
        var rest = url[(colon + 1)..];
        string? query = null;
        int q = rest.IndexOf('?', StringComparison.Ordinal);
        if (q >= 0)
        {
            query = rest[(q + 1)..];
            rest = rest[..q];
        }
        if (rest.StartsWith("//", StringComparison.Ordinal) || rest.Length == 0)
        {
            return false;
        }
        string host;
        string? portText = null;
        if (rest.StartsWith('['))
        {
            int end = rest.IndexOf(']', StringComparison.Ordinal);
            if (end < 0)
            {
                return false;
            }
            host = rest[1..end];
            var after = rest[(end + 1)..];
            if (after.Length > 0)
            {
                if (after[0] != ':')
                {
                    return false;
                }
                portText = after[1..];
            }
        }
        else
        {
            int c = rest.LastIndexOf(':');
            host = c < 0 ? rest : rest[..c];
            portText = c < 0 ? null : rest[(c + 1)..];
        }
        if (host.Length == 0 || host.Any(ch => char.IsWhiteSpace(ch) || ch is '/' or '@' or '?' or '#'))
        {
            return false;
        }
        bool secure = scheme is "stuns" or "turns";
        int port = secure ? 5349 : 3478;
        if (portText is not null && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            return false;
        }
        var transport = secure ? IceTransport.Tls : IceTransport.Udp;
        if (query is not null)
        {
            if (!query.StartsWith("transport=", StringComparison.OrdinalIgnoreCase) || !scheme.StartsWith("turn", StringComparison.Ordinal))
            {
                return false;
            }
            var t = query["transport=".Length..].ToLowerInvariant();
            if (t == "tcp")
            {
                transport = secure ? IceTransport.Tls : IceTransport.Tcp;
            }
            else if (t != "udp" || secure)
            {
                return false;
            }
        }
        parsed = new IceUrl(scheme, host, port, transport);
        return true;
    }
}
