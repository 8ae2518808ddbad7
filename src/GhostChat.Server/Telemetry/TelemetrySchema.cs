using System.Collections.Frozen;
using System.Globalization;
using System.Text.RegularExpressions;

namespace GhostChat.Server.Telemetry;

/// <summary>
/// The enumerations and bounds of a report (docs/protocol.md, "Field data"), and what an accepted report adds to
/// the hourly aggregates. The lists mirror web/src/core/telemetry; a value not listed here is refused.
/// </summary>
internal static partial class TelemetrySchema
{
    public const int Version = 1;
    public const int MaxBodyBytes = 16 * 1024;
    public const int MaxAttempts = 32;
    public const int MaxRooms = 16;
    public const int MaxErrors = 16;
    public const int MaxResumed = 64;
    public const int MaxCount = 10_000;
    public const int MaxMajor = 999;

    /// <summary>The provider name of a report whose relay the person configured themselves.</summary>
    public const string CustomProvider = "custom";

    /// <summary>What a well-formed provider name this server does not know is counted as.</summary>
    public const string OtherProvider = "other";

    public static readonly FrozenSet<string> Families = Set("chrome", "edge", "firefox", "safari", "samsung", "opera", "other");
    public static readonly FrozenSet<string> Outcomes = Set("connected", "failed");
    public static readonly FrozenSet<string> Sizes = Set("2", "3-4", "5-8", "9+");
    public static readonly string[] ConnectBuckets = ["0-1s", "1-2s", "2-5s", "5-10s", "10-30s", "30s+"];
    public static readonly string[] ResumeBuckets = ["0-2s", "2-5s", "5-15s", "15-60s", "60s+"];
    public static readonly FrozenSet<string> Paths = Set("direct", "relay");
    public static readonly FrozenSet<string> Transports = Set("udp", "tcp", "tls");
    public static readonly FrozenSet<string> ErrorKinds = Set(
        "no-webrtc", "insecure-context", "offline", "signaling-unreachable", "server-refused", "id-taken", "peer-unavailable",
        "room-full", "invite-malformed", "invite-expired", "invite-revoked", "invite-unsupported", "invite-outdated",
        "ice-config-failed", "ice-failed", "turn-refused", "turn-unreachable", "channel-closed", "auth-failed", "rate-limited",
        "removed", "unknown");
    public static readonly FrozenSet<string> Outlooks = Set("direct", "relay", "none", "unknown");
    public static readonly FrozenSet<string> Verdicts = Set(
        "no-webrtc", "insecure-context", "signaling-down", "ice-config-down", "udp-blocked", "symmetric-nat", "nat-friendly",
        "no-nat", "turn-udp-ok", "turn-tcp-ok", "turn-tls-ok", "only-443", "turn-credentials-refused", "relay-unreachable",
        "no-relay-configured");

    private static readonly FrozenSet<string> ConnectSet = Set(ConnectBuckets);
    private static readonly FrozenSet<string> ResumeSet = Set(ResumeBuckets);

    /// <summary>A provider name as GhostChat:Ice spells them.</summary>
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$", RegexOptions.None, matchTimeoutMilliseconds: 1000)]
    private static partial Regex ProviderPattern();

    private static FrozenSet<string> Set(params string[] values) => values.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>
    /// Checks <paramref name="report"/> against the schema. On success <paramref name="increments"/> holds what it adds
    /// (metric, key, count); otherwise <paramref name="problem"/> says what is wrong, and nothing may be stored.
    /// <paramref name="knownProvider"/> gives the canonical name of a provider this server has, or null.
    /// </summary>
    public static bool TryAccept(TelemetryReport report, Func<string, string?> knownProvider, out List<(string Metric, string Key, long Count)> increments, out string problem)
    {
        increments = [];
        problem = Check(report, knownProvider, increments) ?? "";
        if (problem.Length > 0)
        {
            increments.Clear();
            return false;
        }
        increments.Add(("reports", "accepted", 1));
        return true;
    }

