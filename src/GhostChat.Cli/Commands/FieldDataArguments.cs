using System.CommandLine;
using GhostChat.Cli.FieldData;

namespace GhostChat.Cli.Commands;

/// <summary>
/// What <c>ghostchat stats</c>, <c>feedback</c> and <c>feedback delete</c> share, as doctor spells it: the server URL
/// (argument, default <see cref="ServerUrl.Default"/>), <c>--timeout</c>, <c>--insecure</c>; and how they end: a
/// message on stderr prefixed with the command, exit codes in <see cref="FieldDataExitCodes"/>.
/// </summary>
internal sealed class FieldDataArguments
{
    public Argument<string?> Url { get; } = new("URL")
    {
        Description = $"The GhostChat server (http(s) URL or host:port). Default {ServerUrl.Default}. The server answers its operator only: "
            + "an address in GhostChat:Ops:DetailFrom, loopback when that is empty.",
        Arity = ArgumentArity.ZeroOrOne,
    };

    public Option<double> Timeout { get; } = new("--timeout") { Description = "Seconds the server may take to answer.", DefaultValueFactory = _ => 5 };

    public Option<bool> Insecure { get; } = new("--insecure") { Description = "Accept a TLS certificate this machine does not trust." };

    public void AddTo(Command command)
    {
        command.Arguments.Add(Url);
        command.Options.Add(Timeout);
        command.Options.Add(Insecure);
    }

    /// <summary>The target, or null with the reasons added to <paramref name="errors"/>.</summary>
    public FieldDataTarget? Read(ParseResult parse, List<string> errors)
    {
        double seconds = parse.GetValue(Timeout);
        if (double.IsNaN(seconds) || seconds is < 0.2 or > 120)
        {
            errors.Add("--timeout must be 0.2–120 seconds.");
        }
        if (!ServerUrl.TryParse(parse.GetValue(Url) ?? ServerUrl.Default, out var server, out var error))
        {
            errors.Add(error);
            return null;
        }
        return new FieldDataTarget(server, TimeSpan.FromSeconds(Math.Clamp(seconds, 0.2, 120)), parse.GetValue(Insecure));
    }

    /// <summary>Prints the usage errors (exit 2), or runs <paramref name="action"/> and turns a <see cref="FieldDataException"/> into its message and exit code.</summary>
    public static async Task<int> RunAsync(string verb, List<string> errors, Func<Task> action)
    {
        foreach (var e in errors)
        {
            await Console.Error.WriteLineAsync($"ghostchat {verb}: {e}").ConfigureAwait(false);
        }
        if (errors.Count > 0)
        {
            return FieldDataExitCodes.Usage;
        }
        try
        {
            await action().ConfigureAwait(false);
            return FieldDataExitCodes.Ok;
        }
        catch (FieldDataException ex)
        {
            await Console.Error.WriteLineAsync($"ghostchat {verb}: {ex.Message}").ConfigureAwait(false);
            return ex.ExitCode;
        }
    }
}
