using System.CommandLine;
using GhostChat.Cli.Doctor;
using GhostChat.Turn.Client;
using Spectre.Console;

namespace GhostChat.Cli.Commands;

/// <summary>
/// <c>ghostchat doctor [URL]</c>: checks from this machine whether signaling, STUN and TURN work, each with a
/// plain-language verdict; exit codes in <see cref="DoctorExitCodes"/>.
/// </summary>
internal static class DoctorCommand
{
    public const string DefaultUrl = "http://localhost:8080";

    /// <summary>Environment variable read when <c>--secret</c> is not given.</summary>
    public const string SecretVariable = "GHOSTCHAT_TURN_SECRET";

    public static Command Build()
    {
        var url = new Argument<string?>("URL")
        {
            Description = $"The GhostChat server to check (signaling and /api/ice). Default {DefaultUrl}, or none when --stun/--turn are given.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var stun = new Option<string[]>("--stun") { Description = "A STUN server to check, host:port (repeatable).", AllowMultipleArgumentsPerToken = false };
        var turn = new Option<string[]>("--turn") { Description = "A TURN server to check, turn:host:port?transport=udp|tcp or turns:host:port (repeatable).", AllowMultipleArgumentsPerToken = false };
        var secret = new Option<string?>("--secret") { Description = $"TURN REST API secret (coturn static-auth-secret) to mint credentials for --turn; or set {SecretVariable} to keep it out of the process list." };
        var username = new Option<string?>("--username") { Description = "Static TURN username for --turn." };
        var password = new Option<string?>("--password") { Description = "Static TURN password for --turn." };
        var key = new Option<string>("--key") { Description = "PeerJS API key of the server.", DefaultValueFactory = _ => "peerjs" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds each network exchange may take.", DefaultValueFactory = _ => 5 };
        var json = new Option<bool>("--json") { Description = "Print one JSON report (schema in docs/operator-guide.md) instead of the table." };
        var insecure = new Option<bool>("--insecure") { Description = "Accept TLS certificates this machine does not trust (still reported as a warning)." };
        var command = new Command("doctor", "Check from this machine whether signaling, STUN (and NAT behaviour) and TURN over UDP, TCP and TLS work, with advice. Exit 0 = essentials work, 1 = something essential failed, 2 = bad arguments.")
        {
            url, stun, turn, secret, username, password, key, timeout, json, insecure,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var errors = new List<string>();
            var stunUrls = Parse(parse.GetValue(stun), "stun", errors);
            var turnUrls = Parse(parse.GetValue(turn), null, errors);
            if (turnUrls.Any(u => !u.IsTurn))
            {
                errors.Add("--turn takes turn: or turns: URLs.");
            }
            string? urlText = parse.GetValue(url);
            Uri? target = null;
            if (urlText is not null || (stunUrls.Count == 0 && turnUrls.Count == 0))
            {
                urlText ??= DefaultUrl;
                if (!urlText.Contains("://", StringComparison.Ordinal))
                {
                    urlText = "http://" + urlText;
                }
                if (!Uri.TryCreate(urlText, UriKind.Absolute, out target) || target.Scheme is not ("http" or "https"))
                {
                    errors.Add($"'{urlText}' is not an http:// or https:// URL.");
                }
            }
            double seconds = parse.GetValue(timeout);
            if (double.IsNaN(seconds) || seconds is < 0.2 or > 120)
            {
                errors.Add("--timeout must be 0.2–120 seconds.");
            }
            string? user = parse.GetValue(username), pass = parse.GetValue(password), restSecret = parse.GetValue(secret);
            if (restSecret is null && user is null && Environment.GetEnvironmentVariable(SecretVariable) is { Length: > 0 } fromEnvironment)
            {
                restSecret = fromEnvironment;
            }
            if ((user is null) != (pass is null))
            {
                errors.Add("--username and --password go together.");
            }
            if (restSecret is not null && user is not null)
            {
                errors.Add("Give either --secret or --username/--password, not both.");
            }
            if (turnUrls.Count > 0 && restSecret is null && user is null)
            {
                errors.Add("--turn needs credentials: --secret (REST API) or --username/--password.");
            }
            if (errors.Count > 0)
            {
                foreach (var e in errors)
                {
                    await Console.Error.WriteLineAsync("ghostchat doctor: " + e).ConfigureAwait(false);
                }
                return DoctorExitCodes.Usage;
            }
            var options = new DoctorOptions
            {
                Url = target,
                Key = parse.GetValue(key)!,
                Stun = stunUrls,
                Turn = turnUrls,
                Secret = restSecret,
                Username = user,
                Password = pass,
                Timeout = TimeSpan.FromSeconds(seconds),
                Insecure = parse.GetValue(insecure),
            };
            string label = target?.ToString() ?? string.Join(' ', stunUrls.Concat(turnUrls));
            DoctorReport report;
            if (parse.GetValue(json))
            {
                report = await new DoctorRunner(options).RunAsync(cancellationToken).ConfigureAwait(false);
                await Console.Out.WriteLineAsync(report.ToJson()).ConfigureAwait(false);
            }
            else if (!Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive)
            {
                report = await DoctorConsole.RunLiveAsync(options, label, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                report = await DoctorConsole.RunPlainAsync(options, label, Console.Out, cancellationToken).ConfigureAwait(false);
            }
            return report.ExitCode;
        });
        return command;
    }

    private static List<IceUrl> Parse(string[]? values, string? defaultScheme, List<string> errors)
    {
        var list = new List<IceUrl>();
        foreach (var v in values ?? [])
        {
            if (IceUrl.TryParse(v, IceUrlSyntax.Lenient, out var u, out var error, defaultScheme))
            {
                list.Add(u);
            }
            else
            {
                errors.Add(error + ".");
            }
        }
        return list;
    }
}
