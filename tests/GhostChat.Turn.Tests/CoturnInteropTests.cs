using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using GhostChat.Turn.Auth;

namespace GhostChat.Turn.Tests;

/// <summary>coturn's own clients (Debian package coturn 4.6.1: turnutils_stunclient, turnutils_uclient, turnutils_peer) against our server.</summary>
public sealed partial class CoturnInteropTests
{
    private const string Tools = "/usr/bin/";

    [Fact]
    public async Task StunClient_Binding_PrintsReflexiveAddress()
    {
        await using var server = await TestServer.StartAsync();
        var (exit, output) = await RunAsync("turnutils_stunclient", "-p", Port(server), "127.0.0.1");
        Assert.Equal(0, exit);
        Assert.Contains("UDP reflexive addr: 127.0.0.1:", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("udp-channel")]
    [InlineData("tcp-channel")]
    [InlineData("udp-send")]
    [InlineData("tcp-send")]
    [InlineData("udp-client-to-client")]
    [InlineData("tcp-client-to-client")]
    public async Task Uclient_RestSecret_RelaysWithZeroLoss(string mode)
    {
        await using var server = await TestServer.StartAsync(o => { o.AllowedPeers = ["127.0.0.1/32"]; o.MaxAllocationsPerUser = 100; });
        int peerPort = FreePorts.Udp();
        await using var peer = Start("turnutils_peer", "-L", "127.0.0.1", "-p", peerPort.ToString(CultureInfo.InvariantCulture));
        try
        {
            var args = new List<string>();
            if (mode.StartsWith("tcp", StringComparison.Ordinal))
            {
                args.Add("-t");
            }
            if (mode.EndsWith("send", StringComparison.Ordinal))
            {
                args.Add("-s");
            }
            if (mode.EndsWith("client-to-client", StringComparison.Ordinal))
            {
                args.Add("-y");
            }
            args.AddRange(["-W", TestServer.Secret, "-u", "interop", "-e", "127.0.0.1", "-r", peerPort.ToString(CultureInfo.InvariantCulture),
                "-X", "-c", "-m", "4", "-n", "50", "-l", "200", "-z", "10", "-p", Port(server), "127.0.0.1"]);
            var (exit, output) = await RunAsync("turnutils_uclient", [.. args]);
            Assert.True(exit == 0, output);
            var totals = TotalsRegex().Matches(output).LastOrDefault() ?? TotalsRegex().Match(output);
            Assert.True(totals.Success, output);
            int sent = int.Parse(totals.Groups["sent"].Value, CultureInfo.InvariantCulture);
            int received = int.Parse(totals.Groups["received"].Value, CultureInfo.InvariantCulture);
            Assert.Equal(200, sent);
            Assert.Equal(sent, received);
            Assert.Contains("Total lost packets 0 (", output, StringComparison.Ordinal);
            Assert.True(server.Server.RelayedPackets >= 400, "relayed " + server.Server.RelayedPackets);
            Assert.Equal(0, server.Server.HandlerFaults);
        }
        finally
        {
            await peer.KillAsync();
        }
    }

    [Fact]
    public async Task Uclient_WrongPassword_CannotAllocate()
    {
        await using var server = await TestServer.StartAsync(o => o.AllowedPeers = ["127.0.0.1/32"]);
        var username = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) + ":eve";
        var (exit, output) = await RunAsync("turnutils_uclient", "-u", username, "-w", "not-the-password", "-e", "127.0.0.1", "-r", "9", "-X", "-c", "-m", "1", "-n", "2", "-p", Port(server), "127.0.0.1");
        Assert.NotEqual(0, exit);
        Assert.Contains("Cannot complete Allocation", output, StringComparison.Ordinal);
        Assert.Equal(0, server.Server.AllocationCount);
    }

    [Fact]
    public async Task Uclient_ExpiredCredential_CannotAllocate()
    {
        await using var server = await TestServer.StartAsync(o => o.AllowedPeers = ["127.0.0.1/32"]);
        var expired = TurnRestCredentials.Create(TestServer.Secret, "eve", TimeSpan.FromSeconds(-30), DateTimeOffset.UtcNow);
        var (exit, output) = await RunAsync("turnutils_uclient", "-u", expired.Username, "-w", expired.Password, "-e", "127.0.0.1", "-r", "9", "-X", "-c", "-m", "1", "-n", "2", "-p", Port(server), "127.0.0.1");
        Assert.NotEqual(0, exit);
        Assert.Contains("Cannot complete Allocation", output, StringComparison.Ordinal);
        Assert.Equal(0, server.Server.AllocationCount);

        // The same user with a valid credential is let in: the refusal above was about expiry only.
        var valid = TurnRestCredentials.Create(TestServer.Secret, "eve", TimeSpan.FromMinutes(5), DateTimeOffset.UtcNow);
        int peerPort = FreePorts.Udp();
        await using var peer = Start("turnutils_peer", "-L", "127.0.0.1", "-p", peerPort.ToString(CultureInfo.InvariantCulture));
        try
        {
            (exit, output) = await RunAsync("turnutils_uclient", "-u", valid.Username, "-w", valid.Password, "-e", "127.0.0.1", "-r", peerPort.ToString(CultureInfo.InvariantCulture), "-X", "-c", "-m", "1", "-n", "5", "-p", Port(server), "127.0.0.1");
            Assert.True(exit == 0, output);
        }
        finally
        {
            await peer.KillAsync();
        }
    }

    [GeneratedRegex(@"tot_send_msgs=(?<sent>\d+), tot_recv_msgs=(?<received>\d+)", RegexOptions.ExplicitCapture, matchTimeoutMilliseconds: 1000)]
    private static partial Regex TotalsRegex();

    private static string Port(TestServer server)
    {
        // uclient uses one -p for UDP and TCP: the test server must have the same port for both.
        return server.Udp.Port.ToString(CultureInfo.InvariantCulture);
    }

    private static ChildProcess Start(string tool, params string[] args) => ChildProcess.Start(ProcessRunner.StartInfo(Tools + tool, args));

    private static async Task<(int Exit, string Output)> RunAsync(string tool, params string[] args)
    {
        var result = await ProcessRunner.RunAsync(Tools + tool, args, TimeSpan.FromSeconds(120));
        return (result.Exit, result.Output);
    }
}
