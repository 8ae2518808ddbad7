namespace GhostChat.Server.Ice;

/// <summary>One provider of ICE servers. Section <c>GhostChat:Ice:Providers:NAME</c>.</summary>
public sealed class IceProviderOptions
{
    /// <summary><c>embedded</c>, <c>rest-secret</c>, <c>static</c>, <c>twilio</c>, <c>cloudflare</c> or <c>metered</c>. Required.</summary>
    public string? Type { get; set; }

    /// <summary>Lower is preferred among providers in the same health state. Default 100.</summary>
    public int Priority { get; set; } = 100;

    /// <summary>False keeps the provider configured but unused. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>rest-secret, static: the servers' URLs. embedded: optional override of the derived URLs.</summary>
    public List<string> Urls { get; init; } = [];

    /// <summary>rest-secret: shared secrets (at least 16 characters); the first signs new credentials.</summary>
    public List<string> Secrets { get; init; } = [];

    /// <summary>rest-secret: the servers' realm (informational; coturn's REST scheme does not need it).</summary>
    public string? Realm { get; set; }

    /// <summary>
    /// embedded, rest-secret: lifetime of the credentials handed out (at most 24 h). twilio, cloudflare, metered:
    /// the TTL asked for (twilio ≤ 24 h, cloudflare ≤ 48 h) and how long fetched credentials are cached. Default 12 h.
    /// </summary>
    public TimeSpan CredentialLifetime { get; set; } = TimeSpan.FromHours(12);

    /// <summary>static: TURN username.</summary>
    public string? Username { get; set; }

    /// <summary>static: TURN credential.</summary>
    public string? Credential { get; set; }

    /// <summary>twilio: Account SID (ACxxx).</summary>
    public string? AccountSid { get; set; }

    /// <summary>twilio: Auth Token, or the secret of <see cref="ApiKeySid"/>.</summary>
    public string? AuthToken { get; set; }

    /// <summary>twilio: optional API Key SID (SKxxx) used with <see cref="AuthToken"/> as its secret.</summary>
    public string? ApiKeySid { get; set; }

    /// <summary>cloudflare: TURN key id.</summary>
    public string? KeyId { get; set; }

    /// <summary>cloudflare: TURN key API token.</summary>
    public string? ApiToken { get; set; }

    /// <summary>metered: the credential's API key (<c>?apiKey=</c>).</summary>
    public string? ApiKey { get; set; }

    /// <summary>metered: the app name of <c>https://APP.metered.live</c> (or set <see cref="BaseUrl"/>).</summary>
    public string? AppName { get; set; }

    /// <summary>metered: optional region (global, europe, north_america, …).</summary>
    public string? Region { get; set; }

    /// <summary>
    /// twilio, cloudflare, metered: the API's base URL. Defaults: https://api.twilio.com,
    /// https://rtc.live.cloudflare.com, https://APP.metered.live.
    /// </summary>
    public string? BaseUrl { get; set; }

    /// <summary>twilio, cloudflare, metered: how long one API call may take. Default 5 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);
}
