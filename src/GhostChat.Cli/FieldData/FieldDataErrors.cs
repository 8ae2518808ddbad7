using System.Net;

namespace GhostChat.Cli.FieldData;

/// <summary>Exit codes of <c>ghostchat stats</c> and <c>ghostchat feedback</c>.</summary>
internal static class FieldDataExitCodes
{
    /// <summary>The server answered and the answer was shown (or the entry deleted).</summary>
    public const int Ok = 0;

    /// <summary>Unreachable, refused (feature off, address not allowed, no such entry), or an answer that is not GhostChat's JSON.</summary>
    public const int Failed = 1;

    /// <summary>The command line was wrong (bad URL or option value, or --days beyond what the server keeps); nothing was shown.</summary>
    public const int Usage = 2;
}

/// <summary>Why a field-data command stopped: a plain-language message for stderr and the exit code.</summary>
internal sealed class FieldDataException(string message, int exitCode = FieldDataExitCodes.Failed) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>
/// Every message the field-data commands stop with. None repeats a body the server sent (a malformed answer could
/// hold feedback text, which belongs on the operator's terminal only as a table, never in an error or a log).
/// </summary>
internal static class FieldDataErrors
{
    /// <summary>The settings that decide who may read field data, as the operator guide names them.</summary>
    private const string AccessRule =
        "GhostChat:Ops:DetailFrom lists the addresses that may (loopback when empty); a request through a proxy GhostChat "
        + "does not trust (GhostChat:Network:TrustedProxies) never may";

    public static FieldDataException Off(Uri server) => new(
        $"Field data is off on this server: {server} answers 404 to /api/telemetry too (GhostChat:Telemetry:Enabled is false, "
        + "or this URL is not a GhostChat server).");

    public static FieldDataException StatsNotAllowed(Uri server, HttpStatusCode status) => new(
        $"This address is not allowed to read field data on {server} ({(int)status}): the figures are for the operator only "
        + $"(GhostChat:Telemetry:StatsPublic is false). {AccessRule}. Run the command on the server itself, or add this "
        + "machine's address to GhostChat:Ops:DetailFrom.");

    public static FieldDataException FeedbackNotAllowed(Uri server, HttpStatusCode status) => new(
        $"This address is not allowed to read feedback on {server} ({(int)status}): feedback is always for the operator only. "
        + $"{AccessRule}. Run the command on the server itself, or add this machine's address to GhostChat:Ops:DetailFrom.");

    public static FieldDataException NoSuchFeedback(long id) => new(
        $"There is no feedback with id {id} (deleted already, or older than GhostChat:Telemetry:Retention). `ghostchat feedback` lists the ids.");

    public static FieldDataException Refused(string path, HttpStatusCode status, string? problem, int exitCode = FieldDataExitCodes.Failed) => new(
        $"{path} answered {(int)status}{Reason(status)}" + (problem is { Length: > 0 } p ? $": {p}" : "."), exitCode);

    public static FieldDataException NotJson(string path, HttpStatusCode status, string? mediaType) => new(
        $"{path} answered {(int)status} with {(mediaType is { Length: > 0 } m ? m : "no content type")}, not JSON: "
        + "is this the GhostChat server's URL (behind a proxy: does it forward /api/ to GhostChat)?");

    public static FieldDataException Malformed(string path, string what) => new(
        $"{path} answered with JSON that is not what GhostChat sends ({what}): a proxy in between, or a server of another version.");

    public static FieldDataException Unreachable(string verdict, string advice) => new($"{verdict} {advice}");

    private static string Reason(HttpStatusCode status) => status switch
    {
        HttpStatusCode.TooManyRequests => " (too many requests)",
        >= HttpStatusCode.InternalServerError => " (server error)",
        _ => "",
    };
}
