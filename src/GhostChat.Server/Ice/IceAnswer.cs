namespace GhostChat.Server.Ice;

/// <summary>One answer of <c>/api/ice</c> before serialisation; <paramref name="StunProbes"/> null: none to announce.</summary>
internal sealed record IceAnswer(
    IReadOnlyList<IceServerEntry> Servers,
    IReadOnlyList<string> Providers,
    DateTimeOffset? ExpiresAt,
    bool RelayOnly,
    IReadOnlyList<string>? StunProbes = null);
