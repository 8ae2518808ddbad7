namespace GhostChat.Server.Ice.Providers;

/// <summary>Fixed servers with fixed (or no) credentials.</summary>
internal sealed class StaticIceProvider(string name, IceProviderOptions options, IReadOnlyList<IceServerEntry>? servers = null) : IceProvider(name, options)
{
    private readonly IReadOnlyList<IceServerEntry> _servers = servers ?? [new IceServerEntry([.. options.Urls], options.Username, options.Credential, null)];

    public override string Type => IceProviderTypes.Static;

    public override Task<IReadOnlyList<IceServerEntry>?> GetServersAsync(IceRequest request, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<IceServerEntry>?>(_servers);
}
