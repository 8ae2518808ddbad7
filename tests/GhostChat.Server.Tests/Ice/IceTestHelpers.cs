using System.Net;
using System.Text.Json;

namespace GhostChat.Server.Tests.Ice;

/// <summary>Reads /api/ice answers.</summary>
internal static class IceApi
{
    public sealed record Answer(HttpStatusCode Status, JsonElement Root, string Raw, HttpResponseMessage Response)
    {
        public string[] Providers => [.. Root.GetProperty("providers").EnumerateArray().Select(p => p.GetString()!)];

        public JsonElement Servers => Root.GetProperty("iceServers");

        public string[] UrlsOf(int i) => [.. Servers[i].GetProperty("urls").EnumerateArray().Select(u => u.GetString()!)];
    }

    public static async Task<Answer> GetAsync(TestServer server, string query = "", Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/ice" + query);
        configure?.Invoke(request);
        var response = await server.Http.SendAsync(request);
        var raw = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(raw);
        return new Answer(response.StatusCode, doc.RootElement.Clone(), raw, response);
    }

    /// <summary>Every log line the server wrote, for privacy checks.</summary>
    public static string AllLogs(TestServer server) => string.Join("\n", server.Logs.Records.Select(r => $"{r.Level} {r.Category} {r.Message}"));

    public static Dictionary<string, string?> With(this Dictionary<string, string?> a, Dictionary<string, string?> b)
    {
        foreach (var (k, v) in b)
        {
            a[k] = v;
        }
        return a;
    }

    /// <summary>A STUN-only static provider to fall back on.</summary>
    public static Dictionary<string, string?> Backup(int priority = 50) => new()
    {
        ["GhostChat:Ice:Providers:backup:Type"] = "static",
        ["GhostChat:Ice:Providers:backup:Priority"] = priority.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["GhostChat:Ice:Providers:backup:Urls:0"] = "stun:127.0.0.1:3478",
    };

    public static Dictionary<string, string?> NoProbe() => new() { ["GhostChat:Ice:Probe:Enabled"] = "false" };
}
