using System.Text.RegularExpressions;
using static GhostChat.Cli.Tests.TableText;

namespace GhostChat.Cli.Tests;

/// <summary><c>ghostchat stats</c> against a real GhostChat server that received real reports.</summary>
public sealed partial class StatsCommandTests
{
    /// <summary>Firefox 128: connected through the person's own relay over TLS in 1–2 s, one failure; 10 sent, 9 delivered, 1 given up; two recoveries; one error.</summary>
    internal const string FirefoxReport = """
        {"v":1,"browser":{"family":"firefox","major":128},
         "attempts":[{"outcome":"connected","size":"2","ttc":"1-2s","path":"relay","transport":"tls","provider":"custom"},
                     {"outcome":"failed","size":"3-4"}],
         "rooms":[{"size":"2","sent":10,"delivered":9,"givenUp":1,"resumed":["0-2s","15-60s"]}],
         "errors":[{"kind":"ice-failed","diagnostics":{"outlook":"relay","verdicts":["udp-blocked","turn-tls-ok"]}}]}
        """;

    /// <summary>Chrome 120: direct over UDP in under 1 s, relayed over UDP in 10–30 s; 1000 sent and delivered; one error.</summary>
    internal const string ChromeReport = """
        {"v":1,"browser":{"family":"chrome","major":120},
         "attempts":[{"outcome":"connected","size":"2","ttc":"0-1s","path":"direct","transport":"udp"},
                     {"outcome":"connected","size":"3-4","ttc":"10-30s","path":"relay","transport":"udp","provider":"custom"}],
         "rooms":[{"size":"3-4","sent":1000,"delivered":1000,"givenUp":0}],
         "errors":[{"kind":"turn-refused"}]}
        """;

