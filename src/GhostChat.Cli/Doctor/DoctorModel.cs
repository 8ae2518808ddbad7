using System.Globalization;
using System.Text;
using System.Text.Json;

namespace GhostChat.Cli.Doctor;

/// <summary>Outcome of one check.</summary>
internal enum CheckStatus
{
    /// <summary>Works.</summary>
    Ok,

    /// <summary>Works partly, or works with a caveat worth reading.</summary>
    Warn,

    /// <summary>Does not work.</summary>
    Fail,

    /// <summary>Not run (nothing to check, or an earlier step made it pointless).</summary>
    Skip,
}

/// <summary>One finished check: what it found, in plain words, and what to do about it.</summary>
/// <param name="Id">Stable id: <c>signaling:http</c>, <c>signaling:websocket</c>, <c>ice:fetch</c>,
/// <c>stun:HOST:PORT</c>, <c>nat:mapping</c>, <c>nat:filtering</c>, <c>turn:TRANSPORT:HOST:PORT</c>.</param>
/// <param name="Group">signaling, ice, stun, nat or turn.</param>
/// <param name="Title">Short label for the table.</param>
/// <param name="Status">ok, warn, fail or skip.</param>
/// <param name="Verdict">What was found, in one or two plain sentences.</param>
/// <param name="Advice">What to do, or null when nothing needs doing.</param>
/// <param name="LatencyMs">Round-trip time of the check's main exchange, when measured.</param>
/// <param name="Details">Facts behind the verdict (addresses, codes, counts), as text.</param>
internal sealed record DoctorCheck(
    string Id,
    string Group,
    string Title,
    CheckStatus Status,
    string Verdict,
    string? Advice = null,
    double? LatencyMs = null,
    IReadOnlyDictionary<string, string>? Details = null);

/// <summary>The three things that decide the exit code.</summary>
/// <param name="Signaling">Signaling works (null: not checked, no URL).</param>
/// <param name="Stun">At least one STUN server gave a mapped address.</param>
/// <param name="Turn">At least one TURN server allocated (null: no TURN server configured).</param>
internal sealed record DoctorEssentials(bool? Signaling, bool Stun, bool? Turn)
{
    public bool AllOk => Signaling != false && Stun && Turn != false;
}

/// <summary>Everything one run found.</summary>
internal sealed record DoctorReport(
    string? Target,
    DateTimeOffset StartedAt,
    TimeSpan Duration,
    IReadOnlyList<DoctorCheck> Checks,
    DoctorEssentials Essentials,
    NatBehaviour? Nat,
    string Summary)
{
    /// <summary>Schema version of <see cref="ToJson"/>; bumped only when a field changes meaning or disappears.</summary>
    public const int SchemaVersion = 1;

    /// <summary>0 = every essential check passed; 1 = something essential failed (see the summary).</summary>
    public int ExitCode => Essentials.AllOk ? DoctorExitCodes.Ok : DoctorExitCodes.EssentialFailed;

    /// <summary>The documented <c>--json</c> output (docs/operator-guide.md, "ghostchat doctor").</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        var writerOptions = new JsonWriterOptions
        {
            Indented = true,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        using (var w = new Utf8JsonWriter(buffer, writerOptions))
        {
            w.WriteStartObject();
            w.WriteNumber("schema", SchemaVersion);
            WriteNullable(w, "target", Target);
            w.WriteString("startedAt", StartedAt.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            w.WriteNumber("durationMs", Math.Round(Duration.TotalMilliseconds));
            w.WriteNumber("exitCode", ExitCode);
            w.WriteString("summary", Summary);
            w.WriteStartObject("essentials");
            WriteNullable(w, "signaling", Essentials.Signaling);
            w.WriteBoolean("stun", Essentials.Stun);
            WriteNullable(w, "turn", Essentials.Turn);
            w.WriteEndObject();
            if (Nat is { } nat)
            {
                w.WriteStartObject("nat");
                w.WriteString("mapping", NatText.Id(nat.Mapping));
                w.WriteString("filtering", NatText.Id(nat.Filtering));
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("nat");
            }
            w.WriteStartArray("checks");
            foreach (var c in Checks)
            {
                w.WriteStartObject();
                w.WriteString("id", c.Id);
                w.WriteString("group", c.Group);
                w.WriteString("title", c.Title);
                w.WriteString("status", StatusText(c.Status));
                w.WriteString("verdict", c.Verdict);
                WriteNullable(w, "advice", c.Advice);
                if (c.LatencyMs is { } ms)
                {
                    w.WriteNumber("latencyMs", Math.Round(ms, 1));
                }
                else
                {
                    w.WriteNull("latencyMs");
                }
                w.WriteStartObject("details");
                foreach (var (k, v) in c.Details ?? new Dictionary<string, string>(StringComparer.Ordinal))
                {
                    w.WriteString(k, v);
                }
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public static string StatusText(CheckStatus status) => status switch
    {
        CheckStatus.Ok => "ok",
        CheckStatus.Warn => "warn",
        CheckStatus.Fail => "fail",
        _ => "skip",
    };

    private static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, bool? value)
    {
        if (value is { } b)
        {
            w.WriteBoolean(name, b);
        }
        else
        {
            w.WriteNull(name);
        }
    }
}

/// <summary>Exit codes of <c>ghostchat doctor</c> (documented in the operator guide).</summary>
internal static class DoctorExitCodes
{
    /// <summary>Signaling (when checked), at least one STUN server and, when TURN is configured, at least one TURN server work.</summary>
    public const int Ok = 0;

    /// <summary>Something essential failed: signaling unreachable, no working STUN, or no TURN path although TURN is configured.</summary>
    public const int EssentialFailed = 1;

    /// <summary>The command line was wrong (bad URL, bad option value); nothing was checked.</summary>
    public const int Usage = 2;
}

/// <summary>Hears about checks as they start and finish (the live table).</summary>
internal interface IDoctorObserver
{
    void Started(string id, string title);

    void Completed(DoctorCheck check);
}
