using System.Globalization;
using Spectre.Console;

namespace GhostChat.Cli.Doctor;

/// <summary>
/// Renders a doctor run: a live table that fills in as checks run (interactive terminal), or one plain line per
/// check as it finishes (redirected output). Only presentation; the checks live in <see cref="DoctorRunner"/>.
/// </summary>
internal static class DoctorConsole
{
    public static async Task<DoctorReport> RunLiveAsync(DoctorOptions options, string target, CancellationToken cancellationToken)
    {
        var console = AnsiConsole.Console;
        console.MarkupLine($"[bold]ghostchat doctor[/] {Markup.Escape(target)}");
        var table = new Table().Border(TableBorder.Rounded).Expand()
            .AddColumn(new TableColumn("Check").NoWrap())
            .AddColumn(new TableColumn("Status").NoWrap())
            .AddColumn("Result")
            .AddColumn(new TableColumn("Time").RightAligned().NoWrap());
        DoctorReport? report = null;
        await console.Live(table).AutoClear(false).StartAsync(async ctx =>
        {
            var observer = new LiveObserver(table, ctx);
            report = await new DoctorRunner(options, observer).RunAsync(cancellationToken).ConfigureAwait(false);
        }).ConfigureAwait(false);
        WriteSummary(console, report!);
        return report!;
    }

    public static async Task<DoctorReport> RunPlainAsync(
        DoctorOptions options, string target, TextWriter output, CancellationToken cancellationToken)
    {
        await output.WriteLineAsync("ghostchat doctor " + target).ConfigureAwait(false);
        var report = await new DoctorRunner(options, new PlainObserver(output)).RunAsync(cancellationToken).ConfigureAwait(false);
        await output.WriteLineAsync().ConfigureAwait(false);
        await output.WriteLineAsync(report.Summary).ConfigureAwait(false);
        await output.WriteLineAsync($"exit code {report.ExitCode}").ConfigureAwait(false);
        return report;
    }

    private static void WriteSummary(IAnsiConsole console, DoctorReport report)
    {
        var colour = report.ExitCode == 0 ? "green" : "red";
        console.MarkupLine($"[{colour}]{Markup.Escape(report.Summary)}[/]");
        console.MarkupLine(
            $"[grey]exit code {report.ExitCode} · {report.Duration.TotalSeconds:0.0} s · --json for a machine-readable report[/]");
    }

    private static string StatusMarkup(CheckStatus status) => status switch
    {
        CheckStatus.Ok => "[green]✔ ok[/]",
        CheckStatus.Warn => "[yellow]! warn[/]",
        CheckStatus.Fail => "[red]✘ fail[/]",
        _ => "[grey]– skip[/]",
    };

    private static string Time(DoctorCheck check) =>
        check.LatencyMs is not { } ms ? ""
            : ms >= 1000 ? (ms / 1000).ToString("0.0", CultureInfo.InvariantCulture) + " s"
            : ms.ToString("0", CultureInfo.InvariantCulture) + " ms";

    private sealed class LiveObserver(Table table, LiveDisplayContext context) : IDoctorObserver
    {
        private readonly Dictionary<string, int> _rows = [];
        private readonly Lock _gate = new();

        public void Started(string id, string title)
        {
            lock (_gate)
            {
                _rows[id] = table.Rows.Count;
                table.AddRow(Markup.Escape(title), "[blue]… checking[/]", "", "");
                context.Refresh();
            }
        }

        public void Completed(DoctorCheck check)
        {
            lock (_gate)
            {
                if (!_rows.TryGetValue(check.Id, out var row))
                {
                    row = table.Rows.Count;
                    table.AddRow(Markup.Escape(check.Title), "", "", "");
                }
                table.UpdateCell(row, 1, StatusMarkup(check.Status));
                var result = Markup.Escape(check.Verdict) + (check.Advice is { } a ? "\n[grey]→ " + Markup.Escape(a) + "[/]" : "");
                table.UpdateCell(row, 2, result);
                table.UpdateCell(row, 3, Time(check));
                context.Refresh();
            }
        }
    }

    private sealed class PlainObserver(TextWriter output) : IDoctorObserver
    {
        public void Started(string id, string title)
        {
        }

        public void Completed(DoctorCheck check)
        {
            var time = Time(check);
            var status = DoctorReport.StatusText(check.Status);
            output.WriteLine($"[{status,-4}] {check.Title}: {check.Verdict}{(time.Length > 0 ? " (" + time + ")" : "")}");
            if (check.Advice is { } advice)
            {
                output.WriteLine("       → " + advice);
            }
            output.Flush();
        }
    }
}
