using System.Net.WebSockets;
using GhostChat.Server.Signaling;

namespace GhostChat.Server.Tests.Signaling;

/// <summary>
/// Ids beginning with "gc1-" are bound to their token (docs/protocol.md, "Host ids"): a room host's id
/// stays its own while the host is away, so a squatter holding the invite link cannot take it.
/// </summary>
public sealed class TokenBoundIdTests
{
    private const string HostToken = "host-secret-token-of-128-bits-xx";

    [Fact]
    public void TokenBoundId_IsThePrefixAndTheHashOfTheToken_ServerAgreesWithTheSpec()
    {
        var id = Squatter.TokenBoundId(HostToken);
        Assert.Equal(id, PeerIds.TokenBoundId(HostToken));
        Assert.Matches("^gc1-[0-9a-f]{32}$", id);
        Assert.True(PeerIds.IsValidId(id)); // the PeerJS client's own rule
    }

    [Fact]
    public async Task HostAway_SquatterWithAnotherToken_IsRefused_HostComesBackAndGetsTheQueuedOffer()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Signaling:ExpireTimeout"] = "00:00:30" });
        var hostId = Squatter.TokenBoundId(HostToken);
        var host = await server.RegisterAsync(hostId, HostToken);
        await host.DisposeAsync(); // the host's tab reloads: its socket is gone

        // The attacker knows the id (it is in every invite link) and tries it with its own token.
        var (answer, squatter) = await Squatter.TakeAsync(server, hostId, "attacker-token");
        await using (squatter)
        {
            Assert.Equal("ERROR", answer.Type);
            Assert.Equal(SignalingBroker.Messages.IdBoundToAnotherToken, answer.ErrorMessage);
            var (status, _) = await squatter.WaitClosedAsync();
            Assert.Equal(WebSocketCloseStatus.NormalClosure, status);
        }

        // A joiner's offer sent meanwhile waits for the real host, which comes back with its token.
        await using var joiner = await server.RegisterAsync("joiner");
        await joiner.SendAsync(new { type = "OFFER", dst = hostId, payload = "offer" });
        await using var back = await server.RegisterAsync(hostId, HostToken);
        var offer = await back.ReceiveAsync();
        Assert.Equal(("OFFER", "joiner"), (offer.Type, offer.Src));
        Assert.Equal(1, await server.MetricAsync("ghostchat_signaling_rejections_total", "reason=\"id_bound_to_another_token\""));
    }

    [Fact]
    public async Task HostOnline_SquatterGetsTheSameRefusal_HolderUnaffected()
    {
        await using var server = await TestServer.StartAsync();
        var hostId = Squatter.TokenBoundId(HostToken);
        await using var host = await server.RegisterAsync(hostId, HostToken);
        await using var squatter = await PeerClient.ConnectAsync(server.WebSocketUri(hostId, "attacker-token"));
        Assert.Equal(SignalingBroker.Messages.IdBoundToAnotherToken, (await squatter.ReceiveAsync()).ErrorMessage);

        await using var joiner = await server.RegisterAsync("joiner");
        await joiner.SendAsync(new { type = "OFFER", dst = hostId, payload = 1 });
        Assert.Equal("joiner", (await host.ReceiveAsync()).Src);
    }

    [Theory]
    [InlineData("gc1-0123456789abcdef0123456789abcde")] // 31 digits
    [InlineData("gc1-0123456789abcdef0123456789abcdef0")] // 33 digits
    [InlineData("gc1-0123456789ABCDEF0123456789ABCDEF")] // upper case
    [InlineData("gc1-0123456789abcdef0123456789abcdeg")] // not hex
    [InlineData("gc1-0123456789abcdef-123456789abcdef")] // a separator inside
    [InlineData("gc1-x")]
    public async Task MalformedTokenBoundId_IsRefusedWithAClearError_OthersKeepBeingServed(string id)
    {
        await using var server = await TestServer.StartAsync();
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");

        await using var bad = await PeerClient.ConnectAsync(server.WebSocketUri(id, "t"));
        var message = await bad.ReceiveAsync();
        Assert.Equal("ERROR", message.Type);
        Assert.Equal(SignalingBroker.Messages.MalformedTokenBoundId, message.ErrorMessage);

        await a.SendAsync(new { type = "OFFER", dst = "bob", payload = 1 });
        Assert.Equal("alice", (await b.ReceiveAsync()).Src);
    }

    [Theory]
    [InlineData("GC1-0123456789abcdef0123456789abcdef")] // the prefix is case-sensitive: an ordinary id
    [InlineData("gc1x-anything")]
    [InlineData("my-gc1-id")]
    public async Task IdsWithoutThePrefix_BehaveAsBefore(string id)
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.RegisterAsync(id, "any token");
        Assert.Equal(WebSocketState.Open, client.State);
    }

    [Fact]
    public async Task ServerGeneratedIdsOnly_AcceptsTokenBoundIds_StillRefusesOthersMadeUp()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Signaling:ServerGeneratedIdsOnly"] = "true" });
        await using var host = await server.RegisterAsync(Squatter.TokenBoundId(HostToken), HostToken);
        await using var squatter = await PeerClient.ConnectAsync(server.WebSocketUri(Squatter.TokenBoundId(HostToken), "attacker-token"));
        Assert.Equal(SignalingBroker.Messages.IdBoundToAnotherToken, (await squatter.ReceiveAsync()).ErrorMessage);
        await using var madeUp = await PeerClient.ConnectAsync(server.WebSocketUri("my-own-id", "t"));
        Assert.StartsWith("Invalid id: this server only accepts ids it handed out", (await madeUp.ReceiveAsync()).ErrorMessage, StringComparison.Ordinal);
    }
}
