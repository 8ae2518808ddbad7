using System.Net;
using System.Text.Json;
using GhostChat.Server.Hosting;
using GhostChat.Server.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using static GhostChat.Server.Tests.Telemetry.TelemetryTestData;

namespace GhostChat.Server.Tests.Telemetry;

public sealed class TelemetryEndpointTests
{
    [Fact]
    public async Task Report_Valid_AddsToHourlyAggregatesAndMetrics()
    {
        await using var server = await TestServer.StartAsync();
        var response = await PostAsync(server.Http, "api/telemetry", ValidReport);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);

        var stats = await StatsAsync(server);
        Assert.Equal(1, Figure(stats, "reports"));
        Assert.Equal(2, Figure(stats, "attempts"));
        Assert.Equal(1, Figure(stats, "connected"));
        Assert.Equal(0.5, stats.GetProperty("figures").GetProperty("successRate").GetDouble());
        Assert.Equal(10, Figure(stats, "sent"));
        Assert.Equal(0.9, stats.GetProperty("figures").GetProperty("deliveryRate").GetDouble(), 6);
        Assert.Equal(2, Figure(stats, "recoveries"));
        Assert.Equal(1, Count(stats, "path", "relay/tls"));
        Assert.Equal(1, Count(stats, "provider", "custom"));
        Assert.Equal(2, Count(stats, "browser", "firefox 128"));
        Assert.Equal(1, Count(stats, "error", "ice-failed"));
        Assert.Equal(1, Count(stats, "verdict", "udp-blocked"));
        // Every row is an hour: no finer time.
        Assert.All(stats.GetProperty("rows").EnumerateArray(), r => Assert.Equal(0, r.GetProperty("hour").GetInt64() % 3600));

