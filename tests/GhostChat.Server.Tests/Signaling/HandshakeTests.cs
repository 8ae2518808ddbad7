using System.Net.WebSockets;

namespace GhostChat.Server.Tests.Signaling;

public sealed class HandshakeTests
{
    private static async Task<(Received Message, WebSocketCloseStatus? Status)> RefusedAsync(TestServer server, Uri uri, Action<ClientWebSocketOptions>? configure = null)
    {
        await using var client = await PeerClient.ConnectAsync(uri, configure);
        var message = await client.ReceiveAsync();
        var (status, _) = await client.WaitClosedAsync();
        return (message, status);
    }

    [Theory]
    [InlineData(null, "a", "t")]
    [InlineData("peerjs", null, "t")]
    [InlineData("peerjs", "a", null)]
    [InlineData("peerjs", "", "t")]
    public async Task MissingParameter_SendsReferenceErrorAndCloses(string? key, string? id, string? token)
    {
        await using var server = await TestServer.StartAsync();
        var (message, status) = await RefusedAsync(server, server.WebSocketUri(id, token, key));
        Assert.Equal("ERROR", message.Type);
        Assert.Equal("No id, token, or key supplied to websocket server", message.ErrorMessage);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, status);
    }

    [Fact]
    public async Task WrongKey_SendsInvalidKeyError()
    {
        await using var server = await TestServer.StartAsync();
        var (message, _) = await RefusedAsync(server, server.WebSocketUri("a", "t", key: "other"));
        Assert.Equal("Invalid key provided", message.ErrorMessage);
    }

    [Fact]
    public async Task ConfiguredKey_IsTheOneAccepted()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Signaling:Key"] = "s3cret" });
        var (message, _) = await RefusedAsync(server, server.WebSocketUri("a", "t", key: "peerjs"));
        Assert.Equal("Invalid key provided", message.ErrorMessage);
        await using var ok = await PeerClient.ConnectAsync(server.WebSocketUri("a", "t", key: "s3cret"));
        Assert.Equal("OPEN", (await ok.ReceiveAsync()).Type);
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("-leading")]
    [InlineData("trailing_")]
    [InlineData("two  spaces")]
    [InlineData("ünïcode")]
    [InlineData("<script>")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")] // 65 chars
    public async Task InvalidId_IsRefusedWithAClearError_OthersUnaffected(string id)
    {
        await using var server = await TestServer.StartAsync();
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");

        var (message, _) = await RefusedAsync(server, server.WebSocketUri(id, "t"));
        Assert.Equal("ERROR", message.Type);
        Assert.StartsWith("Invalid id", message.ErrorMessage, StringComparison.Ordinal);

        await a.SendAsync(new { type = "OFFER", dst = "bob", payload = 1 });
        Assert.Equal("alice", (await b.ReceiveAsync()).Src);
    }

    [Theory]
    [InlineData("a b")]
    [InlineData("A-b_c 9")]
    [InlineData("0123456789012345678901234567890123456789012345678901234567890123")] // 64 chars
    public async Task ValidIdShapes_AreAccepted(string id)
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.RegisterAsync(id, "token");
        Assert.Equal(WebSocketState.Open, client.State);
    }

    [Fact]
    public async Task TokenWithASpace_IsAccepted()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.RegisterAsync("alice", "a token");
        Assert.Equal(WebSocketState.Open, client.State);
    }

    [Fact]
    public async Task InvalidToken_IsRefused()
    {
        await using var server = await TestServer.StartAsync();
        var (message, _) = await RefusedAsync(server, server.WebSocketUri("alice", "tab\tinside"));
        Assert.StartsWith("Invalid token", message.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RepeatedQueryParameters_LastValueWins()
    {
        await using var server = await TestServer.StartAsync();
        var uri = new UriBuilder(server.WebSocketUri("first", "t")) { Query = "key=peerjs&id=first&token=t&id=second" }.Uri;
        await using var client = await PeerClient.ConnectAsync(uri);
        Assert.Equal("OPEN", (await client.ReceiveAsync()).Type);
        await using var other = await server.RegisterAsync("other");
        await other.SendAsync(new { type = "OFFER", dst = "second", payload = 1 });
        Assert.Equal("other", (await client.ReceiveAsync()).Src);
    }

    [Fact]
    public async Task IdHeldWithAnotherToken_GetsIdTaken_HolderUnaffected()
    {
        await using var server = await TestServer.StartAsync();
        await using var holder = await server.RegisterAsync("alice", "token-1");
        var (message, _) = await RefusedAsync(server, server.WebSocketUri("alice", "token-2"));
        Assert.Equal("ID-TAKEN", message.Type);
        Assert.Equal("ID is taken", message.ErrorMessage);

        await using var bob = await server.RegisterAsync("bob");
        await bob.SendAsync(new { type = "OFFER", dst = "alice", payload = 1 });
        Assert.Equal("bob", (await holder.ReceiveAsync()).Src);
    }

    [Fact]
    public async Task SameTokenReattach_NewSocketGetsOpen_OldIsClosed_MessagesGoToNew()
    {
        await using var server = await TestServer.StartAsync();
        await using var old = await server.RegisterAsync("alice", "token-1");
        await using var fresh = await PeerClient.ConnectAsync(server.WebSocketUri("alice", "token-1"));

        Assert.Equal("OPEN", (await fresh.ReceiveAsync()).Type); // the reference sends nothing here
        var (status, reason) = await old.WaitClosedAsync();
        Assert.Equal((WebSocketCloseStatus)4001, status);
        Assert.Equal("replaced by a newer connection", reason);

        await using var bob = await server.RegisterAsync("bob");
        await bob.SendAsync(new { type = "OFFER", dst = "alice", payload = 1 });
        Assert.Equal("bob", (await fresh.ReceiveAsync()).Src);

        // The old socket's close must not unregister the id now held by the new one.
        await bob.SendAsync(new { type = "ANSWER", dst = "alice", payload = 2 });
        Assert.Equal("ANSWER", (await fresh.ReceiveAsync()).Type);
    }

    [Fact]
    public async Task ConcurrentLimit_RefusesNewIdsWithReferenceMessage_ReattachStillWorks()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Signaling:ConcurrentLimit"] = "2" });
        await using var a = await server.RegisterAsync("a", "ta");
        await using var b = await server.RegisterAsync("b", "tb");
        var (message, _) = await RefusedAsync(server, server.WebSocketUri("c", "tc"));
        Assert.Equal("Server has reached its concurrent user limit", message.ErrorMessage);

        await using var again = await PeerClient.ConnectAsync(server.WebSocketUri("a", "ta"));
        Assert.Equal("OPEN", (await again.ReceiveAsync()).Type);
    }

    [Fact]
    public async Task ServerGeneratedIdsOnly_AcceptsIssuedIds_RefusesMadeUpAndTamperedOnes()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Signaling:ServerGeneratedIdsOnly"] = "true" });
        var issued = await server.Http.GetStringAsync("peerjs/id");
        Assert.Matches("^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$", issued); // the PeerJS client accepts it

        await using var ok = await server.RegisterAsync(issued);

        var (madeUp, _) = await RefusedAsync(server, server.WebSocketUri("my-own-id", "t"));
        Assert.StartsWith("Invalid id", madeUp.ErrorMessage, StringComparison.Ordinal);

        var tampered = issued[..^1] + (issued[^1] == '0' ? '1' : '0');
        var (refused, _) = await RefusedAsync(server, server.WebSocketUri(tampered, "t"));
        Assert.StartsWith("Invalid id", refused.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServerGeneratedIds_SharedSigningKey_AcceptedByAnotherNode()
    {
        var settings = new Dictionary<string, string?>
        {
            ["GhostChat:Signaling:ServerGeneratedIdsOnly"] = "true",
            ["GhostChat:Signaling:IdSigningKey"] = "0123456789abcdef0123456789abcdef-shared",
        };
        await using var node1 = await TestServer.StartAsync(settings);
        await using var node2 = await TestServer.StartAsync(settings);
        var issued = await node1.Http.GetStringAsync("peerjs/id");
        await using var client = await node2.RegisterAsync(issued);
        Assert.Equal(WebSocketState.Open, client.State);
    }

    [Fact]
    public async Task OriginAllowList_RefusesOtherBrowserOrigins_AllowsListedAndNonBrowserClients()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Signaling:AllowedOrigins:0"] = "https://chat.example" });
        var (refused, _) = await RefusedAsync(server, server.WebSocketUri("a", "t"), o => o.SetRequestHeader("Origin", "https://evil.example"));
        Assert.Equal("ERROR", refused.Type);
        Assert.Contains("origin not allowed", refused.ErrorMessage, StringComparison.Ordinal);

        await using var listed = await server.RegisterAsync("b", configure: o => o.SetRequestHeader("Origin", "https://chat.example"));
        await using var noOrigin = await server.RegisterAsync("c");
        Assert.Equal(WebSocketState.Open, listed.State);
        Assert.Equal(WebSocketState.Open, noOrigin.State);
    }
}
