using System.Globalization;
using System.Text.Json;
using Spectre.Console;

namespace GhostChat.Cli.FieldData;

/// <summary>
/// Prints field data to the operator's terminal: Spectre tables, or the documented <c>--json</c> (schema 1; fields are
/// only added within a schema). Feedback text goes to standard output only, never to an error message or a log.
/// </summary>
internal static class FieldDataConsole
{
    public const int SchemaVersion = 1;

    /// <summary>Width of the tables when standard output is not a terminal (a file, a pipe): wide enough for no row to wrap.</summary>
    public const int RedirectedWidth = 120;

    /// <summary>The console the commands print to: the terminal's width, or <see cref="RedirectedWidth"/> when redirected.</summary>
    public static IAnsiConsole Create()
    {
        var console = AnsiConsole.Console;
        if (Console.IsOutputRedirected)
        {
            console.Profile.Width = RedirectedWidth;
        }
        return console;
    }

    public static void WriteStats(IAnsiConsole console, Uri server, StatsView view)
    {
        var a = view.Answer;
        console.MarkupLine($"[bold]ghostchat stats[/] {Markup.Escape(server.ToString())} · last {view.Days} {(view.Days == 1 ? "day" : "days")} ({Hour(a.From)} to {Hour(a.To)} UTC, hourly totals)");
        if (a.Rows.Length == 0)
        {
            console.MarkupLine("[grey]No reports in this period: no browser that agreed has sent any yet.[/]");
        }

        var figures = NewTable("Field data").AddColumn("Figure").AddColumn("Value").AddColumn("Target").AddColumn("");
        foreach (var f in view.Figures)
        {
            figures.AddRow(new Text(f.Label), new Text(f.Value), new Text(f.Target), new Markup(Verdict(f.Verdict)));
        }
        console.Write(figures);

        var days = NewTable("By day (UTC)").AddColumn(new TableColumn("Day").NoWrap()).AddColumn(Right("Attempts")).AddColumn(Right("Connected"))
            .AddColumn(Right("Success")).AddColumn(Right("Delivered")).AddColumn(Right("Given up")).AddColumn(Right("Delivery"))
            .Caption("! below the target (90 %, 99.9 %) · – nothing counted · days without reports left out");
        foreach (var d in view.ByDay.Where(d => d.Attempts + d.Delivered + d.GivenUp > 0))
        {
            days.AddRow(d.Day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), N(d.Attempts), N(d.Connected),
                Against(d.SuccessRate, StatsView.SuccessTarget, 1), N(d.Delivered), N(d.GivenUp), Against(d.DeliveryRate, StatsView.DeliveryTarget, 2));
        }
        if (days.Rows.Count == 0)
        {
            days.AddRow(new Text("none in this period", new Style(Color.Grey)));
        }
        console.Write(days);

