using System.Globalization;

namespace GhostChat.Turn.Client;

/// <summary>How much of a <c>stun:</c>/<c>turn:</c> URL's spelling <see cref="IceUrl.TryParse(string?, IceUrlSyntax, out IceUrl, out string, string?)"/> accepts.</summary>
public enum IceUrlSyntax
{
    /// <summary>
    /// RFC 7064 and RFC 7065 as browsers take them in an <c>RTCIceServer</c>: no <c>//</c> after the scheme, at most
    /// 512 characters, a query only on <c>turn:</c>/<c>turns:</c> and only <c>transport=udp|tcp</c>. For URLs the
    /// server configures or hands out.
    /// </summary>
    Strict,

    /// <summary>
    /// What a person types on a command line: blanks around it, <c>//</c> after the scheme, <c>host:port</c> without a
    /// scheme when a default is given, other query parameters (ignored), <c>transport=</c> on <c>stun:</c> too.
    /// </summary>
    Lenient,
}

/// <summary>
/// A parsed <c>stun:</c>, <c>stuns:</c>, <c>turn:</c> or <c>turns:</c> URL (RFC 7064, RFC 7065): the one parser of the
/// server (configuration, providers' answers, health probes) and of <c>ghostchat doctor</c>.
/// </summary>
/// <param name="Scheme">stun, stuns, turn or turns, lower case.</param>
/// <param name="Host">A name or an address (IPv6 without brackets).</param>
/// <param name="Port">The port; 3478, or 5349 for stuns:/turns:, when the URL names none.</param>
/// <param name="Transport">The URL's transport: udp, or tcp (always tcp for stuns:/turns:).</param>
public sealed record IceUrl(string Scheme, string Host, int Port, string Transport)
{
    private const int MaxStrictLength = 512;

    /// <summary>True for turn:/turns:.</summary>
    public bool IsTurn => Scheme is "turn" or "turns";

    /// <summary>True for stuns:/turns: (TLS over TCP).</summary>
    public bool IsSecure => Scheme is "turns" or "stuns";

    /// <summary>udp, tcp or tls: what the client speaks to the server.</summary>
    public string ClientTransport => IsSecure ? "tls" : Transport;

    /// <summary>What the client speaks to the server, as the TURN client takes it.</summary>
    public TurnTransport Connection => IsSecure ? TurnTransport.Tls : Transport == "tcp" ? TurnTransport.Tcp : TurnTransport.Udp;

    /// <summary>Host as written in an endpoint: IPv6 literals in brackets.</summary>
    public string HostForDisplay => Host.Contains(':', StringComparison.Ordinal) ? "[" + Host + "]" : Host;

    /// <summary>A short, stable name for metrics and /readyz: "host:port/udp" (udp, tcp or tls).</summary>
    public string Key => $"{HostForDisplay}:{Port.ToString(CultureInfo.InvariantCulture)}/{ClientTransport}";

    /// <inheritdoc/>
    public override string ToString() => $"{Scheme}:{HostForDisplay}:{Port}" + (IsTurn ? "?transport=" + Transport : "");

    /// <summary>Parses a URL with <see cref="IceUrlSyntax.Strict"/>.</summary>
    public static bool TryParse(string? text, out IceUrl url) => TryParse(text, IceUrlSyntax.Strict, out url, out _);

    /// <summary>
    /// Parses one URL; <paramref name="error"/> says what is wrong in plain words. With <see cref="IceUrlSyntax.Lenient"/>,
    /// accepts <c>host:port</c> without a scheme when <paramref name="defaultScheme"/> is given (the <c>--stun</c> option).
    /// </summary>
    public static bool TryParse(string? text, IceUrlSyntax syntax, out IceUrl url, out string error, string? defaultScheme = null)
    {
        url = null!;
        error = "";
        bool strict = syntax == IceUrlSyntax.Strict;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "empty URL";
            return false;
        }
        if (strict && text.Length > MaxStrictLength)
        {
            error = $"longer than {MaxStrictLength} characters";
            return false;
        }
        if (!strict)
        {
            text = text.Trim();
        }
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        string scheme = colon > 0 ? text[..colon].ToLowerInvariant() : "";
        string rest;
        if (scheme is "stun" or "stuns" or "turn" or "turns")
        {
            rest = text[(colon + 1)..];
        }
        else if (!strict && defaultScheme is not null)
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
            if (strict)
            {
                error = $"'{text}': no // after the scheme (RFC 7064)";
                return false;
            }
            rest = rest[2..];
        }
        string? query = null;
        int q = rest.IndexOf('?', StringComparison.Ordinal);
        if (q >= 0)
        {
            query = rest[(q + 1)..];
            rest = rest[..q];
        }
        if (!TryParseHostPort(text, rest, scheme, out var host, out int port, out error))
        {
            return false;
        }
        string transport = scheme is "turns" or "stuns" ? "tcp" : "udp";
        if (query is not null && !(strict ? TryStrictQuery(text, query, scheme, ref transport, out error) : TryLenientQuery(text, query, scheme, ref transport, out error)))
        {
            return false;
        }
        url = new IceUrl(scheme, host, port, transport);
        return true;
    }

    private static bool TryParseHostPort(string text, string rest, string scheme, out string host, out int port, out string error)
    {
        error = "";
        port = scheme is "stuns" or "turns" ? 5349 : 3478;
        string? portText = null;
        if (rest.StartsWith('['))
        {
            int close = rest.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                host = "";
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
                host = "";
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
        if (portText is not null
            && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            error = $"'{text}': port must be 1–65535";
            return false;
        }
        return true;
    }

    /// <summary>RFC 7065: only turn:/turns: take a query, and it is exactly <c>transport=udp</c> or <c>transport=tcp</c>.</summary>
    private static bool TryStrictQuery(string text, string query, string scheme, ref string transport, out string error)
    {
        error = "";
        if (!query.StartsWith("transport=", StringComparison.OrdinalIgnoreCase) || !scheme.StartsWith("turn", StringComparison.Ordinal))
        {
            error = $"'{text}': only turn: and turns: take a query, and only transport=udp or transport=tcp";
            return false;
        }
        return TryTransport(text, query["transport=".Length..], scheme, ref transport, out error);
    }

    /// <summary>Any parameters; <c>transport</c> is the one read.</summary>
    private static bool TryLenientQuery(string text, string query, string scheme, ref string transport, out string error)
    {
        error = "";
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            if (kv[0].Equals("transport", StringComparison.OrdinalIgnoreCase) && !TryTransport(text, kv.Length > 1 ? kv[1] : "", scheme, ref transport, out error))
            {
                return false;
            }
        }
        return true;
    }

    private static bool TryTransport(string text, string value, string scheme, ref string transport, out string error)
    {
        error = "";
        var t = value.ToLowerInvariant();
        if (t is not ("udp" or "tcp"))
        {
            error = $"'{text}': transport must be udp or tcp";
            return false;
        }
        if (scheme == "turns" && t == "udp")
        {
            error = $"'{text}': turns: runs over TCP (DTLS is not supported by browsers)";
            return false;
        }
        transport = t;
        return true;
    }
}
