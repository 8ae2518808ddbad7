using System.Text.RegularExpressions;
using GhostChat.Server.Ice.Providers;
using GhostChat.Turn.Client;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Ice;

/// <summary>
/// Lists every problem with <c>GhostChat:Ice</c> so the server refuses to start with one clear message. What a
/// provider type needs from the feature that owns it (the embedded TURN server enabled) that feature checks itself.
/// </summary>
internal sealed partial class IceOptionsValidator : IValidateOptions<IceOptions>
{
    private static readonly TimeSpan Day = TimeSpan.FromHours(24);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$", RegexOptions.None, matchTimeoutMilliseconds: 1000)]
    public static partial Regex NamePattern();

    /// <summary>One DNS label (RFC 1123): what stands for APP in https://APP.metered.live.</summary>
    [GeneratedRegex("^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$", RegexOptions.None, matchTimeoutMilliseconds: 1000)]
    private static partial Regex HostLabel();

    public ValidateOptionsResult Validate(string? name, IceOptions options)
    {
        var errors = new List<string>();
        const string S = IceOptions.SectionName;
        if (options.MaxServers is < 1 or > 10)
        {
            errors.Add($"{S}:MaxServers must be 1–10 (browsers slow down with many servers).");
        }
        if (options.AnswerBudget <= TimeSpan.Zero || options.AnswerBudget > TimeSpan.FromSeconds(30))
        {
            errors.Add($"{S}:AnswerBudget must be more than 0 and at most 30 s.");
        }
        if (options.RateLimit.Burst < 0 || options.RateLimit.PerMinute < 1 || options.RateLimit.PerMinute > 60_000)
        {
            errors.Add($"{S}:RateLimit: Burst must be ≥ 0 (0 = off) and PerMinute 1–60000.");
        }
        var probe = options.Probe;
        if (probe.Interval <= TimeSpan.Zero || probe.Timeout <= TimeSpan.Zero || probe.SlowLatency <= TimeSpan.Zero || probe.MaxBackoff < probe.Interval)
        {
            errors.Add($"{S}:Probe: Interval, Timeout and SlowLatency must be positive and MaxBackoff at least Interval.");
        }
        if (probe.FailuresUntilDown < 1)
        {
            errors.Add($"{S}:Probe:FailuresUntilDown must be at least 1.");
        }
        for (int i = 0; i < options.Servers.Count; i++)
        {
            var server = options.Servers[i];
            CheckUrls(errors, $"{S}:Servers:{i}:Urls", server.Urls);
            if (server.Urls.Any(IsTurn) && (string.IsNullOrEmpty(server.Username) || string.IsNullOrEmpty(server.Credential)))
            {
                errors.Add($"{S}:Servers:{i}: turn servers need Username and Credential.");
            }
        }
        if (options.Servers.Count > 0 && options.Providers.ContainsKey(IceProviderRegistry.LegacyName))
        {
            errors.Add($"{S}:Providers:{IceProviderRegistry.LegacyName}: the name is taken by the {S}:Servers list; rename the provider or move the list into it.");
        }
        foreach (var (providerName, p) in options.Providers)
        {
            var at = $"{S}:Providers:{providerName}";
            if (!NamePattern().IsMatch(providerName))
            {
                errors.Add($"{at}: provider names are 1–40 letters, digits, '-', '_' or '.', starting with a letter or digit.");
            }
            if (p is null)
            {
                errors.Add($"{at}: empty.");
                continue;
            }
            if (!p.Enabled)
            {
                // Kept for later: only a misspelt type is worth saying now.
                if (p.Type is not null && !IceProviderTypes.All.Contains(p.Type.ToLowerInvariant()))
                {
                    errors.Add($"{at}:Type must be one of {string.Join(", ", IceProviderTypes.All)} (got '{p.Type}').");
                }
                continue;
            }
            switch (p.Type?.ToLowerInvariant())
            {
                case IceProviderTypes.Embedded:
                    if (p.Urls.Count > 0)
                    {
                        CheckUrls(errors, at + ":Urls", p.Urls);
                    }
                    CheckLifetime(errors, at, p.CredentialLifetime, Day);
                    break;
                case IceProviderTypes.RestSecret:
                    CheckUrls(errors, at + ":Urls", p.Urls);
                    if (p.Secrets.Count == 0 || p.Secrets.Any(s => string.IsNullOrEmpty(s) || s.Length < 16))
                    {
                        errors.Add($"{at}:Secrets: at least one secret, every secret at least 16 characters.");
                    }
                    CheckLifetime(errors, at, p.CredentialLifetime, Day);
                    break;
                case IceProviderTypes.Static:
                    CheckUrls(errors, at + ":Urls", p.Urls);
                    if (p.Urls.Any(IsTurn) && (string.IsNullOrEmpty(p.Username) || string.IsNullOrEmpty(p.Credential)))
                    {
                        errors.Add($"{at}: turn: URLs need Username and Credential.");
                    }
                    break;
                case IceProviderTypes.Twilio:
                    Require(errors, at, nameof(p.AccountSid), p.AccountSid);
                    Require(errors, at, nameof(p.AuthToken), p.AuthToken);
                    CheckApi(errors, at, p, Day);
                    break;
                case IceProviderTypes.Cloudflare:
                    Require(errors, at, nameof(p.KeyId), p.KeyId);
                    Require(errors, at, nameof(p.ApiToken), p.ApiToken);
                    CheckApi(errors, at, p, TimeSpan.FromHours(48));
                    break;
                case IceProviderTypes.Metered:
                    Require(errors, at, nameof(p.ApiKey), p.ApiKey);
                    if (string.IsNullOrWhiteSpace(p.AppName) && string.IsNullOrWhiteSpace(p.BaseUrl))
                    {
                        errors.Add($"{at}: set AppName (https://APP.metered.live) or BaseUrl.");
                    }
                    else if (string.IsNullOrWhiteSpace(p.BaseUrl) && !HostLabel().IsMatch(p.AppName!))
                    {
                        errors.Add($"{at}:AppName must be a host label (letters, digits, '-').");
                    }
                    CheckApi(errors, at, p, Day * 365);
                    break;
                default:
                    errors.Add($"{at}:Type must be one of {string.Join(", ", IceProviderTypes.All)} (got '{p.Type}').");
                    break;
            }
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static bool IsTurn(string url) => url.StartsWith("turn", StringComparison.OrdinalIgnoreCase);

    private static void CheckUrls(List<string> errors, string at, List<string> urls)
    {
        if (urls.Count == 0)
        {
            errors.Add($"{at}: at least one stun:, stuns:, turn: or turns: URL is required.");
        }
        foreach (var u in urls)
        {
            if (!IceUrl.TryParse(u, out _))
            {
                errors.Add($"{at}: '{u}' is not a stun:, stuns:, turn: or turns: URL (e.g. turn:turn.example.org:3478?transport=udp).");
            }
        }
    }

    private static void Require(List<string> errors, string at, string key, string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            errors.Add($"{at}:{key} is required.");
        }
    }

    private static void CheckLifetime(List<string> errors, string at, TimeSpan lifetime, TimeSpan max)
    {
        if (lifetime < TimeSpan.FromMinutes(1) || lifetime > max)
        {
            errors.Add($"{at}:CredentialLifetime must be between 1 minute and {max.TotalHours} h.");
        }
    }

    private static void CheckApi(List<string> errors, string at, IceProviderOptions p, TimeSpan maxLifetime)
    {
        CheckLifetime(errors, at, p.CredentialLifetime, maxLifetime);
        if (p.Timeout <= TimeSpan.Zero || p.Timeout > TimeSpan.FromMinutes(1))
        {
            errors.Add($"{at}:Timeout must be more than 0 and at most 1 minute.");
        }
        if (p.BaseUrl is not null && (!Uri.TryCreate(p.BaseUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
        {
            errors.Add($"{at}:BaseUrl must be an absolute http(s) URL.");
        }
    }
}
