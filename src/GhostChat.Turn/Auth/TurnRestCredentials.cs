// HMAC-SHA1 is what the TURN REST API scheme and every client of it use; it is not our choice to make.
#pragma warning disable CA5350
using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using GhostChat.Turn.Stun;

namespace GhostChat.Turn.Auth;

/// <summary>A username and password for TURN, as handed to a browser.</summary>
/// <param name="Username">"expiry:user" for REST credentials.</param>
/// <param name="Password">Base64 HMAC-SHA1 of the username, keyed by the shared secret.</param>
/// <param name="Expires">When the credential stops being accepted for new allocations.</param>
public sealed record TurnCredential(string Username, string Password, DateTimeOffset Expires);

/// <summary>
/// The "TURN REST API" shared-secret scheme that coturn, eturnal and pion use
/// (draft-uberti-behave-turn-rest): username = "&lt;unix expiry seconds&gt;:&lt;user&gt;",
/// password = Base64(HMAC-SHA1(secret, username)).
/// </summary>
public static class TurnRestCredentials
{
    /// <summary>Makes a credential valid for <paramref name="ttl"/> from <paramref name="now"/>.</summary>
    public static TurnCredential Create(string secret, string user, TimeSpan ttl, DateTimeOffset now)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        ArgumentNullException.ThrowIfNull(user);
        var expires = now + ttl;
        var username = expires.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) + ":" + user;
        return new TurnCredential(username, Password(secret, username), DateTimeOffset.FromUnixTimeSeconds(expires.ToUnixTimeSeconds()));
    }

    /// <summary>
    /// A credential that is the same for every request of one client within a window of half of
    /// <paramref name="ttl"/>, so that quotas per TURN user hold however often the client asks: the user part is
    /// a keyed hash (HMAC-SHA256 under <paramref name="secret"/>) of the client's address block — its IPv4 address
    /// or IPv6 /64, which cannot be read back from it — and of the window; the expiry is the end of the next
    /// window. Such a credential stays valid between half of <paramref name="ttl"/> and all of it, and a client has
    /// at most two valid users at any time.
    /// </summary>
    public static TurnCredential CreateForClient(string secret, IPAddress client, TimeSpan ttl, DateTimeOffset now)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        ArgumentNullException.ThrowIfNull(client);
        long window = Math.Max(1, (long)ttl.TotalSeconds / 2);
        long index = now.ToUnixTimeSeconds() / window;
        long expiry = (index + 2) * window;
        var bucket = PeerKey.FromEndPoint(new IPEndPoint(client, 0)).SourceBucket;
        Span<byte> input = stackalloc byte[19 + 16 + 1 + 8];
        "ghostchat-turn-user"u8.CopyTo(input);
        BinaryPrimitives.WriteUInt128BigEndian(input[19..], bucket.Address);
        input[35] = bucket.IsV6 ? (byte)6 : (byte)4;
        BinaryPrimitives.WriteInt64BigEndian(input[36..], index);
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), input, mac);
        var user = Convert.ToBase64String(mac[..15]).Replace('+', '-').Replace('/', '_');
        var username = expiry.ToString(CultureInfo.InvariantCulture) + ":" + user;
        return new TurnCredential(username, Password(secret, username), DateTimeOffset.FromUnixTimeSeconds(expiry));
    }

    /// <summary>Base64(HMAC-SHA1(secret, username)).</summary>
    public static string Password(string secret, string username) =>
        Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(username)));

    /// <summary>
    /// Splits "expiry:user" (digits only before the first ':', or a bare number). Returns false for
    /// anything else.
    /// </summary>
    public static bool TryParseUsername(string username, out long expiryUnixSeconds, out string user)
    {
        expiryUnixSeconds = 0;
        user = "";
        int colon = username.IndexOf(':', StringComparison.Ordinal);
        var number = colon < 0 ? username : username[..colon];
        if (number.Length is 0 or > 12)
        {
            return false;
        }
        foreach (var c in number)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
        }
        expiryUnixSeconds = long.Parse(number, NumberStyles.None, CultureInfo.InvariantCulture);
        user = colon < 0 ? "" : username[(colon + 1)..];
        return true;
    }
}
