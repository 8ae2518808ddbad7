using System.Net;
using System.Text.Json;
using GhostChat.Server.EmbeddedTurn;
using GhostChat.Server.Tests.Infrastructure;
using GhostChat.Turn.Client;

namespace GhostChat.Server.Tests.EmbeddedTurn;

/// <summary>Contract C3 in the host: <c>GhostChat:Turn:AlternatePort</c> binds, and the running server exposes the bound port.</summary>
public sealed class TurnAlternatePortTests
{
    private static Dictionary<string, string?> Settings(string alternatePort) => new()
    {
        ["GhostChat:Turn:Enabled"] = "true",
        ["GhostChat:Turn:ListenAddresses:0"] = "127.0.0.1",
        ["GhostChat:Turn:UdpPort"] = "0",
        ["GhostChat:Turn:TcpPort"] = "0",
        ["GhostChat:Turn:AlternatePort"] = alternatePort,
    };

    [Fact]
    public async Task AlternatePort_FromConfiguration_IsBoundAndExposed()
    {
        await using var server = await TestServer.StartAsync(Settings("0"));
        var turn = server.Services.GetRequiredService<EmbeddedTurnHost>().Server!;
        Assert.True(turn.AlternatePort > 0);
        using var probe = StunProbe.Open(localAddress: IPAddress.Loopback);
        var answer = await probe.BindingAsync(new IPEndPoint(IPAddress.Loopback, turn.AlternatePort), timeout: TimeSpan.FromSeconds(10));
        Assert.Equal(turn.AlternatePort, answer.ResponseOrigin!.Port);
        Assert.Equal(turn.UdpEndPoints[0].Port, answer.OtherAddress!.Port);
    }

    [Fact]
    public async Task AlternatePort_OffByDefault()
    {
        var settings = Settings("0");
        settings.Remove("GhostChat:Turn:AlternatePort");
        await using var server = await TestServer.StartAsync(settings);
        Assert.Equal(-1, server.Services.GetRequiredService<EmbeddedTurnHost>().Server!.AlternatePort);
        // Nothing to announce: /api/ice leaves stunProbes out.
        using var ice = JsonDocument.Parse(await server.Http.GetStringAsync("api/ice"));
        Assert.False(ice.RootElement.TryGetProperty("stunProbes", out _));
    }

    [Fact]
    public async Task AlternatePort_AnnouncedInApiIce_AsStunProbes_BothAnswerBindingFromTheirOwnPort()
    {
        await using var server = await TestServer.StartAsync(Settings("0"));
        var turn = server.Services.GetRequiredService<EmbeddedTurnHost>().Server!;
        using var ice = JsonDocument.Parse(await server.Http.GetStringAsync("api/ice"));
        var probes = ice.RootElement.GetProperty("stunProbes").EnumerateArray().Select(e => e.GetString()!).ToArray();
        // The host the test client reached the server by (as for the embedded provider's URLs), on both ports.
        var host = server.Http.BaseAddress!.Host;
        Assert.Equal([$"stun:{host}:{turn.UdpEndPoints[0].Port}", $"stun:{host}:{turn.AlternatePort}"], probes);
        using var probe = StunProbe.Open(localAddress: IPAddress.Loopback);
        foreach (var url in probes)
        {
            var port = int.Parse(url[(url.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            var answer = await probe.BindingAsync(new IPEndPoint(IPAddress.Loopback, port), timeout: TimeSpan.FromSeconds(10));
            Assert.Equal(port, answer.ResponseOrigin!.Port);
        }
    }

    [Fact]
    public async Task AlternateAddress_WithoutAlternatePort_RefusesToStart()
    {
        var settings = Settings("-1");
        settings["GhostChat:Turn:AlternateAddress"] = "127.0.0.2";
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => TestServer.StartAsync(settings));
        Assert.Contains("AlternateAddress needs AlternatePort", ex.Message, StringComparison.Ordinal);
    }
}
