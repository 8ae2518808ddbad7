using System.Net;
using System.Net.WebSockets;
using System.Text.Json;

namespace GhostChat.Server.Tests.Hosting;

public sealed class WebAndIceTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("ghostchat-web-").FullName;

    public WebAndIceTests()
    {
        Directory.CreateDirectory(Path.Combine(_root, "assets"));
        File.WriteAllText(Path.Combine(_root, "index.html"), "<!doctype html><title>GhostChat test app</title>");
        File.WriteAllText(Path.Combine(_root, "sw.js"), "self.addEventListener('fetch', () => {});");
        File.WriteAllText(Path.Combine(_root, "assets", "app-3f2c9a.js"), "console.log('app');");
        File.WriteAllText(Path.Combine(_root, "manifest.webmanifest"), "{}");
    }

    private Task<TestServer> StartAsync(Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?> { ["GhostChat:Web:RootPath"] = _root };
        foreach (var (k, v) in extra ?? [])
        {
            settings[k] = v;
        }
        return TestServer.StartAsync(settings);
    }

    [Fact]
    public async Task EntryPage_AndServiceWorker_AreRevalidated_HashedAssetsImmutable()
    {
        await using var server = await StartAsync();
        var index = await server.Http.GetAsync("");
        Assert.Contains("GhostChat test app", await index.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("no-cache", index.Headers.CacheControl!.ToString());

        var sw = await server.Http.GetAsync("sw.js");
        Assert.Equal("no-cache", sw.Headers.CacheControl!.ToString());

        var asset = await server.Http.GetAsync("assets/app-3f2c9a.js");
        Assert.Equal(HttpStatusCode.OK, asset.StatusCode);
        Assert.Contains("immutable", asset.Headers.CacheControl!.ToString(), StringComparison.Ordinal);
        Assert.Equal("application/manifest+json", (await server.Http.GetAsync("manifest.webmanifest")).Content.Headers.ContentType!.MediaType);
    }

    /// <summary>Writes x.br / x.gz beside x the way web/vite.config.ts does.</summary>
    private void Precompress(string relative, string content)
    {
        var file = Path.Combine(_root, relative);
        File.WriteAllText(file, content);
        var raw = System.Text.Encoding.UTF8.GetBytes(content);
        using (var br = File.Create(file + ".br"))
        using (var z = new System.IO.Compression.BrotliStream(br, System.IO.Compression.CompressionLevel.SmallestSize))
        {
            z.Write(raw);
        }
        using (var gz = File.Create(file + ".gz"))
        using (var z = new System.IO.Compression.GZipStream(gz, System.IO.Compression.CompressionLevel.SmallestSize))
        {
            z.Write(raw);
        }
    }

    private static async Task<(HttpResponseMessage Response, string Body)> GetRawAsync(TestServer server, string path, string? acceptEncoding)
    {
        // No automatic decompression: the test reads the bytes as sent.
        using var http = new HttpClient(new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None }) { BaseAddress = server.Http.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (acceptEncoding is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept-Encoding", acceptEncoding);
        }
        var response = await http.SendAsync(request);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        Stream decoded = response.Content.Headers.ContentEncoding.FirstOrDefault() switch
        {
            "br" => new System.IO.Compression.BrotliStream(new MemoryStream(bytes), System.IO.Compression.CompressionMode.Decompress),
            "gzip" => new System.IO.Compression.GZipStream(new MemoryStream(bytes), System.IO.Compression.CompressionMode.Decompress),
            null => new MemoryStream(bytes),
            var other => throw new InvalidOperationException($"unexpected Content-Encoding {other}"),
        };
        using var reader = new StreamReader(decoded);
        return (response, await reader.ReadToEndAsync());
    }

    [Theory]
    [InlineData("br, gzip", "br")]
    [InlineData("gzip, deflate, br;q=0", "gzip")]
    [InlineData("gzip;q=0.5, br;q=1.0", "br")]
    [InlineData("identity", null)]
    [InlineData(null, null)]
    [InlineData("br;q=nonsense,,,", null)]
    public async Task PrecompressedCopies_ServedToBrowsersThatAcceptThem_WithTheOriginalsTypeAndCaching(string? accept, string? expected)
    {
        var script = "console.log('" + new string('x', 4000) + "');";
        Precompress(Path.Combine("assets", "big-9a8b7c.js"), script);
        Precompress("index.html", "<!doctype html><title>GhostChat test app</title>" + new string(' ', 2000));
        await using var server = await StartAsync();

        var (asset, body) = await GetRawAsync(server, "assets/big-9a8b7c.js", accept);
        Assert.Equal(HttpStatusCode.OK, asset.StatusCode);
        Assert.Equal(script, body);
        Assert.Equal(expected, asset.Content.Headers.ContentEncoding.FirstOrDefault());
        Assert.Equal("text/javascript", asset.Content.Headers.ContentType!.MediaType);
        Assert.Contains("immutable", asset.Headers.CacheControl!.ToString(), StringComparison.Ordinal);
        Assert.Contains("Accept-Encoding", asset.Headers.Vary);

        var (entry, html) = await GetRawAsync(server, "", accept);
        Assert.Equal(HttpStatusCode.OK, entry.StatusCode);
        Assert.StartsWith("<!doctype html><title>GhostChat test app</title>", html, StringComparison.Ordinal);
        Assert.Equal(expected, entry.Content.Headers.ContentEncoding.FirstOrDefault());
        Assert.Equal("text/html", entry.Content.Headers.ContentType!.MediaType);
        Assert.Equal("no-cache", entry.Headers.CacheControl!.ToString());
    }

    [Fact]
    public async Task PrecompressedCopies_AreNotFilesOfTheirOwn_AndFilesWithoutCopiesDoNotVary()
    {
        Precompress(Path.Combine("assets", "big-9a8b7c.js"), "console.log('" + new string('x', 4000) + "');");
        await using var server = await StartAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync("assets/big-9a8b7c.js.br")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync("assets/big-9a8b7c.js.gz")).StatusCode);
        var (plain, _) = await GetRawAsync(server, "assets/app-3f2c9a.js", "br, gzip");
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        Assert.Empty(plain.Content.Headers.ContentEncoding);
        Assert.DoesNotContain("Accept-Encoding", plain.Headers.Vary);
        // The signaling broker and the API are untouched.
        var (ice, _) = await GetRawAsync(server, "api/ice", "br, gzip");
        Assert.Empty(ice.Content.Headers.ContentEncoding);
    }

    [Theory]
    [InlineData("../appsettings.json")]
    [InlineData("%2e%2e/appsettings.json")]
    [InlineData("assets/../../etc/passwd")]
    public async Task PathsOutsideTheAppFolder_AreNotServed(string path)
    {
        await using var server = await StartAsync();
        var response = await server.Http.GetAsync(path);
        Assert.NotEqual(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task WithoutABuiltApp_APlainPageSaysSo()
    {
        await using var server = await StartAsync(new() { ["GhostChat:Web:RootPath"] = Path.Combine(_root, "missing") });
        Assert.Contains("web app is not built", await server.Http.GetStringAsync(""), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ApiIce_ReturnsConfiguredServers_NoStore_AndNoSecretsByDefault()
    {
        await using var bare = await StartAsync();
        using (var doc = JsonDocument.Parse(await bare.Http.GetStringAsync("api/ice")))
        {
            Assert.Equal(0, doc.RootElement.GetProperty("iceServers").GetArrayLength());
            Assert.False(doc.RootElement.GetProperty("relayOnly").GetBoolean());
        }

        await using var server = await StartAsync(new()
        {
            ["GhostChat:Ice:Servers:0:Urls:0"] = "stun:stun.example.org:3478",
            ["GhostChat:Ice:Servers:1:Urls:0"] = "turn:turn.example.org:3478?transport=udp",
            ["GhostChat:Ice:Servers:1:Username"] = "1700000000:user",
            ["GhostChat:Ice:Servers:1:Credential"] = "c2VjcmV0",
        });
        var response = await server.Http.GetAsync("api/ice");
        Assert.Equal("no-store", response.Headers.CacheControl!.ToString());
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var servers = json.RootElement.GetProperty("iceServers");
        Assert.Equal("stun:stun.example.org:3478", servers[0].GetProperty("urls")[0].GetString());
        Assert.Equal("1700000000:user", servers[1].GetProperty("username").GetString());
        // The older list is one static provider named "servers", its order kept.
        Assert.Equal(["servers", "servers"], json.RootElement.GetProperty("providers").EnumerateArray().Select(p => p.GetString()));
    }

    [Fact]
    public async Task ApiIce_TurnServerWithoutCredentials_RefusesToStart()
    {
        await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => StartAsync(new()
        {
            ["GhostChat:Ice:Servers:0:Urls:0"] = "turn:turn.example.org:3478",
        }));
    }

    [Fact]
    public async Task Shutdown_ClosesSignalingSocketsWith1001Promptly()
    {
        var server = await StartAsync();
        var a = await server.RegisterAsync("alice");
        var stopping = server.DisposeAsync().AsTask();
        var (status, reason) = await a.WaitClosedAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, status);
        Assert.Equal("server shutting down", reason);
        await stopping.WaitAsync(TimeSpan.FromSeconds(10));
        await a.DisposeAsync();
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
