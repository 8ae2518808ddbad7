using System.Net;
using System.Text.Json;

namespace GhostChat.Server.Tests.Signaling;

public sealed class HttpEndpointTests
{
    [Fact]
    public async Task GetId_ReturnsLowerCaseUuidV4AsTextHtmlWithoutNewline()
    {
        await using var server = await TestServer.StartAsync();
        var response = await server.Http.GetAsync("peerjs/id?ts=123&version=1.5.5");
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.Matches("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", body);
        Assert.NotEqual(body, await server.Http.GetStringAsync("peerjs/id"));
    }

    [Fact]
    public async Task GetId_AnyKeySegment_StillAnswersLikeTheReference()
    {
        await using var server = await TestServer.StartAsync();
        var body = await server.Http.GetStringAsync("anything/id");
        Assert.Equal(36, body.Length);
    }

    [Fact]
    public async Task GetPeers_DiscoveryOff_Returns401Unauthorized()
    {
        await using var server = await TestServer.StartAsync();
        await using var peer = await server.RegisterAsync("alice");
        var response = await server.Http.GetAsync("peerjs/peers");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Unauthorized", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task GetPeers_DiscoveryOn_ListsRegisteredIds()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Signaling:AllowDiscovery"] = "true" });
        Assert.Equal("[]", await server.Http.GetStringAsync("peerjs/peers"));
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");
        var ids = JsonSerializer.Deserialize<string[]>(await server.Http.GetStringAsync("peerjs/peers"))!;
        Assert.Equal(["alice", "bob"], ids.Order());
    }

    [Fact]
    public async Task Cors_DefaultEchoesAnyOriginWithVary()
    {
        await using var server = await TestServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "peerjs/id");
        request.Headers.Add("Origin", "https://app.example");
        var response = await server.Http.SendAsync(request);
        Assert.Equal("https://app.example", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal(["Origin"], response.Headers.Vary);
    }

    [Fact]
    public async Task Cors_WithoutOrigin_NoAllowOriginButStillVary()
    {
        await using var server = await TestServer.StartAsync();
        var response = await server.Http.GetAsync("peerjs/id");
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.Equal(["Origin"], response.Headers.Vary);
    }

    [Fact]
    public async Task Cors_Preflight_Returns204WithAllowHeaders()
    {
        await using var server = await TestServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Options, "peerjs/id");
        request.Headers.Add("Origin", "https://app.example");
        request.Headers.Add("Access-Control-Request-Method", "GET");
        request.Headers.Add("Access-Control-Request-Headers", "x-custom");
        var response = await server.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("https://app.example", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("x-custom", response.Headers.GetValues("Access-Control-Allow-Headers").Single(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Cors_AllowList_OtherOriginsGetNoAllowOrigin()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Signaling:AllowedOrigins:0"] = "https://chat.example" });
        using var allowed = new HttpRequestMessage(HttpMethod.Get, "peerjs/id");
        allowed.Headers.Add("Origin", "https://chat.example");
        Assert.True((await server.Http.SendAsync(allowed)).Headers.Contains("Access-Control-Allow-Origin"));

        using var other = new HttpRequestMessage(HttpMethod.Get, "peerjs/id");
        other.Headers.Add("Origin", "https://evil.example");
        Assert.False((await server.Http.SendAsync(other)).Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task CustomPath_ServesBannerAndEndpointsUnderIt()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Signaling:Path"] = "/myapp" });
        var banner = await server.Http.GetAsync("myapp");
        Assert.Equal("application/json; charset=utf-8", banner.Content.Headers.ContentType!.ToString());
        Assert.Equal("""{"name":"PeerJS Server","description":"A server side element to broker connections between PeerJS clients.","website":"https://peerjs.com/"}""",
            await banner.Content.ReadAsStringAsync());
        Assert.Equal(36, (await server.Http.GetStringAsync("myapp/peerjs/id")).Length);

        await using var client = await PeerClient.ConnectAsync(server.WebSocketUri("alice", "t", path: "/myapp/"));
        Assert.Equal("OPEN", (await client.ReceiveAsync()).Type);
    }

    [Fact]
    public async Task WebSocketPath_PlainHttpGet_Returns400WithExplanation()
    {
        await using var server = await TestServer.StartAsync();
        var response = await server.Http.GetAsync("peerjs?key=peerjs&id=a&token=b");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("WebSocket", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WebSocketPath_WrongCase_IsNotTheBroker()
    {
        await using var server = await TestServer.StartAsync();
        var uri = new UriBuilder(server.WebSocketUri("alice", "t")) { Path = "/PEERJS" }.Uri;
        await Assert.ThrowsAnyAsync<System.Net.WebSockets.WebSocketException>(() => PeerClient.ConnectAsync(uri));
    }
}
