using System.Net;
using System.Text.Json;
using GhostChat.Server.Ice;
using GhostChat.Testing;
using GhostChat.Turn.Client;

namespace GhostChat.Server.Tests.Ice;

/// <summary>A real coturn (Debian turnserver 4.6.1) as a rest-secret provider, probed by the real prober.</summary>
public sealed class CoturnProviderTests
{
    private const string Secret = "coturn-rest-secret-for-ice-tests";

    private static Dictionary<string, string?> Config(int port, string secret) => new Dictionary<string, string?>
    {
        ["GhostChat:Ice:Providers:coturn:Type"] = "rest-secret",
        ["GhostChat:Ice:Providers:coturn:Priority"] = "1",
        ["GhostChat:Ice:Providers:coturn:Urls:0"] = $"turn:127.0.0.1:{port}?transport=udp",
        ["GhostChat:Ice:Providers:coturn:Urls:1"] = $"turn:127.0.0.1:{port}?transport=tcp",
        ["GhostChat:Ice:Providers:coturn:Secrets:0"] = secret,
        ["GhostChat:Ice:Probe:Interval"] = "00:00:00.300",
        ["GhostChat:Ice:Probe:Timeout"] = "00:00:02",
        ["GhostChat:Ice:Probe:MaxBackoff"] = "00:00:01",
        // The fallback: our embedded server, which answers its probes.
        ["GhostChat:Turn:Enabled"] = "true",
        ["GhostChat:Turn:UdpPort"] = "0",
        ["GhostChat:Turn:TcpPort"] = "0",
        ["GhostChat:Turn:ListenAddresses:0"] = "127.0.0.1",
        ["GhostChat:Ice:Providers:backup:Type"] = "embedded",
        ["GhostChat:Ice:Providers:backup:Priority"] = "50",
    };

    private static async Task<JsonElement> ReadyAsync(TestServer server)
    {
        using var doc = JsonDocument.Parse(await server.Http.GetStringAsync("readyz"));
        return doc.RootElement.GetProperty("checks").GetProperty("ice").Clone();
    }

    private static async Task<string> StateAsync(TestServer server) =>
        (await ReadyAsync(server)).GetProperty("data").GetProperty("coturn").GetProperty("state").GetString()!;

    [Fact]
    public async Task Credentials_AllocateOnCoturn_StopMarksDownAndLeavesItOut_RestartBringsItBack()
    {
        var coturn = await CoturnProcess.StartAsync(Secret);
        int port = coturn.Port;
        try
        {
            await using var server = await TestServer.StartAsync(Config(port, Secret));
            await Eventually.TrueAsync(async () => await StateAsync(server) == "healthy", "coturn probed healthy");
            Assert.Equal(0, await server.MetricAsync("ghostchat_ice_provider_state", "provider=\"coturn\""));
            Assert.True(await server.MetricAsync("ghostchat_ice_provider_latency_milliseconds", "provider=\"coturn\"") > 0);

            var answer = await IceApi.GetAsync(server);
            Assert.Equal(["coturn", "backup"], answer.Providers);
            var username = answer.Servers[0].GetProperty("username").GetString()!;
            var credential = answer.Servers[0].GetProperty("credential").GetString()!;
            foreach (var transport in new[] { TurnTransport.Udp, TurnTransport.Tcp })
            {
                await using var client = await TurnClient.ConnectAsync(transport, new IPEndPoint(IPAddress.Loopback, port));
                var allocation = await client.AllocateAsync(username, credential);
                Assert.Equal(IPAddress.Loopback, allocation.Relayed.Address);
            }

            // Stop coturn: within a bounded time the prober marks it down and /api/ice stops returning it.
            await coturn.DisposeAsync();
            await Eventually.TrueAsync(async () => await StateAsync(server) == "down", "coturn marked down", TimeSpan.FromSeconds(60));
            Assert.Equal(["backup"], (await IceApi.GetAsync(server)).Providers);
            var ready = await ReadyAsync(server);
            Assert.Equal("Degraded", ready.GetProperty("status").GetString());
            Assert.Contains("coturn is down", ready.GetProperty("description").GetString(), StringComparison.Ordinal);
            Assert.Equal(2, await server.MetricAsync("ghostchat_ice_provider_state", "provider=\"coturn\""));
            Assert.True(await server.MetricAsync("ghostchat_ice_probes_total", "provider=\"coturn\"", "result=\"failed\"") >= 2);
            Assert.Contains(server.Logs.Records, r => r.Level == LogLevel.Information && r.Message.StartsWith("ICE provider coturn: 127.0.0.1:", StringComparison.Ordinal) && r.Message.Contains("is now Down", StringComparison.Ordinal));

            // Restart it on the same port: it comes back.
            coturn = await CoturnProcess.StartAsync(Secret, port: port);
            // Poll /readyz, not /api/ice: /api/ice is rate-limited per address and a 25 ms poll for up to a minute trips it.
            await Eventually.TrueAsync(async () => await StateAsync(server) == "healthy", "coturn probed healthy again", TimeSpan.FromSeconds(60));
            Assert.Equal("coturn", (await IceApi.GetAsync(server)).Providers.FirstOrDefault());
        }
        finally
        {
            await coturn.DisposeAsync();
        }
    }

    [Fact]
    public async Task WrongSecret_ProbeGets401_ProviderDown_WithTheReasonInReadyz()
    {
        await using var coturn = await CoturnProcess.StartAsync(Secret);
        await using var server = await TestServer.StartAsync(Config(coturn.Port, "not-the-secret-coturn-knows"));
        await Eventually.TrueAsync(async () => await StateAsync(server) == "down", "coturn with a wrong secret marked down");
        var servers = (await ReadyAsync(server)).GetProperty("data").GetProperty("coturn").GetProperty("servers");
        Assert.Equal("allocate: 401 (credentials refused)", servers.GetProperty($"127.0.0.1:{coturn.Port}/udp").GetProperty("lastError").GetString());
        Assert.Equal(["backup"], (await IceApi.GetAsync(server)).Providers);
        Assert.DoesNotContain("not-the-secret-coturn-knows", IceApi.AllLogs(server), StringComparison.Ordinal);
    }
}
