using GhostChat.Server.Ice;
using GhostChat.Server.Ice.Providers;
using GhostChat.Turn.Server;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.EmbeddedTurn;

/// <summary>
/// What <c>GhostChat:Ice</c> asks of the embedded TURN server: an enabled provider of type "embedded" needs it
/// enabled. The ICE service's own validator checks the rest of the provider's options.
/// </summary>
internal sealed class EmbeddedIceOptionsValidator(IOptions<TurnServerOptions> turn) : IValidateOptions<IceOptions>
{
    public ValidateOptionsResult Validate(string? name, IceOptions options)
    {
        if (turn.Value.Enabled)
        {
            return ValidateOptionsResult.Success;
        }
        var errors = options.Providers
            .Where(p => p.Value is { Enabled: true } && IsEmbedded(p.Value.Type))
            .Select(p => $"{IceOptions.SectionName}:Providers:{p.Key}: "
                + "Type embedded needs the embedded TURN server (GhostChat:Turn:Enabled is false).")
            .ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static bool IsEmbedded(string? type) => string.Equals(type, IceProviderTypes.Embedded, StringComparison.OrdinalIgnoreCase);
}
