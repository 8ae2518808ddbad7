using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Signaling;

/// <summary>
/// Ids and tokens: the format we accept, and the ids we hand out. In server-generated-ids-only mode
/// an id is a v4 UUID followed by a truncated HMAC of it, so the server can check any id it made
/// without remembering it (and several nodes sharing <see cref="SignalingOptions.IdSigningKey"/> agree).
/// </summary>
internal sealed partial class PeerIds
{
    public const int MaxIdLength = 64;
    public const int MaxTokenLength = 128;
    private const int MacHexLength = 16;

    private readonly byte[] _signingKey;
    private readonly bool _signed;

    public PeerIds(IOptions<SignalingOptions> options)
    {
        var o = options.Value;
        _signed = o.ServerGeneratedIdsOnly;
        _signingKey = o.IdSigningKey.Length > 0 ? Encoding.UTF8.GetBytes(o.IdSigningKey) : RandomNumberGenerator.GetBytes(32);
    }

    /// <summary>The PeerJS client's own id rule: letters and digits, single ' ', '_' or '-' between them.</summary>
    [GeneratedRegex("^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$", RegexOptions.CultureInvariant)]
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
