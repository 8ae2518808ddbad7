using System.Text;
using GhostChat.Server.Signaling;
using GhostChat.Server.Signaling.Cluster;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace GhostChat.Server.Tests.Cluster;

/// <summary>
/// Attacks by someone who can read and write the cluster's Redis but has no cluster key: two real
/// nodes on a real redis-server, real WebSocket clients, and a raw StackExchange.Redis client as the attacker.
/// </summary>
public sealed class ClusterTrustAttackTests
{
    private const string Dropped = "ghostchat_cluster_messages_dropped_total";

    /// <summary>A real redis-server, nodes "n1" and "n2" on it, and the attacker's own client of that Redis.</summary>
    private sealed class TwoNodes : IAsyncDisposable
    {
        private RedisServer _redis = null!;

        public TestServer Node1 { get; private set; } = null!;

        public TestServer Node2 { get; private set; } = null!;

        public string Prefix { get; } = "atk" + Guid.NewGuid().ToString("N")[..8] + ":";

        public ConnectionMultiplexer Attacker { get; private set; } = null!;

        public static async Task<TwoNodes> StartAsync(params (string Key, string Value)[] extra)
        {
            var c = new TwoNodes { _redis = await RedisServer.StartAsync() };
            try
            {
                var settings = ClusterTests.Node(c._redis, c.Prefix, extra);
                c.Node1 = await TestServer.StartAsync(new Dictionary<string, string?>(settings) { ["GhostChat:Redis:NodeId"] = "n1" });
                c.Node2 = await TestServer.StartAsync(new Dictionary<string, string?>(settings) { ["GhostChat:Redis:NodeId"] = "n2" });
                c.Attacker = await ConnectionMultiplexer.ConnectAsync(c._redis.ConnectionString);
                return c;
            }
            catch
            {
                await c.DisposeAsync(); // stop what did start (redis-server by its PID)
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (Attacker is not null)
            {
                await Attacker.DisposeAsync();
            }
            if (Node2 is not null)
            {
                await Node2.DisposeAsync();
            }
            if (Node1 is not null)
            {
                await Node1.DisposeAsync();
            }
            await _redis.DisposeAsync();
        }
    }

    /// <summary>Seals as a node with <paramref name="key"/> would (the attacker's own key, or, for a buggy node, the real one).</summary>
    private static ClusterTrust Sealer(string key) => new(Options.Create(new ClusterOptions { ClusterKey = key }), TimeProvider.System);

    private static byte[] Frame(string type, string src, string dst, string payload)
        => Encoding.UTF8.GetBytes($$"""{"type":"{{type}}","src":"{{src}}","dst":"{{dst}}","payload":"{{payload}}"}""");

    private static byte[] Tampered(byte[] message)
    {
        var copy = (byte[])message.Clone();
        copy[^3] ^= 0x20; // a letter of the payload changes case
        return copy;
    }

    [Fact]
    public async Task RedisReader_TakesTheStoredToken_CannotReattachAsThePeer()
    {
        await using var c = await TwoNodes.StartAsync();
        var (node1, node2, prefix) = (c.Node1, c.Node2, c.Prefix);
        const string token = "alices-secret-token";
        await using var alice = await node1.RegisterAsync("alice", token);

        // The attacker reads everything Redis holds about alice.
        var attacker = c.Attacker;
        var entry = await attacker.GetDatabase().HashGetAllAsync(prefix + "peer:alice");
        var stored = (string?)entry.Single(e => e.Name == "token").Value;
        Assert.NotNull(stored);
        Assert.DoesNotContain(entry, e => ((string?)e.Value ?? "").Contains(token, StringComparison.Ordinal));

        // ... and presents it, on either node: refused, and alice keeps her socket.
        foreach (var node in new[] { node2, node1 })
        {
            await using var impostor = await PeerClient.ConnectAsync(node.WebSocketUri("alice", stored));
            Assert.Equal("ID-TAKEN", (await impostor.ReceiveAsync()).Type);
        }
        await using var bob = await node2.RegisterAsync("bob");
        await bob.SendAsync(new { type = "OFFER", dst = "alice", payload = "still alice's" });
        Assert.Equal("still alice's", (await alice.ReceiveAsync()).Payload.GetString());

        // The real token still reattaches (the hash is of the token, bound to the id).
        await using var moved = await node2.RegisterAsync("alice", token);
        Assert.Equal((System.Net.WebSockets.WebSocketCloseStatus)4001, (await alice.WaitClosedAsync()).Status);
    }

