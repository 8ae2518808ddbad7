namespace GhostChat.Server.Ice;

/// <summary>
/// The ICE service: which providers hand out STUN/TURN servers, how many servers a browser gets, how
/// providers are probed, and how often a client may ask. Section <c>GhostChat:Ice</c>.
/// </summary>
public sealed class IceOptions
{
    public const string SectionName = "GhostChat:Ice";

    /// <summary>
    /// Providers by name (letters, digits, '-', '_', '.'; the name appears in <c>providers</c> and <c>?exclude=</c>).
    /// Default none: then the embedded TURN server is used when <c>GhostChat:Turn:Enabled</c> is true.
    /// </summary>
    public Dictionary<string, IceProviderOptions> Providers { get; init; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The older list of fixed servers. Still honoured: the list becomes one <c>static</c> provider named
    /// <c>servers</c> (entries in their order) with priority 1000, after every configured provider. Default none.
    /// </summary>
    public List<IceServerOptions> Servers { get; init; } = [];

    /// <summary>Most RTCIceServer entries in one answer (browsers slow down with more). Default 3.</summary>
    public int MaxServers { get; set; } = 3;

    /// <summary>Hint in every answer: clients should use <c>iceTransportPolicy: "relay"</c> (hides their addresses). Default false.</summary>
    public bool RelayOnly { get; set; }

    /// <summary>How long <c>/api/ice</c> waits for a provider that is fetching credentials before answering without it. Default 1.5 s.</summary>
    public TimeSpan AnswerBudget { get; set; } = TimeSpan.FromSeconds(1.5);

    /// <summary>Per-client (address) limit on <c>/api/ice</c>.</summary>
    public IceRateLimitOptions RateLimit { get; init; } = new();

    /// <summary>The background health prober.</summary>
    public IceProbeOptions Probe { get; init; } = new();
}

/// <summary>Token bucket per client address for <c>/api/ice</c>. Section <c>GhostChat:Ice:RateLimit</c>.</summary>
public sealed class IceRateLimitOptions
{
    /// <summary>Requests a client may make at once. Default 10; 0 turns the limit off.</summary>
    public int Burst { get; set; } = 10;

    /// <summary>Requests per minute a client regains after the burst. Default 30.</summary>
    public int PerMinute { get; set; } = 30;
}

/// <summary>Health probes of every provider's servers. Section <c>GhostChat:Ice:Probe</c>.</summary>
public sealed class IceProbeOptions
{
    /// <summary>Probing on or off. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Time between two probes of a healthy server. Default 60 s.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long one probe (Binding, then Allocate) may take. Default 5 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Consecutive failed probes after which a server is down (fewer: degraded). Default 2.</summary>
    public int FailuresUntilDown { get; set; } = 2;

    /// <summary>A probe slower than this marks the server degraded. Default 2 s.</summary>
    public TimeSpan SlowLatency { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Longest wait before probing a down server again (the wait doubles from <see cref="Interval"/>). Default 10 min.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromMinutes(10);
}

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

/// <summary>One RTCIceServer of the older <c>GhostChat:Ice:Servers</c> list.</summary>
public sealed class IceServerOptions
{
    /// <summary>One or more stun:, stuns:, turn: or turns: URLs.</summary>
    public List<string> Urls { get; init; } = [];

    /// <summary>TURN username; required for turn:/turns: URLs.</summary>
    public string? Username { get; set; }

    /// <summary>TURN credential; required for turn:/turns: URLs.</summary>
    public string? Credential { get; set; }
}
