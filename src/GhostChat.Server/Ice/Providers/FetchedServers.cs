namespace GhostChat.Server.Ice.Providers;

/// <summary>What an API call gave: servers and how long their credentials last (null: they do not expire).</summary>
internal sealed record FetchedServers(IReadOnlyList<IceServerEntry> Servers, TimeSpan? Ttl);