        Assert.Equal(1, await server.MetricAsync("ghostchat_telemetry_field_total", "metric=\"attempt\"", "key=\"connected\""));
        Assert.Equal(1, await server.MetricAsync("ghostchat_telemetry_reports_total", "result=\"accepted\""));
    }

    [Fact]
    public async Task Report_ProviderName_KnownCanonical_UnknownCountedAsOther()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Ice:Providers:Relay-A:Type"] = "static",
            ["GhostChat:Ice:Providers:Relay-A:Urls:0"] = "stun:stun.example.org:3478",
        });
        foreach (var provider in new[] { "relay-a", "somebody-elses" })
        {
            var body = ValidReport.Replace("\"provider\":\"custom\"", $"\"provider\":\"{provider}\"", StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.NoContent, (await PostAsync(server.Http, "api/telemetry", body)).StatusCode);
        }
        var stats = await StatsAsync(server);
        Assert.Equal(1, Count(stats, "provider", "Relay-A"));
        Assert.Equal(1, Count(stats, "provider", "other"));
        Assert.Equal(0, Count(stats, "provider", "somebody-elses"));
    }

    public static TheoryData<string, string> Malformed() => new()
    {
        { "unknown top-level field", ValidReport.Replace("\"v\":1,", "\"v\":1,\"peerId\":\"abc\",", StringComparison.Ordinal) },
        { "unknown nested field", ValidReport.Replace("\"major\":128", "\"major\":128,\"ua\":\"Mozilla/5.0\"", StringComparison.Ordinal) },
        { "unknown field in an attempt", ValidReport.Replace("{\"outcome\":\"failed\",", "{\"outcome\":\"failed\",\"ip\":\"192.0.2.1\",", StringComparison.Ordinal) },
        { "wrong version", ValidReport.Replace("\"v\":1", "\"v\":2", StringComparison.Ordinal) },
        { "number as string", ValidReport.Replace("\"major\":128", "\"major\":\"128\"", StringComparison.Ordinal) },
        { "fraction", ValidReport.Replace("\"sent\":10", "\"sent\":10.5", StringComparison.Ordinal) },
        { "string as number", ValidReport.Replace("\"family\":\"firefox\"", "\"family\":7", StringComparison.Ordinal) },
        { "negative count", ValidReport.Replace("\"sent\":10", "\"sent\":-1", StringComparison.Ordinal) },
        { "count too large", ValidReport.Replace("\"sent\":10", "\"sent\":10001", StringComparison.Ordinal) },
        { "count beyond int", ValidReport.Replace("\"sent\":10", "\"sent\":99999999999999999999", StringComparison.Ordinal) },
        { "major too large", ValidReport.Replace("\"major\":128", "\"major\":1000", StringComparison.Ordinal) },
        { "unknown family", ValidReport.Replace("\"firefox\"", "\"netscape\"", StringComparison.Ordinal) },
        { "unknown bucket", ValidReport.Replace("\"1-2s\"", "\"1.37s\"", StringComparison.Ordinal) },
        { "unknown resume bucket", ValidReport.Replace("\"0-2s\"", "\"1234ms\"", StringComparison.Ordinal) },
        { "unknown error kind", ValidReport.Replace("\"ice-failed\"", "\"my name is Alice\"", StringComparison.Ordinal) },
        { "unknown verdict", ValidReport.Replace("\"udp-blocked\"", "\"10.0.0.7\"", StringComparison.Ordinal) },
        { "repeated verdict", ValidReport.Replace("\"turn-tls-ok\"", "\"udp-blocked\"", StringComparison.Ordinal) },
        { "provider not a name", ValidReport.Replace("\"provider\":\"custom\"", "\"provider\":\"turn:198.51.100.4\"", StringComparison.Ordinal) },
        { "direct with provider", ValidReport.Replace("\"path\":\"relay\"", "\"path\":\"direct\"", StringComparison.Ordinal) },
        { "failed with a time", ValidReport.Replace("{\"outcome\":\"failed\",\"size\":\"3-4\"}", "{\"outcome\":\"failed\",\"size\":\"3-4\",\"ttc\":\"0-1s\"}", StringComparison.Ordinal) },
        { "path without transport", ValidReport.Replace("\"transport\":\"tls\",", "", StringComparison.Ordinal) },
        { "connected without a time", ValidReport.Replace("\"ttc\":\"1-2s\",", "", StringComparison.Ordinal) },
        { "missing browser", ValidReport.Replace("\"browser\":{\"family\":\"firefox\",\"major\":128},", "", StringComparison.Ordinal) },
        { "null browser", ValidReport.Replace("{\"family\":\"firefox\",\"major\":128}", "null", StringComparison.Ordinal) },
        { "duplicate member", ValidReport.Replace("\"v\":1,", "\"v\":1,\"v\":1,", StringComparison.Ordinal) },
        { "empty report", """{"v":1,"browser":{"family":"chrome","major":120}}""" },
        { "too many attempts", """{"v":1,"browser":{"family":"chrome","major":120},"attempts":[""" + string.Join(",", Enumerable.Repeat("""{"outcome":"failed","size":"2"}""", 33)) + "]}" },
        { "too many recoveries", ValidReport.Replace("[\"0-2s\",\"15-60s\"]", "[" + string.Join(",", Enumerable.Repeat("\"0-2s\"", 65)) + "]", StringComparison.Ordinal) },
        { "not an object", "[1,2,3]" },
        { "null", "null" },
        { "not JSON", "v=1&browser=chrome" },
        { "truncated", ValidReport[..40] },
        { "too deep", new string('[', 100) + new string(']', 100) },
        { "oversized", ValidReport.Replace("\"v\":1,", "\"v\":1,\"pad\":\"" + new string('x', 17_000) + "\",", StringComparison.Ordinal) },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task Report_Malformed_Refused400_NothingStored(string what, string body)
    {
        await using var server = await TestServer.StartAsync();
        var response = await PostAsync(server.Http, "api/telemetry", body);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{what}: {(int)response.StatusCode}");
        var problem = await response.Content.ReadAsStringAsync();
        Assert.Contains("\"error\"", problem, StringComparison.Ordinal);
        Assert.Empty((await StatsAsync(server)).GetProperty("rows").EnumerateArray());
        Assert.Equal(0, await server.MetricAsync("ghostchat_telemetry_field_total"));
    }

    [Fact]
    public async Task Report_NotJsonContentType_Refused400()
    {
        await using var server = await TestServer.StartAsync();
        var response = await server.Http.PostAsync("api/telemetry", new StringContent(ValidReport, System.Text.Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty((await StatsAsync(server)).GetProperty("rows").EnumerateArray());
    }

    [Fact]
    public async Task Report_Flood_RateLimited429_OtherAddressesUnaffected()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Network:TrustedProxies:0"] = "127.0.0.1",
            ["GhostChat:Telemetry:Reports:Burst"] = "3",
            ["GhostChat:Telemetry:Reports:PerMinute"] = "1",
        });
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 20; i++)
        {
            statuses.Add((await PostAsync(server.Http, "api/telemetry", ValidReport, forwardedFor: "203.0.113.9")).StatusCode);
        }
        Assert.Equal(3, statuses.Count(s => s == HttpStatusCode.NoContent));
        Assert.Equal(17, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        var limited = await PostAsync(server.Http, "api/telemetry", ValidReport, forwardedFor: "203.0.113.9");
        Assert.True(limited.Headers.RetryAfter?.Delta > TimeSpan.Zero);

        // Someone else behind the same proxy is not affected.
        Assert.Equal(HttpStatusCode.NoContent, (await PostAsync(server.Http, "api/telemetry", ValidReport, forwardedFor: "198.51.100.20")).StatusCode);
        Assert.Equal(4, Figure(await StatsAsync(server), "reports"));
        Assert.Equal(18, await server.MetricAsync("ghostchat_telemetry_reports_total", "result=\"rate_limited\""));
    }

    [Fact]
    public async Task Disabled_EveryEndpointAndThePage404()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Telemetry:Enabled"] = "false" });
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync("api/telemetry")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await PostAsync(server.Http, "api/telemetry", ValidReport)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await PostAsync(server.Http, "api/feedback", """{"text":"hi"}""")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync("api/stats")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync("stats")).StatusCode);
    }

    [Fact]
    public async Task Config_Enabled_SaysSoWithoutCaching()
    {
        await using var server = await TestServer.StartAsync();
        var response = await server.Http.GetAsync("api/telemetry");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        var config = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.True(config.GetProperty("enabled").GetBoolean());
        Assert.False(config.GetProperty("statsPublic").GetBoolean());
    }

    [Theory]
    [InlineData(false, HttpStatusCode.NotFound)]
    [InlineData(true, HttpStatusCode.OK)]
    public async Task Stats_OperatorOnlyUnlessPublic_FeedbackAlwaysOperatorOnly(bool statsPublic, HttpStatusCode forOthers)
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Telemetry:StatsPublic"] = statsPublic.ToString() });
        // A request that came through a proxy nobody trusts is not the operator (OpsExtensions.MaySeeDetail).
        async Task<HttpStatusCode> AsOther(string path)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Add("X-Forwarded-For", "203.0.113.9");
            return (await server.Http.SendAsync(request)).StatusCode;
        }
        Assert.Equal(forOthers, await AsOther("api/stats"));
        Assert.Equal(HttpStatusCode.NotFound, await AsOther("api/feedback"));
        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync("api/stats")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync("api/feedback")).StatusCode);
        using var delete = new HttpRequestMessage(HttpMethod.Delete, "api/feedback/1");
        delete.Headers.Add("X-Forwarded-For", "203.0.113.9");
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.SendAsync(delete)).StatusCode);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("8")]
    [InlineData("-1")]
    [InlineData("1e2")]
    [InlineData("seven")]
    public async Task Stats_DaysOutOfRange_Refused400(string days)
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Telemetry:Retention"] = "7.00:00:00" });
        Assert.Equal(HttpStatusCode.BadRequest, (await server.Http.GetAsync($"api/stats?days={days}")).StatusCode);
    }

    [Fact]
    public async Task Retention_OldHoursPruned_RecentKept()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Telemetry:Retention"] = "2.00:00:00" }, fakeTime: true);
        Assert.Equal(HttpStatusCode.NoContent, (await PostAsync(server.Http, "api/telemetry", ValidReport)).StatusCode);
        var retention = server.Services.GetServices<IHostedService>().OfType<TelemetryRetention>().Single();
        var store = server.Services.GetRequiredService<ITelemetryStore>();
        server.Time!.Advance(TimeSpan.FromDays(1));
        await retention.PruneOnceAsync(CancellationToken.None);
        Assert.NotEmpty(await store.ReadAsync(0, long.MaxValue, CancellationToken.None));
        server.Time.Advance(TimeSpan.FromDays(1.5));
        await retention.PruneOnceAsync(CancellationToken.None);
        Assert.Empty(await store.ReadAsync(0, long.MaxValue, CancellationToken.None));
    }

    [Fact]
    public async Task InvalidOptions_HostRefusesToStart_ListingEveryProblem()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using var app = GhostChatHost.Build(["--urls", "http://127.0.0.1:0"], b => b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["GhostChat:Turn:Enabled"] = "false",
                ["GhostChat:Telemetry:Retention"] = "00:10:00",
                ["GhostChat:Telemetry:Reports:Burst"] = "5",
                ["GhostChat:Telemetry:Reports:PerMinute"] = "0",
                ["GhostChat:Telemetry:FeedbackMaxLength"] = "0",
            }));
            await app.StartAsync();
        });
        var all = string.Join("\n", ex.Failures);
        Assert.Contains("GhostChat:Telemetry:Retention", all, StringComparison.Ordinal);
        Assert.Contains("GhostChat:Telemetry:Reports:PerMinute", all, StringComparison.Ordinal);
        Assert.Contains("GhostChat:Telemetry:FeedbackMaxLength", all, StringComparison.Ordinal);
    }
}
