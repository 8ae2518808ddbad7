using System.Net;
using GhostChat.Server.EmbeddedTurn;
using GhostChat.Server.Tests.Infrastructure;
using GhostChat.Turn.Client;

namespace GhostChat.Server.Tests.EmbeddedTurn;

/// <summary><c>GhostChat:Turn:UdpBatchedIo</c> and <c>UdpBatchSize</c> reach the embedded server; a bad size stops the start.</summary>
public sealed class TurnUdpBatchingTests
{
    private static Dictionary<string, string?> Settings() => new()
    {
        ["GhostChat:Turn:Enabled"] = "true",
        ["GhostChat:Turn:ListenAddresses:0"] = "127.0.0.1",
        ["GhostChat:Turn:UdpPort"] = "0",
        ["GhostChat:Turn:TcpPort"] = "0",
    };

    [Fact]
    public async Task Default_BatchedOnLinux_AndAnswers()
    {
        await using var server = await TestServer.StartAsync(Settings());
        var turn = server.Services.GetRequiredService<EmbeddedTurnHost>().Server!;
        Assert.Equal(OperatingSystem.IsLinux() && Environment.Is64BitProcess, turn.RelayBatched);
        using var probe = StunProbe.Open(localAddress: IPAddress.Loopback);
        var answer = await probe.BindingAsync(turn.UdpEndPoints[0], timeout: TimeSpan.FromSeconds(10));
        Assert.Equal(IPAddress.Loopback, answer.Mapped.Address);
    }

    [Fact]
    public async Task UdpBatchedIoFalse_PortablePath_AndAnswers()
    {
        var settings = Settings();
        settings["GhostChat:Turn:UdpBatchedIo"] = "false";
        settings["GhostChat:Turn:UdpBatchSize"] = "8";
        await using var server = await TestServer.StartAsync(settings);
        var host = server.Services.GetRequiredService<EmbeddedTurnHost>();
        Assert.False(host.Options.UdpBatchedIo);
        Assert.Equal(8, host.Options.UdpBatchSize);
        Assert.False(host.Server!.RelayBatched);
        using var probe = StunProbe.Open(localAddress: IPAddress.Loopback);
        var answer = await probe.BindingAsync(host.Server.UdpEndPoints[0], timeout: TimeSpan.FromSeconds(10));
        Assert.Equal(IPAddress.Loopback, answer.Mapped.Address);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("257")]
    public async Task UdpBatchSize_OutOfRange_RefusesToStartWithTheKeyNamed(string size)
    {
        var settings = Settings();
        settings["GhostChat:Turn:UdpBatchSize"] = size;
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => TestServer.StartAsync(settings));
        Assert.Contains("UdpBatchSize", ex.Message, StringComparison.Ordinal);
    }
}