    [Fact]
    public async Task ForgedPubSubMessages_NeverReachTheBrowser_AreCounted_OtherTrafficFlows()
    {
        await using var c = await TwoNodes.StartAsync();
        var (node1, node2, prefix) = (c.Node1, c.Node2, c.Prefix);
        await using var alice = await node1.RegisterAsync("alice");
        await using var bob = await node2.RegisterAsync("bob");
        var channel = prefix + "node:n2";
        var forged = Frame("OFFER", "alice", "bob", "forged");

        var attacker = c.Attacker;
        var pub = attacker.GetSubscriber();

        // Capture a genuine message from node 1 to node 2 on the way, to replay it later.
        var captured = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        await pub.SubscribeAsync(RedisChannel.Literal(channel), (_, m) => captured.TrySetResult((byte[])m!));
        await alice.SendAsync(new { type = "OFFER", dst = "bob", payload = "genuine" });
        Assert.Equal("genuine", (await bob.ReceiveAsync()).Payload.GetString());
        var genuine = await captured.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var attacks = new List<byte[]>
        {
            // The plain message format, no seal at all.
            ClusterMessages.Relay("bob", MessageType.Offer, "alice", forged),
            ClusterMessages.Kick("bob", "n2:1"),
            // Sealed with a key of the attacker's own.
            Sealer("the-attackers-own-key-0123456789abcdef").Seal(channel, ClusterMessages.Relay("bob", MessageType.Offer, "alice", forged)),
            // The genuine message with its frame changed (the seal no longer matches).
            Tampered(genuine),
            // The genuine message again (a replay), and on another node's channel is tested below.
            genuine,
        };
        foreach (var message in attacks)
        {
            Assert.True(await pub.PublishAsync(RedisChannel.Literal(channel), message) > 0);
        }
        // A genuine node-2 message replayed onto node 1's channel (cross-channel reuse).
        Assert.True(await pub.PublishAsync(RedisChannel.Literal(prefix + "node:n1"), genuine) > 0);

        // Traffic after the attack flows, and it is the first thing bob sees: nothing forged came before it.
        await alice.SendAsync(new { type = "CANDIDATE", dst = "bob", payload = "after" });
        var next = await bob.ReceiveAsync();
        Assert.Equal("after", next.Payload.GetString());
        Assert.Null(await bob.TryReceiveAsync(TimeSpan.FromMilliseconds(300)));
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, bob.State);

        await Eventually.MetricAsync(node2, Dropped, 4, "node=\"n2\"", "reason=\"unauthenticated\"");
        await Eventually.MetricAsync(node2, Dropped, 1, "node=\"n2\"", "reason=\"replayed\"");
        await Eventually.MetricAsync(node1, Dropped, 1, "node=\"n1\"", "reason=\"unauthenticated\"");
        Assert.Equal(2, await node2.MetricAsync("ghostchat_cluster_messages_received_total", "node=\"n2\""));

