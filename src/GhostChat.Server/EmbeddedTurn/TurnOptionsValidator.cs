using GhostChat.Turn.Server;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.EmbeddedTurn;

/// <summary>Collects every problem with the TURN options so the host refuses to start with one clear message.</summary>
internal sealed class TurnOptionsValidator : IValidateOptions<TurnServerOptions>
{
    public ValidateOptionsResult Validate(string? name, TurnServerOptions options)
    {
        if (!options.Enabled)
        {
            return ValidateOptionsResult.Success;
        }
        var errors = options.Validate();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
