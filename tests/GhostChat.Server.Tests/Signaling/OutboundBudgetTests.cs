using System.Net.WebSockets;
using Xunit.Abstractions;

namespace GhostChat.Server.Tests.Signaling;

/// <summary>
/// Issue 15 item 2: sockets that never read, flooded by others, must not hold the server's memory.
/// Each test floods fewer frames per slow socket than the frame cap (512), so only the byte budgets
/// can close them: before the budgets existed these tests failed.
/// </summary>
public sealed class OutboundBudgetTests(ITestOutputHelper output)
{
    // Two frames per round: 400 < MaxOutboundFramesPerSocket (512). The kernel's socket buffers take
    // the first few MiB before the server's queue grows (net.ipv4.tcp_wmem max, 4 MiB here: about 30
    // rounds); a machine whose buffers could take 20 MiB or more would need more rounds.
    private const int MaxRounds = 200;

    private static readonly string Payload = new('x', 60_000);

    private static Dictionary<string, string?> Unthrottled(params (string Key, string Value)[] more)
    {
        var settings = new Dictionary<string, string?>
        {
            ["GhostChat:Signaling:Limits:MessageBurst"] = "100000",
            ["GhostChat:Signaling:Limits:MessagesPerSecond"] = "100000",
        };
        foreach (var (k, v) in more)
        {
            settings["GhostChat:Signaling:Limits:" + k] = v;
        }
        return settings;
    }

