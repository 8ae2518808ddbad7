using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using GhostChat.Server.Signaling.Loop;

namespace GhostChat.Server.Tests.Signaling;

/// <summary>
/// The signaling socket loop (Linux: our own epoll loops accept the connections, serve signaling
/// upgrades and hand everything else to Kestrel), seen from raw TCP clients: frames arriving in any
/// cut across reads, many in one read, fragmented, unmasked, oversized; upgrades it must leave to
/// Kestrel; and shutdown with sockets open, which must leave no descriptor behind.
/// </summary>
public sealed class SignalingLoopTests
{
    private static bool Loop => SignalingLoopTransport.Supported;

    /// <summary>A test server with the socket loop on (<c>GhostChat:Signaling:SocketLoop</c>, the default: said here so these tests keep testing it).</summary>
    private static Task<TestServer> StartLoopAsync(Dictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?>(settings ?? []) { ["GhostChat:Signaling:SocketLoop"] = "true" };
        return TestServer.StartAsync(all);
    }

    [Fact]
    public async Task CleanUpgrade_IsServedByTheLoop_AndHttpStillByKestrel()
    {
        Assert.True(Loop, "the socket loop (64-bit Linux) runs here");
        await using var server = await StartLoopAsync();
        await using var a = await server.RegisterAsync("alice");
        Assert.Equal(1, await server.MetricAsync("ghostchat_signaling_connections_total", "path=\"loop\""));
        Assert.Equal(0, await server.MetricAsync("ghostchat_signaling_connections_total", "path=\"connection\""));
        Assert.Equal(System.Net.HttpStatusCode.OK, (await server.Http.GetAsync("/peerjs/id")).StatusCode);
    }

