using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using static GhostChat.Server.Tests.Telemetry.TelemetryTestData;

namespace GhostChat.Server.Tests.Telemetry;

public sealed class FeedbackTests
{
    private static readonly string[] UdpBlocked = ["udp-blocked"];

    private static string Body(object value) => JsonSerializer.Serialize(value);

    [Fact]
    public async Task Feedback_RoundTrip_OperatorReadsWithHourOnly_AndDeletes()
    {
        await using var server = await TestServer.StartAsync();
        var text = "Works great 👨‍👩‍👧 but the code\nwas hard to compare";
        var sent = await PostAsync(server.Http, "api/feedback", Body(new { text, diagnostics = new { outlook = "relay", verdicts = UdpBlocked } }));
        Assert.Equal(HttpStatusCode.NoContent, sent.StatusCode);

        var list = await server.Http.GetFromJsonAsync<JsonElement>("api/feedback");
        var entry = Assert.Single(list.EnumerateArray());
        Assert.Equal(text, entry.GetProperty("text").GetString());
        Assert.Equal("relay", entry.GetProperty("diagnostics").GetProperty("outlook").GetString());
        var hour = entry.GetProperty("hour").GetDateTimeOffset();
        Assert.Equal(0, hour.ToUnixTimeSeconds() % 3600);
        Assert.Equal(["id", "hour", "text", "diagnostics"], entry.EnumerateObject().Select(p => p.Name));

        var id = entry.GetProperty("id").GetInt64();
        Assert.Equal(HttpStatusCode.NoContent, (await server.Http.DeleteAsync($"api/feedback/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.DeleteAsync($"api/feedback/{id}")).StatusCode);
        Assert.Empty((await server.Http.GetFromJsonAsync<JsonElement>("api/feedback")).EnumerateArray());
        Assert.Equal(1, await server.MetricAsync("ghostchat_telemetry_feedback_total", "result=\"accepted\""));
    }

    public static TheoryData<string, string> Malformed() => new()
    {
        { "empty", Body(new { text = "   " }) },
        { "too long", Body(new { text = new string('a', 2001) }) },
        { "control character", Body(new { text = "hi\u001b[31mred" }) },
        { "direction override", Body(new { text = "hi \u202Eevil" }) },
        { "unknown field", Body(new { text = "hi", email = "a@example.org" }) },
        { "text not a string", """{"text":42}""" },
        { "missing text", """{"diagnostics":null}""" },
        { "bad diagnostics", Body(new { text = "hi", diagnostics = new { outlook = "sideways", verdicts = Array.Empty<string>() } }) },
        { "oversized", Body(new { text = new string('a', 20_000) }) },
        { "not JSON", "text=hi" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task Feedback_Malformed_Refused400_NothingStored(string what, string body)
    {
        await using var server = await TestServer.StartAsync();
        var response = await PostAsync(server.Http, "api/feedback", body);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{what}: {(int)response.StatusCode}");
        Assert.Empty((await server.Http.GetFromJsonAsync<JsonElement>("api/feedback")).EnumerateArray());
    }

    [Fact]
    public async Task Feedback_Flood_RateLimited_AndFull_Refused503()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Network:TrustedProxies:0"] = "127.0.0.1",
            ["GhostChat:Telemetry:FeedbackMaxStored"] = "3",
        });
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            statuses.Add((await PostAsync(server.Http, "api/feedback", Body(new { text = $"note {i}" }), forwardedFor: "203.0.113.9")).StatusCode);
        }
        Assert.Equal([HttpStatusCode.NoContent, HttpStatusCode.NoContent, HttpStatusCode.NoContent], statuses.Take(3));
        Assert.All(statuses.Skip(3), s => Assert.Equal(HttpStatusCode.TooManyRequests, s));
        // Another address is not limited, but the store is full: 503 until the operator deletes some.
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await PostAsync(server.Http, "api/feedback", Body(new { text = "one more" }), forwardedFor: "198.51.100.1")).StatusCode);
        Assert.Equal(3, (await server.Http.GetFromJsonAsync<JsonElement>("api/feedback")).GetArrayLength());
    }
}
