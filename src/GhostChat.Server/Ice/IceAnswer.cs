namespace GhostChat.Server.Ice;

/// <summary>One answer of <c>/api/ice</c> before serialisation.</summary>
internal sealed record IceAnswer(IReadOnlyList<IceServerEntry> Servers, IReadOnlyList<string> Providers, DateTimeOffset? ExpiresAt, bool RelayOnly);
