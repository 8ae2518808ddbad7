using Microsoft.Extensions.Options;

namespace GhostChat.Server.Files;

/// <summary>Every problem of <c>GhostChat:Files</c> at once; the host refuses to start with them.</summary>
internal sealed class FilesOptionsValidator : IValidateOptions<FilesOptions>
{
    public ValidateOptionsResult Validate(string? name, FilesOptions options)
    {
        var errors = new List<string>();
        if (options.MaxBytes < 1 || options.MaxBytes > FilesOptions.ProtocolMaxBytes)
        {
            errors.Add($"{FilesOptions.SectionName}:MaxBytes must be 1 to {FilesOptions.ProtocolMaxBytes} bytes (64 TiB, the most the file protocol can describe); it is {options.MaxBytes}.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
