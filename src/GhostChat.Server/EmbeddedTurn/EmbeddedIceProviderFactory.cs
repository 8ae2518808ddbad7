using GhostChat.Server.Ice;
using GhostChat.Server.Ice.Providers;

namespace GhostChat.Server.EmbeddedTurn;

/// <summary>
/// ICE providers of type "embedded": this process's TURN server. With no providers configured and the server
/// enabled, it is the default provider "embedded".
/// </summary>
internal sealed class EmbeddedIceProviderFactory(EmbeddedTurnHost turn, TimeProvider time) : IIceProviderFactory
{
    public string Type => IceProviderTypes.Embedded;

    public IceProvider Create(string name, IceProviderOptions options) => new EmbeddedIceProvider(name, options, turn, time);

    public IceProvider? CreateDefault() => turn.Options.Enabled
        ? Create(IceProviderTypes.Embedded, new IceProviderOptions { Type = IceProviderTypes.Embedded })
        : null;
}
