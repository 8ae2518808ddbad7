namespace GhostChat.Cli.Tests;

/// <summary>
/// <c>ghostchat stats</c> and <c>ghostchat feedback</c> against a real HTTP server that answers what GhostChat never
/// sends: each gets a clear error and exit 1, and no error message repeats the body (it could hold feedback text).
/// </summary>
public sealed class FieldDataMalformedTests
{
    private const string Json = "application/json; charset=utf-8";

    /// <summary>What no error message may repeat.</summary>
    private const string Secret = "private words of a person";

    private const string ValidStats = """
        {"from":"2026-12-01T00:00:00+00:00","to":"2026-12-07T23:00:00+00:00",
         "figures":{"reports":1,"attempts":2,"connected":1,"successRate":0.5,"connectedWithin10s":1,"sent":10,"delivered":9,
                    "givenUp":1,"deliveryRate":0.9,"recoveries":0,"resumedWithin15s":null,"relayShare":null,"feedback":0},
         "rows":[{"hour":1764547200,"metric":"attempt","key":"connected","count":1},{"hour":1764547200,"metric":"attempt","key":"failed","count":1}]}
        """;

    private const string ValidFeedback = $$"""[{"id":1,"hour":"2026-12-01T10:00:00+00:00","text":"{{Secret}}","diagnostics":null}]""";

    [Fact]
    public async Task Stats_WellFormed_WithMembersAddedLater_Shown_MostCountedFirst_PathPrefixKept()
    {
        var body = ValidStats
            .Replace("\"rows\":[", "\"newer\":{\"a\":[1]},\"rows\":[{\"hour\":1764547200,\"metric\":\"browser\",\"key\":\"firefox 128\",\"count\":1},"
                + "{\"hour\":1764550800,\"metric\":\"browser\",\"key\":\"chrome 120\",\"count\":5},", StringComparison.Ordinal);
        await using var server = await CannedServer.StartAsync(200, Json, body);

        var (exit, stdout, stderr) = await GhostchatProcess.RunAsync("stats", server.Address + "/ghostchat", "--days", "3");

        Assert.True(exit == 0, stderr);
        Assert.Equal("50.0 % (1 of 2 attempts)", TableText.Row(stdout, "Connection success")[1]);
        var browsers = TableText.Rows(stdout).Where(cells => cells[0] is "chrome 120" or "firefox 128").ToList();
        Assert.Equal(["chrome 120", "5", "83.3 %"], browsers[0]);
        Assert.Equal(["firefox 128", "1", "16.7 %"], browsers[1]);
        Assert.Equal(["GET /ghostchat/api/stats?days=3"], server.Requests);
    }

    [Fact]
    public async Task Stats_UntrustedCertificate_RefusedUnlessInsecure()
    {
        await using var server = await CannedServer.StartAsync(200, Json, ValidStats, https: true);

        var (exit, stdout, stderr) = await GhostchatProcess.RunAsync("stats", server.Address);
        Assert.Equal(1, exit);
        Assert.Empty(stdout);
        Assert.Contains("The HTTPS connection to", stderr, StringComparison.Ordinal);

        (exit, stdout, stderr) = await GhostchatProcess.RunAsync("stats", server.Address, "--insecure");
        Assert.True(exit == 0, stderr);
        Assert.Equal("50.0 % (1 of 2 attempts)", TableText.Row(stdout, "Connection success")[1]);
    }

