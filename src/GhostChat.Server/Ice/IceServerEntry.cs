namespace GhostChat.Server.Ice;

/// <summary>One RTCIceServer as a provider gave it, with the expiry of its credential when known.</summary>
internal sealed record IceServerEntry(IReadOnlyList<string> Urls, string? Username, string? Credential, DateTimeOffset? Expires);
