namespace GhostChat.Server.Ice.Providers;

/// <summary>
/// Makes the providers of one <c>Type</c> that another feature owns, so the ICE service needs nothing from that
/// feature: the embedded TURN server registers the one for <see cref="IceProviderTypes.Embedded"/>.
/// </summary>
internal interface IIceProviderFactory
{
    /// <summary>The <c>Type</c> value (lower case) this factory makes providers for.</summary>
    string Type { get; }

    /// <summary>A provider configured as <c>GhostChat:Ice:Providers:{name}</c>, already validated.</summary>
    IceProvider Create(string name, IceProviderOptions options);

    /// <summary>The provider to use when <c>GhostChat:Ice:Providers</c> names none, or null for none.</summary>
    IceProvider? CreateDefault();
}
