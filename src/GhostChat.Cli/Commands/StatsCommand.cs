using System.CommandLine;
using GhostChat.Cli.FieldData;

namespace GhostChat.Cli.Commands;

/// <summary>
/// <c>ghostchat stats [URL] [--days N]</c>: the /stats page's figures as tables — connection success against 90 %, time
/// to connect against 10 s, delivery against 99.9 %, recoveries, path mix, providers, error kinds, browsers — from
/// <c>GET /api/stats</c>. Exit codes in <see cref="FieldDataExitCodes"/>.
/// </summary>
internal static class StatsCommand
{
    /// <summary>The period the /stats page opens with.</summary>
    public const int DefaultDays = 7;

    public static Command Build()
    {
        var shared = new FieldDataArguments();
        var days = new Option<int>("--days")
        {
            Description = $"The period: the last N days (UTC hours, this one included). Default {DefaultDays}, as /stats; at most what the server keeps (GhostChat:Telemetry:Retention).",
            DefaultValueFactory = _ => DefaultDays,
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (schema in docs/operator-guide.md) instead of the tables." };
        var command = new Command("stats",
            "Show the field data of a server (what browsers that agreed report, as on /stats): connection success, time to connect, delivery, "
            + "recoveries, paths, providers, error kinds, browsers. Operator only. Exit 0 = shown, 1 = unreachable, refused or a malformed answer, 2 = bad arguments.")
        {
            days, json,
        };
        shared.AddTo(command);
        command.SetAction((parse, cancellationToken) =>
        {
            var errors = new List<string>();
            var target = shared.Read(parse, errors);
            int period = parse.GetValue(days);
            if (period is < 1 or > 3650)
            {
                errors.Add("--days must be 1 to 3650 (and at most what the server keeps).");
            }
            return FieldDataArguments.RunAsync("stats", errors, async () =>
            {
                using var client = new FieldDataClient(target!);
                var view = StatsView.From(period, await client.GetStatsAsync(period, cancellationToken).ConfigureAwait(false));
                if (parse.GetValue(json))
                {
                    await Console.Out.WriteLineAsync(FieldDataConsole.StatsJson(target!.Server, view)).ConfigureAwait(false);
                }
                else
                {
                    FieldDataConsole.WriteStats(FieldDataConsole.Create(), target!.Server, view);
                }
            });
        });
        return command;
    }
}
