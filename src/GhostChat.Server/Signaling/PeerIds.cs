using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Signaling;

/// <summary>
/// Ids and tokens: the format we accept, and the ids we hand out. In server-generated-ids-only mode
/// an id is a v4 UUID followed by a truncated HMAC of it, so the server can check any id it made
/// without remembering it (and several nodes sharing <see cref="SignalingOptions.IdSigningKey"/> agree).
/// Ids beginning with <see cref="TokenBoundPrefix"/> are token-bound (self-certifying): the rest is
/// the first 16 bytes of SHA-256 of the token in lowercase hex, so only the token's holder can ever
/// register such an id, on every node, with nothing remembered (docs/protocol.md, "Peer ids").
/// </summary>
internal sealed partial class PeerIds
{
    public const int MaxIdLength = 64;
    public const int MaxTokenLength = 128;
    private const int MacHexLength = 16;

    /// <summary>Marks a token-bound id; other ids behave as in the reference server.</summary>
    public const string TokenBoundPrefix = "gc1-";
    private const int TokenBoundHexLength = 32; // 128 bits of SHA-256(token)
    private static readonly SearchValues<char> LowerHex = SearchValues.Create("0123456789abcdef");

    private readonly byte[] _signingKey;
    private readonly bool _signed;

    public PeerIds(IOptions<SignalingOptions> options)
    {
        var o = options.Value;
        _signed = o.ServerGeneratedIdsOnly;
        _signingKey = o.IdSigningKey.Length > 0 ? Encoding.UTF8.GetBytes(o.IdSigningKey) : RandomNumberGenerator.GetBytes(32);
    }

    /// <summary>The PeerJS client's own id rule: letters and digits, single ' ', '_' or '-' between them.</summary>
    [GeneratedRegex("^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex IdPattern();

    public static bool IsValidId(string id) => id.Length is > 0 and <= MaxIdLength && IdPattern().IsMatch(id);

    /// <summary>Tokens: 1-128 printable ASCII characters (the client makes ~11 base-36 characters).</summary>
    public static bool IsValidToken(string token)
    {
        if (token.Length is 0 or > MaxTokenLength)
        {
            return false;
        }
        foreach (var c in token)
        {
            if (c is < ' ' or > '~')
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Whether <paramref name="id"/> claims to be token-bound (it may still be malformed).</summary>
    public static bool IsTokenBound(string id) => id.StartsWith(TokenBoundPrefix, StringComparison.Ordinal);

    /// <summary>A token-bound id's shape: the prefix and exactly 32 lowercase hex digits.</summary>
    public static bool IsWellFormedTokenBound(string id)
        => id.Length == TokenBoundPrefix.Length + TokenBoundHexLength && IsTokenBound(id)
            && id.AsSpan(TokenBoundPrefix.Length).IndexOfAnyExcept(LowerHex) < 0;

    /// <summary>The token-bound id of <paramref name="token"/>: the prefix and SHA-256(UTF-8 token)[0..16] in lowercase hex.</summary>
    public static string TokenBoundId(string token)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(token), hash);
        return TokenBoundPrefix + Convert.ToHexStringLower(hash[..(TokenBoundHexLength / 2)]);
    }

    /// <summary>Whether the token-bound <paramref name="id"/> was made from <paramref name="token"/>.</summary>
    public static bool IsBoundTo(string id, string token)
        => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(TokenBoundId(token)), Encoding.ASCII.GetBytes(id));

    /// <summary>A fresh id (not checked against registered ids; the caller does that).</summary>
    public string NewId()
    {
        var uuid = Guid.NewGuid().ToString();
        return _signed ? uuid + "-" + Mac(uuid) : uuid;
    }

    /// <summary>Whether this server (or a node with the same key) handed out <paramref name="id"/>.</summary>
    public bool WasIssuedHere(string id)
    {
        if (id.Length != 36 + 1 + MacHexLength || id[36] != '-')
        {
            return false;
        }
        var expected = Encoding.ASCII.GetBytes(Mac(id[..36]));
        var actual = Encoding.ASCII.GetBytes(id[37..]);
        return CryptographicOperations.FixedTimeEquals(expected, actual);
    }

    private string Mac(string uuid)
    {
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_signingKey, Encoding.ASCII.GetBytes(uuid), mac);
        return Convert.ToHexStringLower(mac[..(MacHexLength / 2)]);
    }
}
