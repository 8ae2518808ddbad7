using System.CommandLine;
using GhostChat.Cli.FieldData;

namespace GhostChat.Cli.Commands;

/// <summary>
/// <c>ghostchat feedback [URL]</c> lists the feedback people sent (hour, text, whether a diagnostics summary is attached);
/// <c>ghostchat feedback delete ID [URL]</c> deletes one. Operator only. The text goes to this terminal and nowhere else.
/// </summary>
internal static class FeedbackCommand
{
    public static Command Build()
    {
        var shared = new FieldDataArguments();
        var json = new Option<bool>("--json") { Description = "Print one JSON object (schema in docs/operator-guide.md) instead of the table." };
        var command = new Command("feedback",
            "List the feedback people sent from the app (hour, text, attached diagnostics summary). Operator only. "
            + "Exit 0 = listed, 1 = unreachable, refused or a malformed answer, 2 = bad arguments.")
        {
            json,
        };
        shared.AddTo(command);
        command.Subcommands.Add(BuildDelete());
        command.SetAction((parse, cancellationToken) =>
        {
            var errors = new List<string>();
            var target = shared.Read(parse, errors);
            return FieldDataArguments.RunAsync("feedback", errors, async () =>
            {
                using var client = new FieldDataClient(target!);
                var items = await client.GetFeedbackAsync(cancellationToken).ConfigureAwait(false);
                if (parse.GetValue(json))
                {
                    await Console.Out.WriteLineAsync(FieldDataConsole.FeedbackJson(target!.Server, items)).ConfigureAwait(false);
                }
                else
                {
                    FieldDataConsole.WriteFeedback(FieldDataConsole.Create(), target!.Server, items);
                }
            });
        });
        return command;
    }

    private static Command BuildDelete()
    {
        var shared = new FieldDataArguments();
        var id = new Argument<long>("ID") { Description = "The feedback entry to delete, as `ghostchat feedback` lists it." };
        var command = new Command("delete", "Delete one feedback entry. Exit 0 = deleted, 1 = no such entry, unreachable or refused, 2 = bad arguments.") { id };
        shared.AddTo(command);
        command.SetAction((parse, cancellationToken) =>
        {
            var errors = new List<string>();
            var target = shared.Read(parse, errors);
            long entry = parse.GetValue(id);
            if (entry < 1)
            {
                errors.Add("ID must be a positive whole number, as `ghostchat feedback` lists it.");
            }
            return FieldDataArguments.RunAsync("feedback delete", errors, async () =>
            {
                using var client = new FieldDataClient(target!);
                await client.DeleteFeedbackAsync(entry, cancellationToken).ConfigureAwait(false);
                await Console.Out.WriteLineAsync($"Deleted feedback {entry}.").ConfigureAwait(false);
            });
        });
        return command;
    }
}
