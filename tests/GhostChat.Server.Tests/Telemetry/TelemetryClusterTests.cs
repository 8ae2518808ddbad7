using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using static GhostChat.Server.Tests.Telemetry.TelemetryTestData;

namespace GhostChat.Server.Tests.Telemetry;

/// <summary>Two nodes on one real redis-server share the aggregates and the feedback.</summary>
public sealed class TelemetryClusterTests
{
    private const string ClusterKey = "test-cluster-key-0123456789abcdef0123456789";

    [Fact]
    public async Task TwoNodes_OneRedis_ReportCountedOnce_BothSeeIt()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = new Dictionary<string, string?>
        {
            ["GhostChat:Redis:ConnectionString"] = redis.ConnectionString,
            ["GhostChat:Redis:ClusterKey"] = ClusterKey,
            ["GhostChat:Redis:KeyPrefix"] = "t" + Guid.NewGuid().ToString("N")[..8] + ":",
            // Set, and ignored: with the cluster on, Redis holds field data.
            ["GhostChat:Telemetry:DatabasePath"] = Path.Combine(Path.GetTempPath(), "ghostchat-unused-" + Guid.NewGuid().ToString("N"), "x.db"),
        };
        await using var node1 = await TestServer.StartAsync(settings);
        await using var node2 = await TestServer.StartAsync(settings);
        await Eventually.TrueAsync(async () => (await node1.Http.GetAsync("readyz")).IsSuccessStatusCode && (await node2.Http.GetAsync("readyz")).IsSuccessStatusCode, "both nodes ready");

        Assert.Equal(HttpStatusCode.NoContent, (await PostAsync(node1.Http, "api/telemetry", ValidReport)).StatusCode);
        foreach (var node in new[] { node1, node2 })
        {
            var stats = await StatsAsync(node);
            Assert.Equal(1, Figure(stats, "reports"));
            Assert.Equal(2, Figure(stats, "attempts"));
            Assert.Equal(10, Figure(stats, "sent"));
        }
        Assert.Equal(HttpStatusCode.NoContent, (await PostAsync(node2.Http, "api/telemetry", ValidReport)).StatusCode);
        Assert.Equal(4, Figure(await StatsAsync(node1), "attempts"));

        Assert.Equal(HttpStatusCode.NoContent, (await PostAsync(node2.Http, "api/feedback", JsonSerializer.Serialize(new { text = "from node 2" }))).StatusCode);
        var entry = Assert.Single((await node1.Http.GetFromJsonAsync<JsonElement>("api/feedback")).EnumerateArray());
        Assert.Equal("from node 2", entry.GetProperty("text").GetString());
        Assert.Equal(HttpStatusCode.NoContent, (await node1.Http.DeleteAsync($"api/feedback/{entry.GetProperty("id").GetInt64()}")).StatusCode);
        Assert.Empty((await node2.Http.GetFromJsonAsync<JsonElement>("api/feedback")).EnumerateArray());
        Assert.False(Directory.Exists(Path.GetDirectoryName(settings["GhostChat:Telemetry:DatabasePath"])));
    }
}
