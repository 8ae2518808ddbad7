using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace GhostChat.Server.Tests.Telemetry;

/// <summary>Reports, feedback and the calls the field-data tests make.</summary>
internal static class TelemetryTestData
{
    /// <summary>
    /// Two attempts (one connected through the person's own relay over TLS, one failed), one room with 10 sent,
    /// 9 delivered, 1 given up and two recoveries, one error with a diagnostics summary.
    /// </summary>
    public const string ValidReport = """
        {"v":1,"browser":{"family":"firefox","major":128},
         "attempts":[{"outcome":"connected","size":"2","ttc":"1-2s","path":"relay","transport":"tls","provider":"custom"},
                     {"outcome":"failed","size":"3-4"}],
         "rooms":[{"size":"2","sent":10,"delivered":9,"givenUp":1,"resumed":["0-2s","15-60s"]}],
         "errors":[{"kind":"ice-failed","diagnostics":{"outlook":"relay","verdicts":["udp-blocked","turn-tls-ok"]}}]}
        """;

    public static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    public static async Task<HttpResponseMessage> PostAsync(HttpClient http, string path, string body, string? forwardedFor = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(body) };
        if (forwardedFor is not null)
        {
            request.Headers.Add("X-Forwarded-For", forwardedFor);
        }
        return await http.SendAsync(request);
    }

    public static async Task<JsonElement> StatsAsync(TestServer server, int days = 7)
    {
        var response = await server.Http.GetAsync($"api/stats?days={days}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public static long Figure(JsonElement stats, string name) => stats.GetProperty("figures").GetProperty(name).GetInt64();

    public static long Count(JsonElement stats, string metric, string key) => stats.GetProperty("rows").EnumerateArray()
        .Where(r => r.GetProperty("metric").GetString() == metric && r.GetProperty("key").GetString() == key)
        .Sum(r => r.GetProperty("count").GetInt64());
}