        foreach (var table in view.Tables)
        {
            var t = NewTable(table.Title).AddColumn(table.Id is "connect" or "resume" ? "Time" : "Key").AddColumn(Right("Count")).AddColumn(Right("Share"));
            var notes = table.Lines.Any(l => l.Note.Length > 0);
            if (notes)
            {
                t.AddColumn("");
            }
            if (table.Total == 0 && table.Id is not ("connect" or "resume"))
            {
                t.AddRow(new Text("none in this period", new Style(Color.Grey)), new Text(""), new Text(""));
            }
            foreach (var line in table.Lines)
            {
                var cells = new List<Spectre.Console.Rendering.IRenderable>
                {
                    new Text(TerminalText.Safe(line.Key)), new Text(N(line.Count)), new Text(table.Total == 0 ? "–" : StatsView.Percent(line.Share)),
                };
                if (notes)
                {
                    cells.Add(new Text(line.Note, new Style(Color.Grey)));
                }
                t.AddRow(cells);
            }
            console.Write(t);
        }
        console.MarkupLine("[grey]exit code 0 · --days N for another period · --json for machine-readable output[/]");
    }

    public static void WriteFeedback(IAnsiConsole console, Uri server, IReadOnlyList<FeedbackItem> items)
    {
        console.MarkupLine($"[bold]ghostchat feedback[/] {Markup.Escape(server.ToString())} · {items.Count} {(items.Count == 1 ? "entry" : "entries")}");
        if (items.Count == 0)
        {
            console.MarkupLine("[grey]No feedback.[/]");
            return;
        }
        var table = NewTable("Feedback").AddColumn(Right("Id")).AddColumn(new TableColumn("Hour (UTC)").NoWrap()).AddColumn("Text").AddColumn("Diagnostics");
        foreach (var e in items)
        {
            var diagnostics = e.Diagnostics is { } d
                ? $"yes: outlook {TerminalText.Safe(d.Outlook)}" + (d.Verdicts.Length > 0 ? "; " + TerminalText.Safe(string.Join(", ", d.Verdicts)) : "")
                : "no";
            table.AddRow(new Text(e.Id.ToString(CultureInfo.InvariantCulture)), new Text(Hour(e.Hour)), new Text(TerminalText.Safe(e.Text)), new Text(diagnostics));
        }
        console.Write(table);
        console.MarkupLine("[grey]ghostchat feedback delete ID removes one · --json for machine-readable output[/]");
    }

    public static string StatsJson(Uri server, StatsView view) => Write(w =>
    {
        var a = view.Answer;
        var f = a.Figures;
        w.WriteNumber("schema", SchemaVersion);
        w.WriteString("server", server.ToString());
        w.WriteNumber("days", view.Days);
        w.WriteString("from", a.From.UtcDateTime);
        w.WriteString("to", a.To.UtcDateTime);
        w.WriteStartObject("figures");
        foreach (var (name, value) in new (string, long)[]
        {
            ("reports", f.Reports), ("attempts", f.Attempts), ("connected", f.Connected), ("sent", f.Sent), ("delivered", f.Delivered),
            ("givenUp", f.GivenUp), ("recoveries", f.Recoveries), ("feedback", f.Feedback),
        })
        {
            w.WriteNumber(name, value);
        }
        foreach (var (name, value) in new (string, double?)[]
        {
            ("successRate", f.SuccessRate), ("connectedWithin10s", f.ConnectedWithin10s), ("deliveryRate", f.DeliveryRate),
            ("resumedWithin15s", f.ResumedWithin15s), ("relayShare", f.RelayShare),
        })
        {
            Rate(w, name, value);
        }
        w.WriteEndObject();
        w.WriteStartObject("targets");
        w.WriteNumber("successRate", StatsView.SuccessTarget);
        w.WriteNumber("deliveryRate", StatsView.DeliveryTarget);
        w.WriteNumber("connectSeconds", StatsView.ConnectTargetSeconds);
        w.WriteEndObject();
        w.WriteStartObject("verdicts");
        foreach (var line in view.Figures.Where(l => l.Verdict != FigureVerdict.None))
        {
            w.WriteString(line.Id, line.Verdict == FigureVerdict.NoData ? "no-data" : line.Verdict.ToString().ToLowerInvariant());
        }
        w.WriteEndObject();
        w.WriteStartArray("byDay");
        foreach (var d in view.ByDay)
        {
            w.WriteStartObject();
            w.WriteString("day", d.Day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            w.WriteNumber("attempts", d.Attempts);
            w.WriteNumber("connected", d.Connected);
            Rate(w, "successRate", d.SuccessRate);
            w.WriteNumber("delivered", d.Delivered);
            w.WriteNumber("givenUp", d.GivenUp);
            Rate(w, "deliveryRate", d.DeliveryRate);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        foreach (var table in view.Tables)
        {
            w.WriteStartArray(table.Id);
            foreach (var line in table.Lines)
            {
                w.WriteStartObject();
                w.WriteString("key", line.Key);
                w.WriteNumber("count", line.Count);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
    });

    public static string FeedbackJson(Uri server, IReadOnlyList<FeedbackItem> items) => Write(w =>
    {
        w.WriteNumber("schema", SchemaVersion);
        w.WriteString("server", server.ToString());
        w.WriteStartArray("feedback");
        foreach (var e in items)
        {
            w.WriteStartObject();
            w.WriteNumber("id", e.Id);
            w.WriteString("hour", e.Hour.UtcDateTime);
            w.WriteString("text", e.Text);
            if (e.Diagnostics is { } d)
            {
                w.WriteStartObject("diagnostics");
                w.WriteString("outlook", d.Outlook);
                w.WriteStartArray("verdicts");
                foreach (var v in d.Verdicts)
                {
                    w.WriteStringValue(v);
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("diagnostics");
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
    });

    private static string Write(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void Rate(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static Table NewTable(string title) => new Table().Border(TableBorder.Rounded).Title(new TableTitle(title, new Style(decoration: Decoration.Bold)));

    private static TableColumn Right(string header) => new TableColumn(header).RightAligned();

    private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string Hour(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:00", CultureInfo.InvariantCulture);

    private static string Against(double? rate, double target, int digits) =>
        rate is { } r ? StatsView.Percent(r, digits) + (r >= target ? "" : " !") : "–";

    private static string Verdict(FigureVerdict verdict) => verdict switch
    {
        FigureVerdict.Met => "[green]✔ met[/]",
        FigureVerdict.Below => "[red]✘ below target[/]",
        FigureVerdict.NoData => "[grey]no data[/]",
        _ => "",
    };
}