    /// <summary>
    /// Two flooders send 60 kB frames to every slow socket, round after round, until
    /// <paramref name="closedMetric"/> counts every slow socket closed (or the rounds run out);
    /// meanwhile alice and bob keep exchanging numbered OFFERs, each of which must arrive.
    /// </summary>
    private async Task FloodAsync(TestServer server, string[] slowIds, string reason)
    {
        await using var flood1 = await server.RegisterAsync("flood1");
        await using var flood2 = await server.RegisterAsync("flood2");
        await using var alice = await server.RegisterAsync("alice");
        await using var bob = await server.RegisterAsync("bob");
        var slow = new List<NeverReadingClient>();
        try
        {
            foreach (var id in slowIds)
            {
                slow.Add(await NeverReadingClient.ConnectAsync(server.WebSocketUri(id, "t-" + id)));
            }
            await Eventually.MetricAsync(server, "ghostchat_signaling_peers", 4 + slowIds.Length);

            var rounds = 0;
            while (await server.MetricAsync("ghostchat_signaling_rejections_total", $"reason=\"{reason}\"") < slowIds.Length)
            {
                Assert.True(rounds++ < MaxRounds,
                    $"after {MaxRounds} rounds ({2 * MaxRounds} frames of 60 kB to each), {await server.MetricAsync("ghostchat_signaling_rejections_total", $"reason=\"{reason}\"")} of {slowIds.Length} never-reading sockets were closed");
                foreach (var id in slowIds)
                {
                    await flood1.SendAsync(new { type = "CANDIDATE", dst = id, payload = Payload });
                    await flood2.SendAsync(new { type = "CANDIDATE", dst = id, payload = Payload });
                }
                // The sockets that read are served all along.
                await alice.SendAsync(new { type = "OFFER", dst = "bob", payload = rounds });
                var got = await bob.ReceiveAsync();
                Assert.Equal(("OFFER", "alice", rounds), (got.Type, got.Src, got.Payload.GetInt32()));
            }

            output.WriteLine($"all closed after {rounds} rounds (2 frames of 60 kB to each slow socket per round)");

            // The slow sockets are really gone (their blocked sends abandoned) and their bytes released.
            await Eventually.MetricAsync(server, "ghostchat_signaling_sockets", 4);
            await Eventually.MetricAsync(server, "ghostchat_signaling_outbound_bytes", 0);

            await bob.SendAsync(new { type = "ANSWER", dst = "alice", payload = "still here" });
            Received back;
            do
            {
                back = await alice.ReceiveAsync();
            }
            while (back.Type != "ANSWER");
            Assert.Equal("still here", back.Payload.GetString());
            Assert.Equal(WebSocketState.Open, flood1.State);
            Assert.Equal(WebSocketState.Open, flood2.State);

            // Logged without ids or addresses.
            var closes = server.Logs.Records.Where(r => r.Message.StartsWith("Closed a signaling socket that is too slow", StringComparison.Ordinal)).ToList();
            Assert.Equal(slowIds.Length, closes.Count);
            Assert.All(closes, r =>
            {
                Assert.Equal(LogLevel.Information, r.Level);
                Assert.DoesNotContain("127.0.0.1", r.Message, StringComparison.Ordinal);
                Assert.All(slowIds, id => Assert.DoesNotContain(id, r.Message, StringComparison.Ordinal));
            });
        }
        finally
        {
            slow.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task NeverReadingSockets_FloodedByOthers_ClosedAtTheirByteBudget_OthersServed()
    {
        // The default per-socket budget (1 MiB) on top of the kernel's buffers.
        await using var server = await TestServer.StartAsync(Unthrottled());
        await FloodAsync(server, ["slow1", "slow2"], "slow_consumer");
        Assert.Equal(0, await server.MetricAsync("ghostchat_signaling_rejections_total", "reason=\"node_outbound_budget\""));
    }

    [Fact]
    public async Task NeverReadingSockets_EachUnderItsBudget_ClosedWhenTheNodeBudgetIsUsedUp_OthersServed()
    {
        // Each slow socket could hold 64 MiB; the node holds 1 MiB for all of them together.
        await using var server = await TestServer.StartAsync(Unthrottled(
            ("MaxOutboundBytesPerSocket", (64 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("MaxOutboundBytesTotal", (1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture))));
        await FloodAsync(server, ["slow1", "slow2", "slow3"], "node_outbound_budget");
        Assert.Equal(0, await server.MetricAsync("ghostchat_signaling_rejections_total", "reason=\"slow_consumer\""));
    }

    [Fact]
    public async Task OutboundBudgets_SmallerThanTwoFrames_HostRefusesToStart_NamingBoth()
    {
        var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(async () =>
        {
            await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
            {
                ["GhostChat:Signaling:Limits:MaxFrameBytes"] = "65536",
                ["GhostChat:Signaling:Limits:MaxOutboundBytesPerSocket"] = "100000",
                ["GhostChat:Signaling:Limits:MaxOutboundBytesTotal"] = "100000",
            });
        });
        var all = string.Join("\n", ex.Failures);
        Assert.Contains("GhostChat:Signaling:Limits:MaxOutboundBytesPerSocket must be at least twice", all, StringComparison.Ordinal);
        Assert.Contains("GhostChat:Signaling:Limits:MaxOutboundBytesTotal must be at least twice", all, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Shutdown_WhileASendIsBlockedOnANeverReadingSocket_ClosesTheOthersWith1001_AndStops()
    {
        // Shutdown while busy: one socket's send is stuck on full kernel buffers with frames queued
        // behind it; stopping must neither wait for it nor keep the others from their close frame.
        // A per-socket budget far above what is sent, so the stuck socket is not closed as too slow
        // first; and a host shutdown timeout far beyond the guard below, so that a server that waited
        // for the stuck connection to drain (as it did) fails this test instead of being cut off.
        var settings = Unthrottled(("MaxOutboundBytesPerSocket", "67108864"));
        settings["shutdownTimeoutSeconds"] = "600";
        var server = await TestServer.StartAsync(settings);
        var alice = await server.RegisterAsync("alice");
        var flood = await server.RegisterAsync("flood");
        using var slow = await NeverReadingClient.ConnectAsync(server.WebSocketUri("slow", "t-slow"));
        await Eventually.MetricAsync(server, "ghostchat_signaling_peers", 3);
        // 150 frames of 60 kB (9 MB, under the 512-frame cap): more than the kernel's buffers take
        // (net.ipv4.tcp_wmem max, 4 MiB here), so a send blocks and frames queue behind it.
        for (var i = 0; i < 150; i++)
        {
            await flood.SendAsync(new { type = "CANDIDATE", dst = "slow", payload = Payload });
        }
        await Eventually.TrueAsync(async () => await server.MetricAsync("ghostchat_signaling_outbound_bytes") > 0, "the never-reading socket's queue fills");

        var stopping = server.DisposeAsync().AsTask();
        foreach (var client in new[] { alice, flood })
        {
            var (status, reason) = await client.WaitClosedAsync(TimeSpan.FromSeconds(30));
            Assert.Equal((WebSocketCloseStatus.EndpointUnavailable, "server shutting down"), (status, reason));
        }
        await stopping.WaitAsync(TimeSpan.FromSeconds(60)); // a hang guard, not a speed check: stopping ends once the close timeout (2 s) gives up on the stuck send
        await alice.DisposeAsync();
        await flood.DisposeAsync();
    }
}