        // Logged without ids or addresses; a Warning names the reason.
        var records = node2.Logs.Records.Where(r => r.Category.Contains("Cluster", StringComparison.Ordinal)).ToList();
        var warning = Assert.Single(records, r => r.Level == LogLevel.Warning); // six drops, one Warning a minute
        Assert.Contains("unauthenticated", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(records, r => r.Level >= LogLevel.Information && (r.Message.Contains("bob", StringComparison.Ordinal) || r.Message.Contains("alice", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task MalformedMessages_GarbageHugeWrongTypes_Dropped_NodeKeepsServing()
    {
        await using var c = await TwoNodes.StartAsync();
        var (node1, node2, prefix) = (c.Node1, c.Node2, c.Prefix);
        await using var alice = await node1.RegisterAsync("alice");
        await using var bob = await node2.RegisterAsync("bob");
        var channel = prefix + "node:n2";
        var attacker = c.Attacker;
        var pub = attacker.GetSubscriber();

        // Without the key: garbage, nothing, huge.
        var random = new Random(15);
        var garbage = new byte[300];
        random.NextBytes(garbage);
        foreach (var message in new[] { garbage, [], "R\n"u8.ToArray(), new byte[10 * 1024 * 1024] })
        {
            await pub.PublishAsync(RedisChannel.Literal(channel), message);
        }

        // Sealed with the real key (a buggy or compromised node): still nothing malformed reaches a browser.
        var node = Sealer(ClusterTests.ClusterKey);
        byte[] R(string dst, string type, string src, byte[] frame) => Encoding.UTF8.GetBytes($"R\n{dst}\n{type}\n{src}\n").Concat(frame).ToArray();
        var offer = ((int)MessageType.Offer).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var malformed = new (byte[] Body, string Reason)[]
        {
            (R("bob", offer, "alice", "not json"u8.ToArray()), "bad_frame"),
            (R("bob", offer, "alice", "[1,2]"u8.ToArray()), "bad_frame"),
            (R("bob", offer, "alice", "{\"type\":\"OFFER\",\"dst\":\"bob\""u8.ToArray()), "bad_frame"),
            (R("bob", offer, "alice", Frame("ANSWER", "alice", "bob", "type differs from the header")), "bad_frame"),
            (R("bob", offer, "alice", Frame("OFFER", "alice", "carol", "dst differs from the header")), "bad_frame"),
            (R("bob", offer, "alice", Frame("HEARTBEAT", "alice", "bob", "x")), "bad_frame"),
            (R("bob", offer, "alice", Encoding.UTF8.GetBytes("{\"type\":\"OFFER\",\"dst\":\"bob\",\"payload\":" + new string('[', 100) + new string(']', 100) + "}")), "bad_frame"),
            (R("bob", offer, "alice", Frame("OFFER", "alice", "bob", new string('x', 70 * 1024))), "oversize"),
            (R("bob", ((int)MessageType.Heartbeat).ToString(System.Globalization.CultureInfo.InvariantCulture), "alice", Frame("HEARTBEAT", "alice", "bob", "x")), "malformed"),
            (R("bob", "99", "alice", Frame("OFFER", "alice", "bob", "x")), "malformed"),
            (R("bob", "-2", "alice", Frame("OFFER", "alice", "bob", "x")), "malformed"),
            (R("bob", offer, "al\u00ffice", Frame("OFFER", "alice", "bob", "x")), "malformed"),
            (R("b\"ob", offer, "alice", Frame("OFFER", "alice", "b\"ob", "x")), "malformed"),
            ("X\nbob\nwhat"u8.ToArray(), "malformed"),
            ("K\nbob"u8.ToArray(), "malformed"),
            ("R\nbob"u8.ToArray(), "malformed"),
        };
        foreach (var (body, _) in malformed)
        {
            await pub.PublishAsync(RedisChannel.Literal(channel), node.Seal(channel, body));
        }

        await alice.SendAsync(new { type = "OFFER", dst = "bob", payload = "real" });
        Assert.Equal("real", (await bob.ReceiveAsync()).Payload.GetString());
        Assert.Null(await bob.TryReceiveAsync(TimeSpan.FromMilliseconds(300)));

        await Eventually.MetricAsync(node2, Dropped, 3, "node=\"n2\"", "reason=\"unauthenticated\"");
        foreach (var reason in new[] { "bad_frame", "malformed", "oversize" })
        {
            var expected = malformed.Count(m => m.Reason == reason) + (reason == "oversize" ? 1 : 0); // and the 10 MB one
            await Eventually.MetricAsync(node2, Dropped, expected, "node=\"n2\"", $"reason=\"{reason}\"");
        }
        Assert.Equal(1, await node2.MetricAsync("ghostchat_cluster_messages_received_total", "node=\"n2\""));

        // Still serving: new peers, cross-node relay both ways, ready.
        await using var carol = await node2.RegisterAsync("carol");
        await carol.SendAsync(new { type = "ANSWER", dst = "alice", payload = "back" });
        Assert.Equal("back", (await alice.ReceiveAsync()).Payload.GetString());
        Assert.Equal(System.Net.HttpStatusCode.OK, (await node2.Http.GetAsync("readyz")).StatusCode);
    }

    [Fact]
    public async Task ForgedQueueItems_NeverDelivered_WhenThePeerComesOnline()
    {
        await using var c = await TwoNodes.StartAsync(("GhostChat:Signaling:ExpireTimeout", "00:00:30"));
        var (node1, node2, prefix) = (c.Node1, c.Node2, c.Prefix);
        await using var alice = await node1.RegisterAsync("alice");
        await alice.SendAsync(new { type = "OFFER", dst = "bob", payload = "queued for real" });
        await Eventually.MetricAsync(node1, "ghostchat_signaling_messages_queued_total", 1);

        var attacker = c.Attacker;
        var db = attacker.GetDatabase();
        var queue = prefix + "queue:bob";
        var forged = Frame("OFFER", "alice", "bob", "forged");
        var genuine = (byte[])(await db.ListGetByIndexAsync(queue, 0))!;
        await db.ListRightPushAsync(queue, [
            ClusterMessages.QueueItem(MessageType.Offer, "alice", forged),
            Sealer("the-attackers-own-key-0123456789abcdef").Seal(queue, ClusterMessages.QueueItem(MessageType.Offer, "alice", forged)),
            Sealer(ClusterTests.ClusterKey).Seal(prefix + "queue:carol", ClusterMessages.QueueItem(MessageType.Offer, "alice", forged)), // another queue's item
        ]);
        Assert.NotNull(genuine);

        await using var bob = await node2.RegisterAsync("bob");
        Assert.Equal("queued for real", (await bob.ReceiveAsync()).Payload.GetString());
        Assert.Null(await bob.TryReceiveAsync(TimeSpan.FromMilliseconds(500)));
        await Eventually.MetricAsync(node2, Dropped, 3, "node=\"n2\"", "reason=\"unauthenticated\"");
    }
}

/// <summary>The operator guide's minimal Redis ACL user for GhostChat is enough for a cluster, and no more.</summary>
public sealed class RedisAclTests
{
    /// <summary>The <c>ACL SETUSER ghostchat …</c> line of docs/operator-guide.md, as an argument list.</summary>
    private static string[] DocumentedAcl(string password)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "GhostChat.slnx")))
        {
            dir = dir.Parent;
        }
        var line = File.ReadLines(Path.Combine(dir!.FullName, "docs", "operator-guide.md")).Select(l => l.Trim())
            .Single(l => l.StartsWith("ACL SETUSER ghostchat ", StringComparison.Ordinal));
        return [.. line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(a => a == ">PASSWORD" ? ">" + password : a)];
    }

