
namespace GhostChat.Server.Ice.Providers;

/// <summary>
/// A coturn/eturnal-style fleet sharing REST secrets: "expiry:user" credentials signed with the first secret,
/// the same for one client within half the lifetime (the servers accept every secret in their list, which is how
/// secrets rotate).
/// </summary>
internal sealed class RestSecretIceProvider(string name, IceProviderOptions options, TimeProvider time) : IceProvider(name, options)
{
    public override string Type => IceProviderTypes.RestSecret;

    public override Task<IReadOnlyList<IceServerEntry>?> GetServersAsync(IceRequest request, CancellationToken cancellationToken)
    {
        var credential = RestCredential(Options.Secrets[0], request, Options.CredentialLifetime, time.GetUtcNow());
        return Task.FromResult<IReadOnlyList<IceServerEntry>?>([new IceServerEntry([.. Options.Urls], credential.Username, credential.Password, credential.Expires)]);
    }
}
