using GhostChat.Server.Signaling.Cluster;
using StackExchange.Redis;

namespace GhostChat.Server.Tests.Cluster;

/// <summary>Per-node cache of where peers on other nodes are (issue 19 item 4), on a real redis-server.</summary>
public sealed class LocationCacheTests
{
    private static async Task<long> CallsAsync(IServer redis, string command)
    {
        var stats = await redis.InfoAsync("commandstats");
        var line = stats.SelectMany(g => g).FirstOrDefault(kv => kv.Key == "cmdstat_" + command).Value;
        return line is null ? 0 : long.Parse(line.Split(',')[0]["calls=".Length..], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task CrossingMessages_AfterTheFirst_CostOnePublishEach_AndNoLookup()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = ClusterTests.Node(redis);
        await using var node1 = await TestServer.StartAsync(new Dictionary<string, string?>(settings) { ["GhostChat:Redis:NodeId"] = "n1" });
        await using var node2 = await TestServer.StartAsync(new Dictionary<string, string?>(settings) { ["GhostChat:Redis:NodeId"] = "n2" });
        await using var alice = await node1.RegisterAsync("alice");
        await using var bob = await node2.RegisterAsync("bob");
        await alice.SendAsync(new { type = "OFFER", dst = "bob", payload = -1 });
        Assert.Equal(-1, (await bob.ReceiveAsync()).Payload.GetInt32()); // the first one looks bob up

        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true");
        var server = admin.GetServer(admin.GetEndPoints()[0]);
        await server.ExecuteAsync("CONFIG", "RESETSTAT");
        for (var i = 0; i < 10; i++)
        {
            await alice.SendAsync(new { type = "CANDIDATE", dst = "bob", payload = i });
        }
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(i, (await bob.ReceiveAsync()).Payload.GetInt32());
        }
        // At most one lookup: the announcement of bob's registration may reach node 1 after the first
        // message was sent, and then the next one looks bob up again.
        Assert.InRange(await CallsAsync(server, "hget"), 0, 1);
        Assert.Equal(10, await CallsAsync(server, "publish"));
    }

    [Fact]
    public async Task PeerMovesToAThirdNode_TheCacheForgetsIt_MessagesGoStraightToTheNewNode()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = ClusterTests.Node(redis);
        await using var node1 = await TestServer.StartAsync(new Dictionary<string, string?>(settings) { ["GhostChat:Redis:NodeId"] = "n1" });
        await using var node2 = await TestServer.StartAsync(new Dictionary<string, string?>(settings) { ["GhostChat:Redis:NodeId"] = "n2" });
        await using var node3 = await TestServer.StartAsync(new Dictionary<string, string?>(settings) { ["GhostChat:Redis:NodeId"] = "n3" });
        var directory1 = node1.Services.GetRequiredService<RedisPeerDirectory>();
        await using var alice = await node1.RegisterAsync("alice");
        var bob = await node2.RegisterAsync("bob", "bob-token");
        // Node 1 caches where bob is on the first message; the announcement of bob's registration may
        // reach node 1 only after that and clear the entry, so messages go until one leaves it cached.
        var before = 0;
        do
        {
            await alice.SendAsync(new { type = "OFFER", dst = "bob", payload = "before" });
            Assert.Equal("before", (await bob.ReceiveAsync()).Payload.GetString());
            before++;
        }
        while (directory1.CachedLocations != 1 && before < 20);
        Assert.Equal(1, directory1.CachedLocations);

        // bob comes back on node 3 with its token (a network change); node 2 is still up and listening.
        await using var bobAgain = await node3.RegisterAsync("bob", "bob-token");
        await Eventually.TrueAsync(() => Task.FromResult(directory1.CachedLocations == 0), "node 1 forgets where bob was");
        await bob.DisposeAsync();
        await alice.SendAsync(new { type = "OFFER", dst = "bob", payload = "after" });
        Assert.Equal("after", (await bobAgain.ReceiveAsync()).Payload.GetString());
        // A node counts a message after handing it to the socket, so the client may read it first.
        await Eventually.TrueAsync(async () => await node3.MetricAsync("ghostchat_cluster_messages_received_total", "node=\"n3\"") == 1, "node 3 counts the message it delivered");
        Assert.Equal(before, await node2.MetricAsync("ghostchat_cluster_messages_received_total", "node=\"n2\"")); // only the "before" messages went via node 2
    }

    [Fact]
    public async Task ForgedMoveAnnouncement_IsDroppedAndCounted_TheCacheStays()
    {
        await using var redis = await RedisServer.StartAsync();
        var prefix = "test" + Guid.NewGuid().ToString("N")[..8] + ":";
        var settings = ClusterTests.Node(redis, prefix);
        await using var node1 = await TestServer.StartAsync(new Dictionary<string, string?>(settings) { ["GhostChat:Redis:NodeId"] = "n1" });
        await using var node2 = await TestServer.StartAsync(new Dictionary<string, string?>(settings) { ["GhostChat:Redis:NodeId"] = "n2" });
        var directory1 = node1.Services.GetRequiredService<RedisPeerDirectory>();
        await using var alice = await node1.RegisterAsync("alice");
        await using var bob = await node2.RegisterAsync("bob");
        // As above: the announcement of bob's registration may reach node 1 after its first lookup and clear the
        // entry, so messages go until one leaves bob cached.
        var sent = 0;
        do
        {
            await alice.SendAsync(new { type = "OFFER", dst = "bob", payload = sent });
            await bob.ReceiveAsync();
            sent++;
        }
        while (directory1.CachedLocations != 1 && sent < 20);
        Assert.Equal(1, directory1.CachedLocations);

        await using var attacker = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        await attacker.GetSubscriber().PublishAsync(RedisChannel.Literal(prefix + "nodes"), "M\nbob");
        await Eventually.TrueAsync(async () => await node1.MetricAsync("ghostchat_cluster_messages_dropped_total", "node=\"n1\"", "reason=\"unauthenticated\"") >= 1, "the forgery is counted");
        Assert.Equal(1, directory1.CachedLocations);
    }
}