    [Fact]
    public async Task DocumentedAclUser_RunsTheCluster_AndCannotTouchAnythingElse()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var server = admin.GetServer(admin.GetEndPoints()[0]);
        var password = Guid.NewGuid().ToString("N");
        await server.ExecuteAsync("ACL", DocumentedAcl(password));
        await admin.GetDatabase().StringSetAsync("other-app:secret", "x");

        var settings = ClusterTests.Node(redis, "ghostchat:", ("GhostChat:Signaling:ExpireTimeout", "00:00:30"));
        settings["GhostChat:Redis:ConnectionString"] = $"{redis.ConnectionString},user=ghostchat,password={password}";
        await using var node1 = await TestServer.StartAsync(new Dictionary<string, string?>(settings) { ["GhostChat:Redis:NodeId"] = "n1" });
        await using var node2 = await TestServer.StartAsync(new Dictionary<string, string?>(settings) { ["GhostChat:Redis:NodeId"] = "n2" });
        await Eventually.EqualAsync(200, async () => (int)(await node1.Http.GetAsync("readyz")).StatusCode, "node1 /readyz");

        // Directory, relay both ways, takeover, queue and flush, expiry: everything the cluster does.
        await using var alice = await node1.RegisterAsync("alice", "ta");
        await alice.SendAsync(new { type = "OFFER", dst = "bob", payload = "queued" });
        await Eventually.MetricAsync(node1, "ghostchat_signaling_messages_queued_total", 1);
        await using var bob = await node2.RegisterAsync("bob");
        Assert.Equal("queued", (await bob.ReceiveAsync()).Payload.GetString());
        await bob.SendAsync(new { type = "ANSWER", dst = "alice", payload = "across" });
        Assert.Equal("across", (await alice.ReceiveAsync()).Payload.GetString());
        await using var moved = await node2.RegisterAsync("alice", "ta");
        await alice.WaitClosedAsync();
        await using var impostor = await PeerClient.ConnectAsync(node1.WebSocketUri("alice", "tx"));
        Assert.Equal("ID-TAKEN", (await impostor.ReceiveAsync()).Type);
        Assert.Equal(0, await node1.MetricAsync("ghostchat_redis_errors_total"));
        Assert.Equal(0, await node2.MetricAsync("ghostchat_redis_errors_total"));
        var denied = (RedisResult[])(await server.ExecuteAsync("ACL", "LOG"))!;
        Assert.True(denied.Length == 0, "Redis denied GhostChat something: " + string.Join(" | ", denied.Select(e => string.Join(" ", ((RedisResult[])e!).Select(x => x.ToString())))));

        // The same user cannot read or change anything else, nor administer Redis.
        await using var user = await ConnectionMultiplexer.ConnectAsync($"{redis.ConnectionString},user=ghostchat,password={password}");
        var db = user.GetDatabase();
        await Assert.ThrowsAsync<RedisServerException>(() => db.StringGetAsync("other-app:secret"));
        await Assert.ThrowsAsync<RedisServerException>(() => db.ExecuteAsync("FLUSHALL"));
        await Assert.ThrowsAsync<RedisServerException>(() => db.ExecuteAsync("CONFIG", "SET", "requirepass", "x"));
        await Assert.ThrowsAsync<RedisServerException>(() => db.ExecuteAsync("KEYS", "*"));
        await Assert.ThrowsAsync<RedisServerException>(() => user.GetSubscriber().PublishAsync(RedisChannel.Literal("other-app:events"), "x"));
    }
}
