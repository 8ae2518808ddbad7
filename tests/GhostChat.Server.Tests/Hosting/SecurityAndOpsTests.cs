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
        Assert.Contains("camera=()", response.Headers.GetValues("Permissions-Policy").Single(), StringComparison.Ordinal);
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
}
