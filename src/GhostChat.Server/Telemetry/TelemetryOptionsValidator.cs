using Microsoft.Extensions.Options;

namespace GhostChat.Server.Telemetry;

/// <summary>Every problem of <c>GhostChat:Telemetry</c> at once; the host refuses to start with them.</summary>
internal sealed class TelemetryOptionsValidator : IValidateOptions<TelemetryOptions>
{
    public ValidateOptionsResult Validate(string? name, TelemetryOptions options)
    {
        var errors = new List<string>();
        const string At = TelemetryOptions.SectionName;
        if (options.Retention < TimeSpan.FromHours(1) || options.Retention > TimeSpan.FromDays(3650))
        {
            errors.Add($"{At}:Retention must be between 01:00:00 (one hour) and 3650.00:00:00 (ten years).");
        }
        foreach (var (label, limit) in new[] { ("Reports", options.Reports), ("Feedback", options.Feedback) })
        {
            if (limit.Burst < 0 || limit.Burst > 10_000)
            {
                errors.Add($"{At}:{label}:Burst must be 0 (no limit) to 10000.");
            }
            if (limit.Burst > 0 && (limit.PerMinute < 1 || limit.PerMinute > 60_000))
            {
                errors.Add($"{At}:{label}:PerMinute must be 1 to 60000.");
            }
        }
        if (options.FeedbackMaxLength < 1 || options.FeedbackMaxLength > 10_000)
        {
            errors.Add($"{At}:FeedbackMaxLength must be 1 to 10000 characters.");
        }
        if (options.FeedbackMaxStored < 0 || options.FeedbackMaxStored > 1_000_000)
        {
            errors.Add($"{At}:FeedbackMaxStored must be 0 to 1000000.");
        }
        if (options.DatabasePath.IndexOfAny(['\0', ';']) >= 0)
        {
            errors.Add($"{At}:DatabasePath must be a file path (no ';').");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
