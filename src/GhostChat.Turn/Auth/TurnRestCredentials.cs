// HMAC-SHA1 is what the TURN REST API scheme and every client of it use; it is not our choice to make.
#pragma warning disable CA5350
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

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