    // Attack: connections pile up until the server process is out of descriptors. The server must
    // live through it (the .NET runtime aborts the process when it cannot get a descriptor to start
    // a thread: it did with the socket loop, until the loop kept a reserve for it), keep serving the
    // peers it has, say so once in its log, and accept again once the flood's connections are gone
    // (a listener that stopped for good on EMFILE would leave the whole site down).
    [Fact]
    public async Task OutOfDescriptors_AcceptsAgainOnceTheConnectionsAreGone()
    {
        Assert.True(Loop, "the socket loop (64-bit Linux) runs here");
        var port = FreePorts.Tcp();
        var dll = typeof(GhostChat.Server.Hosting.GhostChatHost).Assembly.Location;
        // The server as shipped; prlimit runs it itself (exec), so its process id is the server's.
        await using var server = ChildProcess.Start(ProcessRunner.StartInfo("prlimit",
            ["--nofile=400:400", "dotnet", dll, "--urls", $"http://127.0.0.1:{port}", "--GhostChat:Turn:Enabled=false"]));
        var clients = new List<Socket>();
        try
        {
            var health = new Uri($"http://127.0.0.1:{port}/healthz");
            Assert.True(await HealthyWithin(health, TimeSpan.FromSeconds(60)), "the server started");
            await using var alice = await RegisterAsync(port, "alice");
            await using var bob = await RegisterAsync(port, "bob");
            using var ops = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
            Assert.Equal(2, Metric(await ops.GetStringAsync("metrics"), "ghostchat_signaling_connections_total", "path=\"loop\"")); // as shipped: on the loop

            // More connections than the server has descriptors: it accepts until it has none left; the
            // rest wait in the kernel's backlog. They say nothing, so the loop hands them to Kestrel
            // after SilentAfter — a burst of work for the thread pool while the process is at its limit.
            for (var i = 0; i < 600; i++)
            {
                var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(c);
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                try
                {
                    await c.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cts.Token);
                }
                catch (OperationCanceledException)
                {
                    break; // the backlog is full too
                }
                catch (SocketException)
                {
                    // The one that took the server's last descriptor: refused (reset).
                }
            }
            await Eventually.TrueAsync(() => Task.FromResult(server.Log.Contains("out of file descriptors", StringComparison.Ordinal)),
                "the server logged that it is out of descriptors");
            Assert.False(await HealthyWithin(health, TimeSpan.FromSeconds(3)), "no room for another connection meanwhile");
            await Task.Delay(SignalingLoopTransport.SilentAfter + TimeSpan.FromSeconds(1)); // the silent ones went to Kestrel
            Assert.False(server.HasExited, "the server lives at its descriptor limit:\n" + server.Log);
            await alice.SendAsync(new { type = "OFFER", dst = "bob", payload = 1 });
            Assert.Equal("alice", (await bob.ReceiveAsync()).Src); // its peers are served meanwhile

            foreach (var c in clients)
            {
                c.Dispose();
            }
            clients.Clear();
            Assert.True(await HealthyWithin(health, TimeSpan.FromSeconds(30)), "the server accepts again once the connections are gone");
            await bob.SendAsync(new { type = "ANSWER", dst = "alice", payload = 2 });
            Assert.Equal("bob", (await alice.ReceiveAsync()).Src);
            await using var carol = await RegisterAsync(port, "carol"); // and new peers
            Assert.True(Metric(await ops.GetStringAsync("metrics"), "ghostchat_signaling_rejections_total", "reason=\"out_of_descriptors\"") >= 1, "counted");
            Assert.Equal(1, server.Log.Split("out of file descriptors").Length - 1); // once for the episode
        }
        finally
        {
            foreach (var c in clients)
            {
                c.Dispose();
            }
        }
    }

    /// <summary>Sum of a Prometheus series' values whose line carries <paramref name="label"/>.</summary>
    private static double Metric(string text, string name, string label) => text.Split('\n')
        .Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) && l.Contains(label, StringComparison.Ordinal))
        .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));

    private static async Task<PeerClient> RegisterAsync(int port, string id)
    {
        var peer = await PeerClient.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/peerjs?key=peerjs&id={id}&token=tok-{id}"));
        Assert.Equal("OPEN", (await peer.ReceiveAsync()).Type);
        return peer;
    }

    /// <summary>Whether a new connection gets <c>/healthz</c> answered within the time (never a pooled one).</summary>
    private static async Task<bool> HealthyWithin(Uri health, TimeSpan within)
    {
        var end = DateTime.UtcNow + within;
        do
        {
            try
            {
                using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
                using var response = await http.GetAsync(health);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return true;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or SocketException)
            {
                // not answered (yet); a connection the server reset at its descriptor limit can surface
                // as a bare SocketException (HttpClient reads the reset socket's remote end point)
            }
            await Task.Delay(200);
        }
        while (DateTime.UtcNow < end);
        return false;
    }

    // The documented signaling limits hold for the loop's sockets: they are checked in the handshake
    // both paths share, not by Kestrel (whose connection limit never sees a loop socket).
    [Fact]
    public async Task SignalingLimits_ApplyToLoopSockets()
    {
        await using var server = await StartLoopAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Signaling:Limits:MaxSocketsPerIp"] = "2",
            ["GhostChat:Signaling:Limits:MaxSockets"] = "3",
        });
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");
        Assert.Equal(2, await server.MetricAsync("ghostchat_signaling_connections_total", "path=\"loop\""));
        await using (var c = await PeerClient.ConnectAsync(server.WebSocketUri("carol", "t-carol")))
        {
            var refusal = await c.ReceiveAsync();
            Assert.Equal("ERROR", refusal.Type);
            Assert.StartsWith("Too many connections from your network address", refusal.ErrorMessage, StringComparison.Ordinal);
            await c.WaitClosedAsync();
        }
        Assert.Equal(1, await server.MetricAsync("ghostchat_signaling_rejections_total", "reason=\"too_many_sockets_from_address\""));
        Assert.Equal(0, await server.MetricAsync("ghostchat_signaling_connections_total", "path=\"connection\""));
    }

    [Fact]
    public async Task ManyFramesInOneWrite_AllRelayedInOrder()
    {
        await using var server = await StartLoopAsync();
        using var alice = await RawPeer.ConnectAsync(server, "alice");
        await using var bob = await server.RegisterAsync("bob");
        var burst = Enumerable.Range(0, 50).SelectMany(i => Offer("bob", i)).ToArray();
        await alice.SendAsync(burst);
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(i, (await bob.ReceiveAsync()).Payload.GetInt32());
        }
    }

    [Fact]
    public async Task FramesCutAnywhereAcrossReads_AreReassembled()
    {
        await using var server = await StartLoopAsync();
        using var alice = await RawPeer.ConnectAsync(server, "alice");
        await using var bob = await server.RegisterAsync("bob");
        // Three frames (one with a 16-bit length) sent in pieces that cut headers, masks and payloads.
        var big = PipeWebSocketTests.ClientFrame(0x1, Encoding.UTF8.GetBytes("{\"type\":\"OFFER\",\"dst\":\"bob\",\"payload\":\"" + new string('y', 300) + "\"}"));
        var stream = Offer("bob", 1).Concat(big).Concat(Offer("bob", 3)).ToArray();
        foreach (var cut in new[] { 1, 1, 1, 3, 5, 7, 200, 2, 90 })
        {
            var take = Math.Min(cut, stream.Length);
            await alice.SendAsync(stream[..take]);
            stream = stream[take..];
            await Task.Delay(5); // separate segments, separate reads
        }
        await alice.SendAsync(stream);
        Assert.Equal(1, (await bob.ReceiveAsync()).Payload.GetInt32());
        Assert.Equal(300, (await bob.ReceiveAsync()).Payload.GetString()!.Length);
        Assert.Equal(3, (await bob.ReceiveAsync()).Payload.GetInt32());
    }

    [Fact]
    public async Task ReaderThatPauses_FullSendBuffer_GetsEverythingInOrderWhenItReadsAgain()
    {
        await using var server = await StartLoopAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Signaling:Limits:MessagesPerSecond"] = "100000",
            ["GhostChat:Signaling:Limits:MessageBurst"] = "100000",
        });
        using var alice = await RawPeer.ConnectAsync(server, "alice", receiveBuffer: 4096);
        await using var bob = await server.RegisterAsync("bob");
        var filler = new string('f', 3000);
        for (var i = 0; i < 300; i++) // ~900 KB: far more than the kernel buffers between us, within the socket's outbound budget
        {
            await bob.SendAsync(new { type = "OFFER", dst = "alice", payload = new { i, filler } });
        }
        await bob.SendAsync(new { type = "OFFER", dst = "alice", payload = new { i = 300, filler = "" } });
        for (var i = 0; i <= 300; i++)
        {
            var frame = await alice.ReadFrameAsync();
            using var json = System.Text.Json.JsonDocument.Parse(frame.Payload);
            Assert.Equal(i, json.RootElement.GetProperty("payload").GetProperty("i").GetInt32());
        }
    }

    // Relayed frames are written into a loop socket's buffer under the connection's lock without the
    // socket's write lock, while the socket's own reader answers pings through it: a pong and the
    // frames relayed from other loop threads must follow each other whole, none lost, each in order.
    [Fact]
    public async Task PingsAnswered_WhileOthersRelayToTheSameSocket_EveryFrameWholeAndInOrder()
    {
        Assert.True(Loop, "the socket loop (64-bit Linux) runs here");
        const int Senders = 3, PerSender = 200, Pings = 200;
        await using var server = await StartLoopAsync(new()
        {
            ["GhostChat:Signaling:Limits:MessageBurst"] = "100000",
            ["GhostChat:Signaling:Limits:MessagesPerSecond"] = "100000",
        });
        using var bob = await RawPeer.ConnectAsync(server, "bob");
        var senders = new List<RawPeer>();
        try
        {
            for (var i = 0; i < Senders; i++)
            {
                senders.Add(await RawPeer.ConnectAsync(server, "s" + i));
            }
            var sending = senders.Select(async s =>
            {
                for (var n = 0; n < PerSender; n++)
                {
                    await s.SendAsync(Offer("bob", n));
                }
            }).Append(Task.Run(async () =>
            {
                for (var n = 0; n < Pings; n++)
                {
                    await bob.SendAsync(PipeWebSocketTests.ClientFrame(0x9, Encoding.ASCII.GetBytes("p" + n)));
                }
            })).ToList();
            var next = new int[Senders];
            var pongs = 0;
            for (var got = 0; got < Senders * PerSender + Pings; got++)
            {
                var (opcode, payload) = await bob.ReadFrameAsync();
                if (opcode == 0xA)
                {
                    Assert.Equal("p" + pongs++, Encoding.ASCII.GetString(payload));
                    continue;
                }
                Assert.Equal(0x1, opcode);
                using var json = System.Text.Json.JsonDocument.Parse(payload);
                var from = int.Parse(json.RootElement.GetProperty("src").GetString()![1..], System.Globalization.CultureInfo.InvariantCulture);
                Assert.Equal(next[from]++, json.RootElement.GetProperty("payload").GetInt32());
            }
            await Task.WhenAll(sending);
            Assert.Equal(Pings, pongs);
            Assert.All(next, n => Assert.Equal(PerSender, n));
        }
        finally
        {
            senders.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task FragmentedMessage_IsRelayedWhole()
    {
        await using var server = await StartLoopAsync();
        using var alice = await RawPeer.ConnectAsync(server, "alice");
        await using var bob = await server.RegisterAsync("bob");
        var text = Encoding.UTF8.GetBytes("{\"type\":\"OFFER\",\"dst\":\"bob\",\"payload\":\"fragmented\"}");
        await alice.SendAsync(PipeWebSocketTests.ClientFrame(0x1, text[..10], fin: false));
        await alice.SendAsync(PipeWebSocketTests.ClientFrame(0x0, text[10..30], fin: false));
        await alice.SendAsync([.. PipeWebSocketTests.ClientFrame(0x9, "ping"u8.ToArray()), .. PipeWebSocketTests.ClientFrame(0x0, text[30..])]);
        Assert.Equal("fragmented", (await bob.ReceiveAsync()).Payload.GetString());
        var pong = await alice.ReadFrameAsync();
        Assert.Equal((0xA, "ping"), (pong.Opcode, Encoding.UTF8.GetString(pong.Payload)));
    }

    // An idle socket's wait for its next frame holds no cancellation token (a registration per idle
    // peer is 144 bytes): a session closed while its client is idle, by a client that never answers
    // our close frame, must still end — the close timeout aborts the socket. Both fast paths (the loop
    // and Kestrel's connection middleware) wait that way.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task IdleClientThatNeverAnswersOurClose_IsDisconnectedAfterTheCloseTimeout(bool loop)
    {
        await using var server = loop ? await StartLoopAsync() : await TestServer.StartAsync();
        using var stale = await RawPeer.ConnectAsync(server, "alice");
        await using var fresh = await server.RegisterAsync("alice", "t-alice"); // the same id and token: the stale socket is replaced
        var close = await stale.ReadFrameAsync();
        Assert.Equal((0x8, 4001), (close.Opcode, (int)BinaryPrimitives.ReadUInt16BigEndian(close.Payload)));
        Assert.True(await stale.EndedAsync(), "the server ended the connection"); // it never answers the close frame
        await fresh.SendAsync(new { type = "HEARTBEAT" });
        Assert.Equal(WebSocketState.Open, fresh.State);
    }

    [Fact]
    public async Task UnmaskedClientFrame_ClosesWith1002_OthersServed()
    {
        await using var server = await StartLoopAsync();
        using var mallory = await RawPeer.ConnectAsync(server, "mallory");
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");
        await mallory.SendAsync(PipeWebSocketTests.ClientFrame(0x1, "{\"type\":\"HEARTBEAT\"}"u8.ToArray(), masked: false));
        var close = await mallory.ReadFrameAsync();
        Assert.Equal(0x8, close.Opcode);
        Assert.Equal(1002, BinaryPrimitives.ReadUInt16BigEndian(close.Payload));
        await a.SendAsync(new { type = "OFFER", dst = "bob", payload = 1 });
        Assert.Equal("alice", (await b.ReceiveAsync()).Src);
    }

    [Fact]
    public async Task OversizedFrame_IsDroppedAsTooLarge_TheSocketKeepsWorking()
    {
        await using var server = await StartLoopAsync(new Dictionary<string, string?> { ["GhostChat:Signaling:Limits:MaxFrameBytes"] = "1024" });
        using var alice = await RawPeer.ConnectAsync(server, "alice");
        await using var bob = await server.RegisterAsync("bob");
        var huge = PipeWebSocketTests.ClientFrame(0x1, Encoding.UTF8.GetBytes("{\"type\":\"OFFER\",\"dst\":\"bob\",\"payload\":\"" + new string('z', 200_000) + "\"}"));
        await alice.SendAsync([.. huge, .. Offer("bob", 7)]);
        Assert.Equal(7, (await bob.ReceiveAsync()).Payload.GetInt32());
        Assert.Equal(1, await server.MetricAsync("ghostchat_signaling_frames_malformed_total", "kind=\"too_large\""));
    }

    [Fact]
    public async Task UpgradeHeadInPieces_IsServed()
    {
        // When the loop sees only the first piece it hands the socket to Kestrel's fast path, which
        // waits for the rest; when both pieces are there by the time it looks, it serves the upgrade.
        await using var server = await StartLoopAsync();
        using var tcp = await ConnectionFastPathTests.ConnectAsync(server);
        var request = ConnectionFastPathTests.Upgrade("/peerjs?key=peerjs&id=alice&token=t");
        await ConnectionFastPathTests.Send(tcp.GetStream(), request[..20]);
        await Task.Delay(50);
        await ConnectionFastPathTests.Send(tcp.GetStream(), request[20..]);
        Assert.StartsWith("HTTP/1.1 101", await ConnectionFastPathTests.ReadHeadAsync(tcp.GetStream()), StringComparison.Ordinal);
        Assert.Equal(1, await server.MetricAsync("ghostchat_signaling_connections_total"));
        Assert.Equal(0, await server.MetricAsync("ghostchat_signaling_connections_total", "path=\"http\""));
    }

    public static TheoryData<string, string> NotOurs() => new()
    {
        { "binary garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n" },
        { "bad request line", "GET /peerjs?key=peerjs&id=a&token=t\r\nHost: x\r\n\r\n" },
        { "oversized head", "GET /peerjs?key=peerjs&id=a&token=t HTTP/1.1\r\nHost: x\r\nX-Pad: " + new string('a', 9000) + "\r\n\r\n" },
    };

    [Theory]
    [MemberData(nameof(NotOurs))]
    public async Task MalformedFirstBytes_GoToKestrel_WhichRefusesThem_OthersServed(string name, string request)
    {
        _ = name;
        await using var server = await StartLoopAsync();
        using (var tcp = await ConnectionFastPathTests.ConnectAsync(server))
        {
            await tcp.GetStream().WriteAsync(Encoding.Latin1.GetBytes(request));
            var head = await ConnectionFastPathTests.ReadHeadAsync(tcp.GetStream());
            Assert.True(head.Length == 0 || head.StartsWith("HTTP/1.1 4", StringComparison.Ordinal), head);
        }
        Assert.Equal(0, await server.MetricAsync("ghostchat_signaling_connections_total"));
        await using var a = await server.RegisterAsync("alice");
        await using var b = await server.RegisterAsync("bob");
        await a.SendAsync(new { type = "OFFER", dst = "bob", payload = 1 });
        Assert.Equal("alice", (await b.ReceiveAsync()).Src);
    }

    [Fact]
    public async Task SilentConnection_IsHandedOn_AndStillServedWhenItSpeaks()
    {
        await using var server = await StartLoopAsync();
        using var tcp = await ConnectionFastPathTests.ConnectAsync(server);
        await Task.Delay(SignalingLoopTransport.SilentAfter + TimeSpan.FromSeconds(1));
        await ConnectionFastPathTests.Send(tcp.GetStream(), ConnectionFastPathTests.Upgrade("/peerjs?key=peerjs&id=alice&token=t"));
        Assert.StartsWith("HTTP/1.1 101", await ConnectionFastPathTests.ReadHeadAsync(tcp.GetStream()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Shutdown_WithLoopSocketsOpen_ClosesThemWith1001_AndLeavesNoDescriptor()
    {
        Assert.True(Loop && Directory.Exists("/proc/self/fd"), "the socket loop runs here and descriptors are counted in /proc");
        // A first server warms up whatever the runtime opens once per process (its epoll, eventfds).
        await (await StartLoopAsync()).DisposeAsync();
        var before = SocketsAndPolls().Count;

        var server = await StartLoopAsync();
        var peers = new List<PeerClient>();
        for (var i = 0; i < 10; i++)
        {
            peers.Add(await server.RegisterAsync("p" + i));
        }
        using var silent = await ConnectionFastPathTests.ConnectAsync(server); // never says anything
        using var neverReading = await NeverReadingClient.ConnectAsync(server.WebSocketUri("slow", "t-slow"));
        using var partial = await RawPeer.ConnectAsync(server, "partial");
        await partial.SendAsync(Offer("p0", 1)[..3]); // a frame cut short: the loop keeps its first bytes
        await server.DisposeAsync();

        foreach (var peer in peers)
        {
            Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.EndpointUnavailable, (await peer.WaitClosedAsync()).Status);
            await peer.DisposeAsync();
        }
        silent.Dispose();
        neverReading.Dispose();
        partial.Dispose();
        await Eventually.TrueAsync(() => Task.FromResult(SocketsAndPolls().Count <= before),
            $"no more sockets, epolls and eventfds open after shutdown than before the server started ({before})");
    }

    /// <summary>This process's open sockets, epoll instances and eventfds (what the loops open; loaded assemblies are not counted).</summary>
    private static List<string> SocketsAndPolls() => [.. Directory.GetFiles("/proc/self/fd")
        .Select(f =>
        {
            try
            {
                return new FileInfo(f).LinkTarget ?? "";
            }
            catch (IOException)
            {
                return "";
            }
        })
        .Where(t => t.StartsWith("socket:", StringComparison.Ordinal) || t.StartsWith("anon_inode:", StringComparison.Ordinal))];

    private static byte[] Offer(string dst, int payload)
        => PipeWebSocketTests.ClientFrame(0x1, Encoding.UTF8.GetBytes($"{{\"type\":\"OFFER\",\"dst\":\"{dst}\",\"payload\":{payload}}}"));

    /// <summary>A signaling client on a raw TCP socket: registers, then sends whatever bytes the test makes.</summary>
    private sealed class RawPeer : IDisposable
    {
        private readonly TcpClient _tcp;
        private readonly NetworkStream _stream;

        private RawPeer(TcpClient tcp)
        {
            _tcp = tcp;
            _stream = tcp.GetStream();
        }

        public static async Task<RawPeer> ConnectAsync(TestServer server, string id, int? receiveBuffer = null)
        {
            var tcp = new TcpClient { NoDelay = true };
            if (receiveBuffer is { } size)
            {
                tcp.ReceiveBufferSize = size; // before connecting: a small window, no autotuning
            }
            await tcp.ConnectAsync(server.BaseUri.Host, server.BaseUri.Port);
            var peer = new RawPeer(tcp);
            await ConnectionFastPathTests.Send(peer._stream, ConnectionFastPathTests.Upgrade($"/peerjs?key=peerjs&id={id}&token=t-{id}"));
            Assert.StartsWith("HTTP/1.1 101", await ConnectionFastPathTests.ReadHeadAsync(peer._stream), StringComparison.Ordinal);
            var open = await peer.ReadFrameAsync();
            Assert.Contains("\"OPEN\"", Encoding.UTF8.GetString(open.Payload), StringComparison.Ordinal);
            return peer;
        }

        public Task SendAsync(byte[] bytes) => _stream.WriteAsync(bytes).AsTask();

        /// <summary>Reads one server frame (never masked).</summary>
        public async Task<(int Opcode, byte[] Payload)> ReadFrameAsync()
        {
            using var cts = new CancellationTokenSource(PeerClient.DefaultWait);
            var head = new byte[2];
            await _stream.ReadExactlyAsync(head, cts.Token);
            long length = head[1] & 0x7F;
            if (length == 126)
            {
                var ext = new byte[2];
                await _stream.ReadExactlyAsync(ext, cts.Token);
                length = BinaryPrimitives.ReadUInt16BigEndian(ext);
            }
            else if (length == 127)
            {
                var ext = new byte[8];
                await _stream.ReadExactlyAsync(ext, cts.Token);
                length = (long)BinaryPrimitives.ReadUInt64BigEndian(ext);
            }
            var payload = new byte[length];
            await _stream.ReadExactlyAsync(payload, cts.Token);
            return (head[0] & 0x0F, payload);
        }

        /// <summary>Reads (and drops) until the server ends the connection: true at end of stream or reset; false if it is still open after a minute.</summary>
        public async Task<bool> EndedAsync()
        {
            using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(1)); // a hang guard, not a measure: the close timeout is 2 s
            var scratch = new byte[256];
            try
            {
                while (await _stream.ReadAsync(scratch, guard.Token) > 0)
                {
                }
                return true;
            }
            catch (IOException)
            {
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        public void Dispose() => _tcp.Dispose();
    }
}
