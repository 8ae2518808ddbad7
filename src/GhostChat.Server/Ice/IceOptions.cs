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