    [Fact]
    public async Task Stats_PostedReports_TablesShowTheirNumbers()
    {
        await using var server = await FieldDataServer.StartAsync();
        await server.PostReportAsync(FirefoxReport);
        await server.PostReportAsync(ChromeReport);

        var (exit, stdout, stderr) = await GhostchatProcess.RunAsync("stats", server.Address);

        Assert.True(exit == 0, stderr);
        Assert.Contains("last 7 days", stdout, StringComparison.Ordinal);
        // 3 of 4 attempts connected: below the 90 % target. 1009 of 1010 delivered: 99.90 %, the 99.9 % target met.
        Assert.Equal(["Connection success", "75.0 % (3 of 4 attempts)", "≥ 90 %", "✘ below target"], Row(stdout, "Connection success"));
        Assert.Equal(["Connected within 10 s", "66.7 % of connections", "< 10 s", ""], Row(stdout, "Connected within 10 s"));
        Assert.Equal(["Delivery", "99.90 % (1,009 delivered, 1 given up; 1,010 sent)", "≥ 99.9 %", "✔ met"], Row(stdout, "Delivery"));
        Assert.Equal("2", Row(stdout, "Recoveries")[1]);
        Assert.Equal("50.0 % of recoveries", Row(stdout, "Resumed within 15 s")[1]);
        Assert.Equal("66.7 % of connections with a known path", Row(stdout, "Relayed connections")[1]);
        Assert.Equal("2", Row(stdout, "Reports")[1]);

        // Time to connect: every bucket in order, against 10 s.
        Assert.Equal(["0-1s", "1", "33.3 %", "within 10 s"], Row(stdout, "0-1s"));
        Assert.Equal(["1-2s", "1", "33.3 %", "within 10 s"], Row(stdout, "1-2s"));
        Assert.Equal(["5-10s", "0", "0.0 %", "within 10 s"], Row(stdout, "5-10s"));
        Assert.Equal(["10-30s", "1", "33.3 %", "over 10 s"], Row(stdout, "10-30s"));
        // Time to resume.
        Assert.Equal(["0-2s", "1", "50.0 %", "within 15 s"], Row(stdout, "0-2s"));
        Assert.Equal(["15-60s", "1", "50.0 %", "over 15 s"], Row(stdout, "15-60s"));
        // Path mix, providers, error kinds, browsers.
        Assert.Equal(["relay/tls", "1", "33.3 %"], Row(stdout, "relay/tls"));
        Assert.Equal(["direct/udp", "1", "33.3 %"], Row(stdout, "direct/udp"));
        Assert.Equal(["relay/udp", "1", "33.3 %"], Row(stdout, "relay/udp"));
        Assert.Equal(["custom", "2", "100.0 %"], Row(stdout, "custom"));
        Assert.Equal(["ice-failed", "1", "50.0 %"], Row(stdout, "ice-failed"));
        Assert.Equal(["turn-refused", "1", "50.0 %"], Row(stdout, "turn-refused"));
        Assert.Equal(["chrome 120", "2", "50.0 %"], Row(stdout, "chrome 120"));
        Assert.Equal(["firefox 128", "2", "50.0 %"], Row(stdout, "firefox 128"));

        // By day: the reports' day (or days, should the test cross midnight) add up to the same.
        var days = Rows(stdout).Where(cells => DayPattern().IsMatch(cells[0])).ToList();
        Assert.InRange(days.Count, 1, 2); // days without reports are left out
        Assert.Contains(days, d => d[3].EndsWith(" !", StringComparison.Ordinal)); // 75 %: below 90 % that day
        Assert.Equal(4, days.Sum(d => int.Parse(d[1], System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(3, days.Sum(d => int.Parse(d[2], System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Empty(stderr);
    }

    [Fact]
    public async Task Stats_Json_SameFiguresAndTables()
    {
        await using var server = await FieldDataServer.StartAsync();
        await server.PostReportAsync(FirefoxReport);
        await server.PostReportAsync(ChromeReport);

        var (exit, json, stderr) = await GhostchatProcess.RunJsonAsync("stats", server.Address, "--days", "1");

        Assert.True(exit == 0, stderr);
        Assert.Equal(1, json.GetProperty("schema").GetInt32());
        Assert.Equal(server.Address, json.GetProperty("server").GetString());
        Assert.Equal(1, json.GetProperty("days").GetInt32());
        var figures = json.GetProperty("figures");
        Assert.Equal(4, figures.GetProperty("attempts").GetInt64());
        Assert.Equal(3, figures.GetProperty("connected").GetInt64());
        Assert.Equal(0.75, figures.GetProperty("successRate").GetDouble(), 6);
        Assert.Equal(1009.0 / 1010, figures.GetProperty("deliveryRate").GetDouble(), 6);
        Assert.Equal(2, figures.GetProperty("recoveries").GetInt64());
        Assert.Equal(0.9, json.GetProperty("targets").GetProperty("successRate").GetDouble());
        Assert.Equal(0.999, json.GetProperty("targets").GetProperty("deliveryRate").GetDouble());
        Assert.Equal(10, json.GetProperty("targets").GetProperty("connectSeconds").GetDouble());
        Assert.Equal("below", json.GetProperty("verdicts").GetProperty("successRate").GetString());
        Assert.Equal("met", json.GetProperty("verdicts").GetProperty("deliveryRate").GetString());
        Assert.Equal(4, json.GetProperty("byDay").EnumerateArray().Sum(d => d.GetProperty("attempts").GetInt64()));
        Assert.InRange(json.GetProperty("byDay").GetArrayLength(), 1, 2); // every UTC day the last 24 hours touch

        static Dictionary<string, long> Table(System.Text.Json.JsonElement json, string name) =>
            json.GetProperty(name).EnumerateArray().ToDictionary(e => e.GetProperty("key").GetString()!, e => e.GetProperty("count").GetInt64());
        Assert.Equal(["0-1s", "1-2s", "2-5s", "5-10s", "10-30s", "30s+"], Table(json, "connect").Keys);
        Assert.Equal(1, Table(json, "connect")["10-30s"]);
        Assert.Equal(1, Table(json, "resume")["15-60s"]);
        Assert.Equal(1, Table(json, "paths")["direct/udp"]);
        Assert.Equal(2, Table(json, "providers")["custom"]);
        Assert.Equal(1, Table(json, "errors")["turn-refused"]);
        Assert.Equal(2, Table(json, "browsers")["firefox 128"]);
    }

    [Fact]
    public async Task Stats_NoReports_SaysSoAndExits0()
    {
        await using var server = await FieldDataServer.StartAsync();

        var (exit, stdout, stderr) = await GhostchatProcess.RunAsync("stats", server.Address, "--days", "1");

        Assert.True(exit == 0, stderr);
        Assert.Contains("last 1 day ", stdout, StringComparison.Ordinal);
        Assert.Contains("No reports in this period", stdout, StringComparison.Ordinal);
        Assert.Equal(["Connection success", "– (0 of 0 attempts)", "≥ 90 %", "no data"], Row(stdout, "Connection success"));
    }

    [Fact]
    public async Task Stats_DaysBeyondRetention_ServerSaysWhy_Exit2()
    {
        await using var server = await FieldDataServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Telemetry:Retention"] = "30.00:00:00" });

        var (exit, stdout, stderr) = await GhostchatProcess.RunAsync("stats", server.Address, "--days", "31");

        Assert.Equal(2, exit);
        Assert.Empty(stdout);
        Assert.Contains("ghostchat stats: /api/stats answered 400: days must be a whole number from 1 to 30.", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--days", "0", "--days must be 1 to 3650")]
    [InlineData("--timeout", "0", "--timeout must be 0.2–120 seconds.")]
    [InlineData("--days", "7", "is not an http:// or https:// URL", "ftp://example.org")]
    public async Task Stats_BadArguments_Exit2_NothingAsked(string option, string value, string message, string url = "127.0.0.1:9")
    {
        var (exit, stdout, stderr) = await GhostchatProcess.RunAsync("stats", url, option, value);

        Assert.Equal(2, exit);
        Assert.Empty(stdout);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stats_FeatureOff_SaysFieldDataIsOff_Exit1()
    {
        await using var server = await FieldDataServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Telemetry:Enabled"] = "false" });

        var (exit, stdout, stderr) = await GhostchatProcess.RunAsync("stats", server.Address);

        Assert.Equal(1, exit);
        Assert.Empty(stdout);
        Assert.Contains("Field data is off on this server", stderr, StringComparison.Ordinal);
        Assert.Contains("GhostChat:Telemetry:Enabled is false", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stats_AddressNotOperator_SaysNotAllowed_Exit1()
    {
        // Operators are elsewhere (TEST-NET-1): this machine's loopback is not one of them, and the figures are operator-only.
        await using var server = await FieldDataServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Ops:DetailFrom:0"] = "192.0.2.0/24" });
        await server.PostReportAsync(FirefoxReport);

        var (exit, stdout, stderr) = await GhostchatProcess.RunAsync("stats", server.Address);

        Assert.Equal(1, exit);
        Assert.Empty(stdout);
        Assert.Contains("This address is not allowed to read field data", stderr, StringComparison.Ordinal);
        Assert.Contains("GhostChat:Ops:DetailFrom", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("is off", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stats_StatsPublic_AnyAddressReads_FeedbackCountHidden()
    {
        await using var server = await FieldDataServer.StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Ops:DetailFrom:0"] = "192.0.2.0/24",
            ["GhostChat:Telemetry:StatsPublic"] = "true",
        });
        await server.PostReportAsync(FirefoxReport);
        await server.PostFeedbackAsync("""{"text":"only the operator counts this"}""");

        var (exit, stdout, stderr) = await GhostchatProcess.RunAsync("stats", server.Address);

        Assert.True(exit == 0, stderr);
        Assert.Equal("50.0 % (1 of 2 attempts)", Row(stdout, "Connection success")[1]);
        Assert.Equal("0", Row(stdout, "Feedback entries")[1]);
    }

    [Fact]
    public async Task Stats_NothingListens_SaysUnreachable_Exit1()
    {
        var (exit, stdout, stderr) = await GhostchatProcess.RunAsync("stats", $"127.0.0.1:{FreePorts.Tcp()}", "--timeout", "3");

        Assert.Equal(1, exit);
        Assert.Empty(stdout);
        Assert.Contains("connection refused", stderr, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}$", RegexOptions.None, matchTimeoutMilliseconds: 1000)]
    private static partial Regex DayPattern();
}
