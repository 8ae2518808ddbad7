using System.Net;
using System.Text.Json;

namespace GhostChat.Server.Tests.Hosting;

public sealed class SecurityAndOpsTests
{
    [Theory]
    [InlineData("")]
    [InlineData("healthz")]
    [InlineData("readyz")]
    [InlineData("metrics")]
    [InlineData("peerjs/id")]
    [InlineData("peerjs/peers")]
    [InlineData("no/such/page")]
    public async Task EveryResponse_CarriesSecurityHeaders(string path)
    {
        await using var server = await TestServer.StartAsync();
        var response = await server.Http.GetAsync(path);
        var csp = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("default-src 'self'", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-eval", csp, StringComparison.Ordinal);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
        Assert.Equal("same-origin", response.Headers.GetValues("Cross-Origin-Opener-Policy").Single());
        Assert.Equal("same-origin", response.Headers.GetValues("Cross-Origin-Resource-Policy").Single());
        var permissions = response.Headers.GetValues("Permissions-Policy").Single().Split(", ");
        Assert.Contains("camera=(self)", permissions);
        Assert.Contains("microphone=(self)", permissions);
        Assert.Contains("display-capture=(self)", permissions);
        Assert.Contains("geolocation=()", permissions);
        Assert.False(response.Headers.Contains("Strict-Transport-Security")); // plain HTTP: HSTS would be ignored or wrong
    }

    [Fact]
    public async Task Healthz_ReturnsHealthy()
    {
        await using var server = await TestServer.StartAsync();
        var response = await server.Http.GetAsync("healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Readyz_ReportsSignalingWithPeerCounts()
    {
        await using var server = await TestServer.StartAsync();
        await using var peer = await server.RegisterAsync("alice");
        using var doc = JsonDocument.Parse(await server.Http.GetStringAsync("readyz"));
        Assert.Equal("Healthy", doc.RootElement.GetProperty("status").GetString());
        var signaling = doc.RootElement.GetProperty("checks").GetProperty("signaling");
        Assert.Equal("Healthy", signaling.GetProperty("status").GetString());
        Assert.Equal(1, signaling.GetProperty("data").GetProperty("peers").GetInt32());
    }

    [Fact]
    public async Task Readyz_AtConcurrentLimit_ReportsDegraded()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Signaling:ConcurrentLimit"] = "1" });
        await using var peer = await server.RegisterAsync("alice");
        var response = await server.Http.GetAsync("readyz");
        Assert.Contains("Degraded", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_ExposesSignalingInstrumentsInPrometheusFormat()
    {
        await using var server = await TestServer.StartAsync();
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");
        await a.SendAsync(new { type = "OFFER", dst = "bob", payload = new { sdp = "x" } });
        await b.ReceiveAsync();

        var text = await server.MetricsAsync();
        Assert.Contains("# TYPE ghostchat_signaling_messages_relayed_total counter", text, StringComparison.Ordinal);
        Assert.Equal(1, await server.MetricAsync("ghostchat_signaling_messages_relayed_total", "type=\"OFFER\""));
        Assert.Equal(2, await server.MetricAsync("ghostchat_signaling_peers"));
        Assert.Equal(2, await server.MetricAsync("ghostchat_signaling_sockets"));
        Assert.DoesNotContain("alice", text, StringComparison.Ordinal);
    }

    // Attack: anyone on the internet reads /metrics and /readyz detail (peer and socket counts, provider
    // health, rejection reasons). Only DetailFrom (loopback by default) gets them.
    [Theory]
    [InlineData("metrics")]
    [InlineData("METRICS")]
    [InlineData("metrics/")]
    public async Task Metrics_FromAnAddressOutsideDetailFrom_NotFound(string path)
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Ops:DetailFrom:0"] = "192.0.2.0/24" });
        await using var peer = await server.RegisterAsync("alice");
        var response = await server.Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.DoesNotContain("ghostchat_", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Readyz_FromAnAddressOutsideDetailFrom_StatusOnly_HealthzStillAnswers()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Ops:DetailFrom:0"] = "192.0.2.1" });
        await using var peer = await server.RegisterAsync("alice");
        var ready = await server.Http.GetAsync("readyz");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("""{"status":"Healthy"}""", await ready.Content.ReadAsStringAsync());
        Assert.Equal("Healthy", await server.Http.GetStringAsync("healthz"));
    }

    [Fact]
    public async Task MetricsAndReadyz_ClientBehindTrustedProxy_JudgedByTheForwardedAddress()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Network:TrustedProxies:0"] = "127.0.0.1" });
        await using var peer = await server.RegisterAsync("alice");
        // The proxy on loopback forwards an internet client: no detail for it ...
        using var metrics = new HttpRequestMessage(HttpMethod.Get, "metrics") { Headers = { { "X-Forwarded-For", "203.0.113.7" } } };
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.SendAsync(metrics)).StatusCode);
        using var ready = new HttpRequestMessage(HttpMethod.Get, "readyz") { Headers = { { "X-Forwarded-For", "203.0.113.7" } } };
        Assert.Equal("""{"status":"Healthy"}""", await (await server.Http.SendAsync(ready)).Content.ReadAsStringAsync());
        // ... the proxy's own requests (its health checks, a scraper on the machine) get it.
        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync("metrics")).StatusCode);
        Assert.Contains("\"checks\"", await server.Http.GetStringAsync("readyz"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_ThroughAProxyThatIsNotTrusted_NotFound()
    {
        // A proxy on the same machine that GhostChat was not told to trust: every request comes from loopback.
        await using var server = await TestServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "metrics") { Headers = { { "X-Forwarded-For", "203.0.113.7" } } };
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.SendAsync(request)).StatusCode);
    }

    [Fact]
    public async Task DetailFrom_NotAnAddress_RefusesToStart()
    {
        var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Ops:DetailFrom:0"] = "everyone" }));
        Assert.Contains("GhostChat:Ops:DetailFrom", ex.Message, StringComparison.Ordinal);
    }

    // Attack surface (issue 15): with connect-src open to every http(s)/ws(s) host, injected script
    // could send anything anywhere, and a string reaching an HTML or script sink would run.
    [Fact]
    public async Task Csp_ConnectOnlyToItselfByDefault_AndTrustedTypesRequired()
    {
        await using var server = await TestServer.StartAsync();
        var csp = (await server.Http.GetAsync("")).Headers.GetValues("Content-Security-Policy").Single();
        var directives = csp.Split(';', StringSplitOptions.TrimEntries);
        Assert.Contains("connect-src 'self'", directives);
        Assert.Contains("require-trusted-types-for 'script'", directives);
        Assert.Contains("trusted-types default", directives);
    }

    [Fact]
    public async Task Csp_ConnectSources_AddedToConnectSrc()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:SecurityHeaders:ConnectSources:0"] = "https://signal.example.org",
            ["GhostChat:SecurityHeaders:ConnectSources:1"] = "wss://signal.example.org:8443",
        });
        var csp = (await server.Http.GetAsync("healthz")).Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("connect-src 'self' https://signal.example.org wss://signal.example.org:8443", csp.Split(';', StringSplitOptions.TrimEntries));
        Assert.Contains("require-trusted-types-for 'script'", csp, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://a.example; script-src *")]
    [InlineData("*")]
    [InlineData("https://a.example/path")]
    [InlineData("'unsafe-eval'")]
    [InlineData("ftp://a.example")]
    public async Task ConnectSources_NotAnOrigin_RefusesToStart(string value)
    {
        var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:SecurityHeaders:ConnectSources:0"] = value }));
        Assert.Contains("GhostChat:SecurityHeaders:ConnectSources", ex.Message, StringComparison.Ordinal);
    }
}