    public static TheoryData<string, string, string?, string, string> Malformed() => new()
    {
        { "stats", "not JSON", Json, "days=7&" + Secret, "not what GhostChat sends" },
        { "stats", "truncated", Json, ValidStats[..60], "not what GhostChat sends" },
        { "stats", "null", Json, "null", "not what GhostChat sends" },
        { "stats", "an array", Json, $"[\"{Secret}\"]", "not what GhostChat sends" },
        { "stats", "no figures", Json, """{"from":"2026-12-01T00:00:00Z","to":"2026-12-07T23:00:00Z","rows":[]}""", "not what GhostChat sends" },
        { "stats", "count as a string", Json, ValidStats.Replace("\"reports\":1", "\"reports\":\"1\"", StringComparison.Ordinal), "at $.figures.reports" },
        { "stats", "rows null", Json, ValidStats.Replace("\"rows\":[", "\"rows\":null,\"x\":[", StringComparison.Ordinal), "not what GhostChat sends" },
        { "stats", "time not a time", Json, ValidStats.Replace("2026-12-01T00:00:00+00:00", Secret, StringComparison.Ordinal), "at $.from" },
        { "stats", "negative count", Json, ValidStats.Replace("\"sent\":10", "\"sent\":-10", StringComparison.Ordinal), "a negative count" },
        { "stats", "rate above 1", Json, ValidStats.Replace("\"deliveryRate\":0.9", "\"deliveryRate\":1.5", StringComparison.Ordinal), "a rate outside 0 to 1" },
        { "stats", "row not hourly", Json, ValidStats.Replace("1764547200,\"metric\":\"attempt\",\"key\":\"failed\"", "1764547201,\"metric\":\"attempt\",\"key\":\"failed\"", StringComparison.Ordinal), "rows[1] is not an hourly count" },
        { "stats", "an HTML page", "text/html", $"<html><body>{Secret}</body></html>", "answered 200 with text/html, not JSON" },
        { "stats", "no content type", null, ValidStats, "answered 200 with no content type, not JSON" },
        { "feedback", "an object", Json, $$"""{"text":"{{Secret}}"}""", "answered with JSON that is not what GhostChat sends" },
        { "feedback", "text null", Json, ValidFeedback.Replace($"\"{Secret}\"", "null", StringComparison.Ordinal), "answered with JSON that is not what GhostChat sends" },
        { "feedback", "id as a string", Json, ValidFeedback.Replace("\"id\":1", "\"id\":\"1\"", StringComparison.Ordinal), "answered with JSON that is not what GhostChat sends" },
        { "feedback", "id not positive", Json, ValidFeedback.Replace("\"id\":1", "\"id\":0", StringComparison.Ordinal), "answered with JSON that is not what GhostChat sends" },
        { "feedback", "hour finer than the hour", Json, ValidFeedback.Replace("10:00:00", "10:17:00", StringComparison.Ordinal), "answered with JSON that is not what GhostChat sends" },
        { "feedback", "verdicts missing", Json, ValidFeedback.Replace("\"diagnostics\":null", "\"diagnostics\":{\"outlook\":\"relay\"}", StringComparison.Ordinal), "answered with JSON that is not what GhostChat sends" },
        { "feedback", "an id twice", Json, ValidFeedback[..^1] + "," + ValidFeedback[1..], "answered with JSON that is not what GhostChat sends" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task MalformedAnswer_ClearError_Exit1(string command, string what, string? contentType, string body, string message)
    {
        await using var server = await CannedServer.StartAsync(200, contentType, body);

        var (exit, stdout, stderr) = await GhostchatProcess.RunAsync(command, server.Address);

        Assert.True(exit == 1, $"{what}: exit {exit}\n{stdout}\n{stderr}");
        Assert.Empty(stdout);
        Assert.StartsWith($"ghostchat {command}: /api/{command} answered ", stderr, StringComparison.Ordinal);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Feedback_TerminalControlCharacters_NeverReachTheTerminal()
    {
        // The server refuses such feedback; the command does not rely on it.
        await using var server = await CannedServer.StartAsync(200, Json,
            ValidFeedback.Replace(Secret, "before\\u001b[2J\\u001b]0;title\\u0007\\u202Eafter", StringComparison.Ordinal));

        var (exit, stdout, stderr) = await GhostchatProcess.RunAsync("feedback", server.Address);

        Assert.True(exit == 0, stderr);
        Assert.Contains("before", stdout, StringComparison.Ordinal);
        Assert.Contains("after", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', stdout);
        Assert.DoesNotContain('\u0007', stdout);
        Assert.DoesNotContain('\u202E', stdout);
        Assert.Contains("before\uFFFD[2J", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("stats")]
    [InlineData("feedback")]
    public async Task ServerError_ItsMessageShown_Exit1(string command)
    {
        await using var server = await CannedServer.StartAsync(503, Json, """{"error":"Field data cannot be read right now."}""");

        var (exit, stdout, stderr) = await GhostchatProcess.RunAsync(command, server.Address);

        Assert.Equal(1, exit);
        Assert.Empty(stdout);
        Assert.Contains("answered 503 (server error): Field data cannot be read right now.", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("stats")]
    [InlineData("feedback")]
    public async Task NotGhostChat_404Everywhere_SaysOffOrNotGhostChat(string command)
    {
        await using var server = await CannedServer.StartAsync(404, "text/plain", "Not Found");

        var (exit, _, stderr) = await GhostchatProcess.RunAsync(command, server.Address);

        Assert.Equal(1, exit);
        Assert.Contains("Field data is off on this server", stderr, StringComparison.Ordinal);
        Assert.Contains("or this URL is not a GhostChat server", stderr, StringComparison.Ordinal);
        Assert.Contains("GET /api/telemetry", server.Requests);
    }
}
