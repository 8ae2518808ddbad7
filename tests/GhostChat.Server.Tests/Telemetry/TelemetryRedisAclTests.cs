using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using StackExchange.Redis;
using static GhostChat.Server.Tests.Telemetry.TelemetryTestData;

namespace GhostChat.Server.Tests.Telemetry;

/// <summary>Field data works for the least-privileged Redis user that docs/operator-guide.md ("Redis access") documents.</summary>
public sealed class TelemetryRedisAclTests
{
    [Fact]
    public async Task DocumentedAclUser_FieldData_ReportsFeedbackAndPrune()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "GhostChat.slnx")))
        {
            dir = dir.Parent;
        }
        var acl = File.ReadLines(Path.Combine(dir!.FullName, "docs", "operator-guide.md")).Select(l => l.Trim())
            .Single(l => l.StartsWith("ACL SETUSER ghostchat ", StringComparison.Ordinal));
        var password = Guid.NewGuid().ToString("N");
        await using var redis = await RedisServer.StartAsync();
        await using (var admin = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString))
        {
            await admin.GetServer(admin.GetEndPoints()[0]).ExecuteAsync("ACL",
                [.. acl.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(a => (object)(a == ">PASSWORD" ? ">" + password : a))]);
        }
        await using var node = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Redis:ConnectionString"] = $"{redis.ConnectionString},user=ghostchat,password={password}",
            ["GhostChat:Redis:ClusterKey"] = "test-cluster-key-0123456789abcdef0123456789",
            ["GhostChat:Redis:KeyPrefix"] = "ghostchat:",
            ["GhostChat:Telemetry:FeedbackMaxStored"] = "1",
        });
        await Eventually.TrueAsync(async () => (await node.Http.GetAsync("readyz")).IsSuccessStatusCode, "node ready");
        Assert.Equal(HttpStatusCode.NoContent, (await PostAsync(node.Http, "api/telemetry", ValidReport)).StatusCode);
        Assert.Equal(2, Figure(await StatsAsync(node), "attempts"));
        Assert.Equal(HttpStatusCode.NoContent, (await PostAsync(node.Http, "api/feedback", JsonSerializer.Serialize(new { text = "acl" }))).StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await PostAsync(node.Http, "api/feedback", JsonSerializer.Serialize(new { text = "full" }))).StatusCode);
        var entry = Assert.Single((await node.Http.GetFromJsonAsync<JsonElement>("api/feedback")).EnumerateArray());
        Assert.Equal("acl", entry.GetProperty("text").GetString());
        Assert.Equal(HttpStatusCode.NoContent, (await node.Http.DeleteAsync($"api/feedback/{entry.GetProperty("id").GetInt64()}")).StatusCode);
        await node.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<GhostChat.Server.Telemetry.TelemetryRetention>().Single().PruneOnceAsync(CancellationToken.None);
        Assert.DoesNotContain(node.Logs.Records, r => r.Message.Contains("failed", StringComparison.OrdinalIgnoreCase) && r.Category.Contains("Telemetry", StringComparison.Ordinal));
    }
}