    private static string? Check(TelemetryReport r, Func<string, string?> knownProvider, List<(string, string, long)> add)
    {
        if (r.V != Version)
        {
            return $"v must be {Version}.";
        }
        if (!Families.Contains(r.Browser.Family))
        {
            return "browser.family is not one of the listed families.";
        }
        if (r.Browser.Major is < 0 or > MaxMajor)
        {
            return $"browser.major must be 0 to {MaxMajor}.";
        }
        var attempts = r.Attempts ?? [];
        var rooms = r.Rooms ?? [];
        var errors = r.Errors ?? [];
        if (attempts.Length > MaxAttempts || rooms.Length > MaxRooms || errors.Length > MaxErrors)
        {
            return $"at most {MaxAttempts} attempts, {MaxRooms} rooms and {MaxErrors} errors in one report.";
        }
        if (attempts.Length + rooms.Length + errors.Length == 0)
        {
            return "the report is empty.";
        }
        var browser = r.Browser.Family + " " + r.Browser.Major.ToString(CultureInfo.InvariantCulture);
        foreach (var a in attempts)
        {
            if (CheckAttempt(a, knownProvider, add) is { } problem)
            {
                return problem;
            }
            add.Add(("browser", browser, 1));
        }
        foreach (var room in rooms)
        {
            if (CheckRoom(room, add) is { } problem)
            {
                return problem;
            }
        }
        foreach (var e in errors)
        {
            if (!ErrorKinds.Contains(e.Kind))
            {
                return "errors[].kind is not a known error kind.";
            }
            add.Add(("error", e.Kind, 1));
            if (e.Diagnostics is { } d && CheckDiagnostics(d, add) is { } problem)
            {
                return problem;
            }
        }
        return null;
    }

    private static string? CheckAttempt(AttemptReport a, Func<string, string?> knownProvider, List<(string, string, long)> add)
    {
        if (!Outcomes.Contains(a.Outcome))
        {
            return "attempts[].outcome must be connected or failed.";
        }
        if (!Sizes.Contains(a.Size))
        {
            return "attempts[].size is not a room-size bucket.";
        }
        add.Add(("attempt", a.Outcome, 1));
        add.Add(("size", a.Size, 1));
        if (a.Outcome == "failed")
        {
            return a.Ttc is null && a.Path is null && a.Transport is null && a.Provider is null
                ? null
                : "a failed attempt has no ttc, path, transport or provider.";
        }
        if (a.Ttc is null || !ConnectSet.Contains(a.Ttc))
        {
            return "attempts[].ttc is not a time-to-connect bucket.";
        }
        add.Add(("ttc", a.Ttc, 1));
        if (a.Path is null && a.Transport is null && a.Provider is null)
        {
            return null; // the browser could not read the path (no getStats)
        }
        if (a.Path is null || !Paths.Contains(a.Path) || a.Transport is null || !Transports.Contains(a.Transport))
        {
            return "attempts[].path must be direct or relay and transport udp, tcp or tls, or both left out.";
        }
        add.Add(("path", a.Path + "/" + a.Transport, 1));
        if (a.Path == "direct")
        {
            return a.Provider is null ? null : "a direct attempt has no provider.";
        }
        if (a.Provider is null || !ProviderPattern().IsMatch(a.Provider))
        {
            return "attempts[].provider must be a provider name (1-40 letters, digits, '.', '_', '-').";
        }
        var name = a.Provider == CustomProvider ? CustomProvider : knownProvider(a.Provider) ?? OtherProvider;
        add.Add(("provider", name, 1));
        return null;
    }

    private static string? CheckRoom(RoomReport room, List<(string, string, long)> add)
    {
        if (!Sizes.Contains(room.Size))
        {
            return "rooms[].size is not a room-size bucket.";
        }
        if (room.Sent is < 0 or > MaxCount || room.Delivered is < 0 or > MaxCount || room.GivenUp is < 0 or > MaxCount)
        {
            return $"rooms[].sent, delivered and givenUp must be 0 to {MaxCount}.";
        }
        var resumed = room.Resumed ?? [];
        if (resumed.Length > MaxResumed)
        {
            return $"at most {MaxResumed} recoveries per room.";
        }
        if (resumed.Any(b => !ResumeSet.Contains(b)))
        {
            return "rooms[].resumed holds time-to-resume buckets only.";
        }
        add.Add(("messages", "sent", room.Sent));
        add.Add(("messages", "delivered", room.Delivered));
        add.Add(("messages", "given_up", room.GivenUp));
        foreach (var bucket in resumed)
        {
            add.Add(("resume", bucket, 1));
        }
        return null;
    }

    /// <summary>A diagnostics summary: a known outlook and distinct known verdicts. Adds its counts when <paramref name="add"/> is given.</summary>
    public static string? CheckDiagnostics(DiagnosticsSummary d, List<(string, string, long)>? add)
    {
        if (!Outlooks.Contains(d.Outlook))
        {
            return "diagnostics.outlook is not a known outlook.";
        }
        if (d.Verdicts.Length > Verdicts.Count || d.Verdicts.Any(v => !Verdicts.Contains(v)) || d.Verdicts.Distinct(StringComparer.Ordinal).Count() != d.Verdicts.Length)
        {
            return "diagnostics.verdicts holds distinct known verdicts only.";
        }
        add?.Add(("outlook", d.Outlook, 1));
        foreach (var v in d.Verdicts)
        {
            add?.Add(("verdict", v, 1));
        }
        return null;
    }
}
