using System.Globalization;

namespace GhostChat.Cli.Doctor;

/// <summary>A parsed <c>stun:</c>, <c>stuns:</c>, <c>turn:</c> or <c>turns:</c> URL (RFC 7064, RFC 7065).</summary>
internal sealed record IceUrl(string Scheme, string Host, int Port, string Transport)
{
    /// <summary>True for turn:/turns:.</summary>
    public bool IsTurn => Scheme is "turn" or "turns";

    /// <summary>udp, tcp or tls: what the client speaks to the server.</summary>
    public string ClientTransport => Scheme is "turns" or "stuns" ? "tls" : Transport;

    /// <summary>Host as written in an endpoint: IPv6 literals in brackets.</summary>
    public string HostForDisplay => Host.Contains(':', StringComparison.Ordinal) ? "[" + Host + "]" : Host;

    public override string ToString() => $"{Scheme}:{HostForDisplay}:{Port}" + (IsTurn ? "?transport=" + Transport : "");

    /// <summary>
    /// Parses one URL; <paramref name="error"/> says what is wrong in plain words. Accepts <c>host:port</c> without a
    /// scheme when <paramref name="defaultScheme"/> is given (the <c>--stun</c> option).
    /// </summary>
    public static bool TryParse(string? text, out IceUrl url, out string error, string? defaultScheme = null)
    {
        url = null!;
        error = "";
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "empty URL";
            return false;
        }
        text = text.Trim();
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        string scheme = colon > 0 ? text[..colon].ToLowerInvariant() : "";
        string rest;
        if (scheme is "stun" or "stuns" or "turn" or "turns")
        {
            rest = text[(colon + 1)..];
        }
        else if (defaultScheme is not null)
        {
            scheme = defaultScheme;
            rest = text;
        }
        else
        {
            error = $"'{text}' is not a stun:, stuns:, turn: or turns: URL";
            return false;
        }
        if (rest.StartsWith("//", StringComparison.Ordinal))
        {
            rest = rest[2..];
        }
        string query = "";
        int q = rest.IndexOf('?', StringComparison.Ordinal);
        if (q >= 0)
        {
            query = rest[(q + 1)..];
            rest = rest[..q];
        }
        string host;
        string? portText = null;
        if (rest.StartsWith('['))
        {
            int close = rest.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                error = $"'{text}': unclosed [ in an IPv6 address";
                return false;
            }
            host = rest[1..close];
            var after = rest[(close + 1)..];
            if (after.Length > 0)
            {
                if (after[0] != ':')
                {
                    error = $"'{text}': expected :port after the IPv6 address";
                    return false;
                }
                portText = after[1..];
            }
        }
        else
        {
            int c = rest.LastIndexOf(':');
            if (c >= 0 && rest.IndexOf(':', StringComparison.Ordinal) != c)
            {
                error = $"'{text}': put IPv6 addresses in brackets ([::1]:3478)";
                return false;
            }
            host = c >= 0 ? rest[..c] : rest;
            portText = c >= 0 ? rest[(c + 1)..] : null;
        }
        if (host.Length == 0 || host.Any(ch => char.IsWhiteSpace(ch) || ch is '/' or '@' or '#'))
        {
            error = $"'{text}': missing or invalid host";
            return false;
        }
        int port = scheme is "stuns" or "turns" ? 5349 : 3478;
        if (portText is not null
            && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            error = $"'{text}': port must be 1–65535";
            return false;
        }
        string transport = scheme is "turns" or "stuns" ? "tcp" : "udp";
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            if (kv[0].Equals("transport", StringComparison.OrdinalIgnoreCase))
            {
                var t = kv.Length > 1 ? kv[1].ToLowerInvariant() : "";
                if (t is not ("udp" or "tcp"))
                {
                    error = $"'{text}': transport must be udp or tcp";
                    return false;
                }
                if (scheme is "turns" && t == "udp")
                {
                    error = $"'{text}': turns: runs over TCP (DTLS is not supported by browsers)";
                    return false;
                }
                transport = t;
            }
        }
        url = new IceUrl(scheme, host, port, transport);
        return true;
    }
}
