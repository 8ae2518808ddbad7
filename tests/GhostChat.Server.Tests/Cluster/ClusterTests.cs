using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json;

namespace GhostChat.Server.Tests.Cluster;

/// <summary>Several nodes on a real redis-server: one signaling service, any node serves any client.</summary>
public sealed class ClusterTests
{
    /// <summary>The key every test node shares (a cluster refuses to start without one).</summary>
    internal const string ClusterKey = "test-cluster-key-0123456789abcdef0123456789";

    internal static Dictionary<string, string?> Node(RedisServer redis, string? prefix = null, params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["GhostChat:Redis:ConnectionString"] = redis.ConnectionString,
            ["GhostChat:Redis:ClusterKey"] = ClusterKey,
            ["GhostChat:Redis:KeyPrefix"] = prefix ?? "test" + Guid.NewGuid().ToString("N")[..8] + ":",
            ["GhostChat:Signaling:ExpireTimeout"] = "00:00:01",
            ["GhostChat:Signaling:CleanupInterval"] = "00:00:00.200",
        };
        foreach (var (k, v) in extra)
        {
            settings[k] = v;
        }
        return settings;
    }

    [Fact]
    public async Task PeersOnDifferentNodes_RelayOfferAnswerCandidate_BothWays()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = Node(redis);
        await using var node1 = await TestServer.StartAsync(new Dictionary<string, string?>(settings) { ["GhostChat:Redis:NodeId"] = "n1" });
        await using var node2 = await TestServer.StartAsync(new Dictionary<string, string?>(settings) { ["GhostChat:Redis:NodeId"] = "n2" });
        await using var alice = await node1.RegisterAsync("alice");
        await using var bob = await node2.RegisterAsync("bob");

        await alice.SendAsync(new { type = "OFFER", dst = "bob", payload = new { sdp = "o" }, src = "mallory" });
        Assert.Equal("""{"type":"OFFER","src":"alice","dst":"bob","payload":{"sdp":"o"}}""", (await bob.ReceiveAsync()).Raw);
        await bob.SendAsync(new { type = "ANSWER", dst = "alice", payload = new { sdp = "a" } });
        Assert.Equal("""{"type":"ANSWER","src":"bob","dst":"alice","payload":{"sdp":"a"}}""", (await alice.ReceiveAsync()).Raw);
        for (var i = 0; i < 20; i++)
        {
            await alice.SendAsync(new { type = "CANDIDATE", dst = "bob", payload = i });
        }
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(i, (await bob.ReceiveAsync()).Payload.GetInt32()); // order kept across nodes
        }

        // In-process nodes share one metrics listener, so select each node's series by its tag.
        Assert.Equal(21, await node1.MetricAsync("ghostchat_cluster_messages_sent_total", "node=\"n1\""));
        Assert.Equal(21, await node2.MetricAsync("ghostchat_cluster_messages_received_total", "node=\"n2\""));
        Assert.Equal(1, await node2.MetricAsync("ghostchat_cluster_messages_sent_total", "node=\"n2\""));
        Assert.Equal(1, await node1.MetricAsync("ghostchat_redis_connected"));
    }

    [Fact]
    public async Task IdHeldOnOneNode_IsTakenOnTheOther()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = Node(redis);
        await using var node1 = await TestServer.StartAsync(settings);
        await using var node2 = await TestServer.StartAsync(settings);
        await using var alice = await node1.RegisterAsync("alice", "t1");
        await using var impostor = await PeerClient.ConnectAsync(node2.WebSocketUri("alice", "t2"));
        Assert.Equal("ID-TAKEN", (await impostor.ReceiveAsync()).Type);
    }

    [Fact]
    public async Task TokenBoundHostAway_SquatterOnAnotherNodeIsRefused_HostComesBackThere()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = Node(redis, extra: ("GhostChat:Signaling:ExpireTimeout", "00:00:30"));
        await using var node1 = await TestServer.StartAsync(settings);
        await using var node2 = await TestServer.StartAsync(settings);
        const string hostToken = "host-secret-token-of-128-bits-xx";
        var hostId = Squatter.TokenBoundId(hostToken);
        var host = await node1.RegisterAsync(hostId, hostToken);
        await host.DisposeAsync(); // the host is offline: its directory entry goes

        var (answer, squatter) = await Squatter.TakeAsync(node2, hostId, "attacker-token");
        await using (squatter)
        {
            Assert.Equal("ERROR", answer.Type);
            Assert.Equal("Invalid id: this id belongs to another token (ids beginning with 'gc1-' are made from their token)", answer.ErrorMessage);
        }

        await using var joiner = await node1.RegisterAsync("joiner");
        await joiner.SendAsync(new { type = "OFFER", dst = hostId, payload = "offer" });
        await using var back = await node2.RegisterAsync(hostId, hostToken);
        Assert.Equal("joiner", (await back.ReceiveAsync()).Src);
    }

    [Fact]
    public async Task SameTokenOnAnotherNode_TakesTheIdOver_OldSocketClosed()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = Node(redis);
        await using var node1 = await TestServer.StartAsync(settings);
        await using var node2 = await TestServer.StartAsync(settings);
        await using var old = await node1.RegisterAsync("alice", "t1");
        await using var moved = await node2.RegisterAsync("alice", "t1");
        var (status, _) = await old.WaitClosedAsync();
        Assert.Equal((WebSocketCloseStatus)4001, status);

        await using var bob = await node1.RegisterAsync("bob");
        await bob.SendAsync(new { type = "OFFER", dst = "alice", payload = "to the new node" });
        Assert.Equal("to the new node", (await moved.ReceiveAsync()).Payload.GetString());
    }

    [Fact]
    public async Task QueuedOnOneNode_DeliveredWhenThePeerRegistersOnAnother()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = Node(redis, extra: ("GhostChat:Signaling:ExpireTimeout", "00:00:30"));
        await using var node1 = await TestServer.StartAsync(settings);
        await using var node2 = await TestServer.StartAsync(settings);
        await using var alice = await node1.RegisterAsync("alice");
        for (var i = 0; i < 3; i++)
        {
            await alice.SendAsync(new { type = "CANDIDATE", dst = "bob", payload = i });
        }
        await Eventually.MetricAsync(node1, "ghostchat_signaling_messages_queued_total", 3);

        await using var bob = await node2.RegisterAsync("bob");
        for (var i = 0; i < 3; i++)
        {
            var message = await bob.ReceiveAsync();
            Assert.Equal("alice", message.Src);
            Assert.Equal(i, message.Payload.GetInt32());
        }
    }

    [Fact]
    public async Task QueueExpires_SenderOnAnotherNodeGetsOneExpire()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = Node(redis);
        await using var node1 = await TestServer.StartAsync(settings);
        await using var node2 = await TestServer.StartAsync(settings);
        await using var alice = await node1.RegisterAsync("alice");
        await alice.SendAsync(new { type = "OFFER", dst = "nobody", payload = 1 });
        await alice.SendAsync(new { type = "CANDIDATE", dst = "nobody", payload = 2 });

        Assert.Equal("""{"type":"EXPIRE","src":"nobody","dst":"alice"}""", (await alice.ReceiveAsync()).Raw);
        Assert.Null(await alice.TryReceiveAsync(TimeSpan.FromMilliseconds(600)));
    }

    [Fact]
    public async Task QueueBounds_HoldAcrossNodes()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = Node(redis, extra: [("GhostChat:Signaling:Limits:MaxQueuedMessagesPerPeer", "2"), ("GhostChat:Signaling:ExpireTimeout", "00:00:30")]);
        await using var node1 = await TestServer.StartAsync(settings);
        await using var node2 = await TestServer.StartAsync(settings);
        await using var alice = await node1.RegisterAsync("alice");
        await using var carol = await node2.RegisterAsync("carol");
        await alice.SendAsync(new { type = "OFFER", dst = "bob", payload = 1 });
        await carol.SendAsync(new { type = "OFFER", dst = "bob", payload = 2 });
        await Eventually.MetricAsync(node1, "ghostchat_signaling_messages_queued_total", 2); // in-process nodes share the listener: this is both nodes' count
        await alice.SendAsync(new { type = "CANDIDATE", dst = "bob", payload = 3 });
        Assert.Equal("""{"type":"EXPIRE","src":"bob","dst":"alice"}""", (await alice.ReceiveAsync()).Raw);
    }

    [Fact]
    public async Task DiscoveryListsPeersOfEveryNode()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = Node(redis, extra: ("GhostChat:Signaling:AllowDiscovery", "true"));
        await using var node1 = await TestServer.StartAsync(settings);
        await using var node2 = await TestServer.StartAsync(settings);
        await using var alice = await node1.RegisterAsync("alice");
        await using var bob = await node2.RegisterAsync("bob");
        var ids = JsonSerializer.Deserialize<string[]>(await node1.Http.GetStringAsync("peerjs/peers"))!;
        Assert.Equal(["alice", "bob"], ids.Order());
    }

    [Fact]
    public async Task RedisDown_NotReady_NewPeersRefusedClearly_LocalRelayContinues_ThenRecovers()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = Node(redis, extra: ("GhostChat:Redis:PeerLease", "00:00:03"));
        await using var node1 = await TestServer.StartAsync(settings);
        await using var node2 = await TestServer.StartAsync(settings);
        await using var alice = await node1.RegisterAsync("alice");
        await using var bob = await node1.RegisterAsync("bob");
        await using var carol = await node2.RegisterAsync("carol");
        Assert.Equal(HttpStatusCode.OK, (await node1.Http.GetAsync("readyz")).StatusCode);

        await redis.KillAsync();
        await Eventually.EqualAsync(503, async () => (int)(await node1.Http.GetAsync("readyz")).StatusCode, "node1 /readyz status");
        var detail = await (await node1.Http.GetAsync("readyz")).Content.ReadAsStringAsync();
        Assert.Contains("Redis", detail, StringComparison.Ordinal);

        await using (var refused = await PeerClient.ConnectAsync(node1.WebSocketUri("dave", "td")))
        {
            var error = await refused.ReceiveAsync();
            Assert.Equal("ERROR", error.Type);
            Assert.Contains("try again in a moment", error.ErrorMessage, StringComparison.Ordinal);
        }
        await alice.SendAsync(new { type = "OFFER", dst = "bob", payload = "local still works" });
        Assert.Equal("local still works", (await bob.ReceiveAsync()).Payload.GetString());

        await redis.StartAgainAsync(); // empty: the nodes must announce their peers again
        await Eventually.EqualAsync(200, async () => (int)(await node1.Http.GetAsync("readyz")).StatusCode, "node1 /readyz status");
        await Eventually.EqualAsync(200, async () => (int)(await node2.Http.GetAsync("readyz")).StatusCode, "node2 /readyz status");
        await using var dave = await node1.RegisterAsync("dave", "td");

        // carol (node 2) reaches alice (node 1) again once node 1 has re-announced her.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            await carol.SendAsync(new { type = "OFFER", dst = "alice", payload = "after recovery" });
            var got = await alice.TryReceiveAsync(TimeSpan.FromSeconds(1));
            if (got?.Type == "OFFER")
            {
                Assert.Equal("after recovery", got.Payload.GetString());
                break;
            }
            Assert.True(DateTime.UtcNow < deadline, "alice was never reachable from another node after Redis returned");
        }
    }

    [Fact]
    public async Task NodeKilled_ItsPeerReconnectsToAnotherNode_NothingQueuedIsLost()
    {
        await using var redis = await RedisServer.StartAsync();
        var prefix = "kill" + Guid.NewGuid().ToString("N")[..8] + ":";
        var settings = Node(redis, prefix, ("GhostChat:Signaling:ExpireTimeout", "00:00:30"));
        await using var node2 = await TestServer.StartAsync(settings);
        await using var node1 = await StartNodeProcessAsync(redis, prefix);
        await using var alice = await PeerClient.ConnectAsync(new Uri(node1.Uri, "peerjs?key=peerjs&id=alice&token=ta"));
        Assert.Equal("OPEN", (await alice.ReceiveAsync()).Type);
        await using var bob = await node2.RegisterAsync("bob");

        await node1.Process.KillAsync(); // the whole process, by its id, no goodbye
        await alice.WaitClosedAsync();

        // bob keeps signaling alice while she is between nodes: nothing may be lost.
        await bob.SendAsync(new { type = "OFFER", dst = "alice", payload = "while moving" });
        await Eventually.MetricAsync(node2, "ghostchat_signaling_messages_queued_total", 1);

        await using var back = await node2.RegisterAsync("alice", "ta"); // same id and token, another node
        Assert.Equal("while moving", (await back.ReceiveAsync()).Payload.GetString());
        await bob.SendAsync(new { type = "CANDIDATE", dst = "alice", payload = "relayed again" });
        Assert.Equal("relayed again", (await back.ReceiveAsync()).Payload.GetString());
    }

    private static async Task<NodeProcess> StartNodeProcessAsync(RedisServer redis, string prefix)
    {
        var port = FreePorts.Tcp();
        // The cluster key from a file (as a container secret), not on the command line.
        var keyFile = Path.Combine(Directory.CreateTempSubdirectory("ghostchat-key-").FullName, "cluster_key");
        File.WriteAllText(keyFile, ClusterKey + "\n");
        var start = ProcessRunner.StartInfo("dotnet",
        [
            typeof(GhostChat.Server.Hosting.GhostChatHost).Assembly.Location, "--urls", $"http://127.0.0.1:{port}",
            "--GhostChat:Turn:Enabled=false", $"--GhostChat:Redis:ConnectionString={redis.ConnectionString}", $"--GhostChat:Redis:KeyPrefix={prefix}",
            $"--GhostChat:Redis:ClusterKeyFile={keyFile}",
        ]);
        var process = ChildProcess.Start(start, line => line.Contains("GhostChat is running", StringComparison.Ordinal));
        try
        {
            await process.WaitReadyAsync(TimeSpan.FromSeconds(60));
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
        return new NodeProcess(process, new Uri($"ws://127.0.0.1:{port}/"));
    }

    /// <summary>A GhostChat node in its own process (so it can be killed without a goodbye).</summary>
    private sealed record NodeProcess(ChildProcess Process, Uri Uri) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Process.DisposeAsync();
    }
}
