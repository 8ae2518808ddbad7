using System.Security.Cryptography;
using GhostChat.Turn.Auth;

namespace GhostChat.Server.Ice.Providers;

/// <summary>A source of ICE servers. Implementations never throw to the caller: they return null and log why.</summary>
internal abstract class IceProvider(string name, IceProviderOptions options)
{
    public string Name { get; } = name;

    public IceProviderOptions Options { get; } = options;

    public int Priority => Options.Priority;

    public abstract string Type { get; }

    /// <summary>Servers for a browser, or null when the provider has none to give right now.</summary>
    public abstract Task<IReadOnlyList<IceServerEntry>?> GetServersAsync(IceRequest request, CancellationToken cancellationToken);

    /// <summary>Servers the prober checks, with credentials it can allocate with. Default: what a browser gets.</summary>
    public virtual Task<IReadOnlyList<IceServerEntry>?> GetProbeServersAsync(CancellationToken cancellationToken) => GetServersAsync(IceRequest.Probe, cancellationToken);

    /// <summary>How the prober checks a TLS server's certificate; null: the system's chain and name checks.</summary>
    public virtual System.Net.Security.RemoteCertificateValidationCallback? CertificateValidation => null;

    /// <summary>A random REST user part, so quotas per user apply per browser and usernames link nothing.</summary>
    /// <summary>
    /// A REST credential for the client of <paramref name="request"/>: the same for one client (IPv4 address or
    /// IPv6 /64) within half the lifetime, so TURN per-user quotas hold (<see cref="TurnRestCredentials.CreateForClient"/>);
    /// a random user for the prober, which has no client.
    /// </summary>
    protected static TurnCredential RestCredential(string secret, IceRequest request, TimeSpan lifetime, DateTimeOffset now) =>
        request.Client is { } client
            ? TurnRestCredentials.CreateForClient(secret, client, lifetime, now)
            : TurnRestCredentials.Create(secret, RandomUser(), lifetime, now);

    protected static string RandomUser() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(9)).Replace('+', '-').Replace('/', '_');
}
