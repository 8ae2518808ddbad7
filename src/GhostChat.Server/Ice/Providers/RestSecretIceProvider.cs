using GhostChat.Turn.Auth;

namespace GhostChat.Server.Ice.Providers;

/// <summary>
/// A coturn/eturnal-style fleet sharing REST secrets: fresh "expiry:user" credentials signed with the first
/// secret for every answer (the servers accept every secret in their list, which is how secrets rotate).
/// </summary>
internal sealed class RestSecretIceProvider(string name, IceProviderOptions options, TimeProvider time) : IceProvider(name, options)
{
    public override string Type => IceProviderTypes.RestSecret;

    public override Task<IReadOnlyList<IceServerEntry>?> GetServersAsync(IceRequest request, CancellationToken cancellationToken)
    {
        var credential = TurnRestCredentials.Create(Options.Secrets[0], RandomUser(), Options.CredentialLifetime, time.GetUtcNow());
        return Task.FromResult<IReadOnlyList<IceServerEntry>?>([new IceServerEntry([.. Options.Urls], credential.Username, credential.Password, credential.Expires)]);
    }
}
