using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using GhostChat.Server.Hosting;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Tests.Hosting;

public sealed class ConfigurationAndPrivacyTests
{
    [Fact]
    public async Task InvalidOptions_HostRefusesToStart_ListingEveryProblem()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using var app = GhostChatHost.Build(["--urls", "http://127.0.0.1:0"], b => b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["GhostChat:Turn:Enabled"] = "false",
                ["GhostChat:Signaling:Path"] = "no-slash",
                ["GhostChat:Signaling:ExpireTimeout"] = "-00:00:01",
                ["GhostChat:Signaling:Limits:MaxSocketsPerIp"] = "0",
                ["GhostChat:Signaling:AllowedOrigins:0"] = "not an origin",
            }));
            await app.StartAsync();
        });
        var all = string.Join("\n", ex.Failures);
        Assert.Contains("GhostChat:Signaling:Path", all, StringComparison.Ordinal);
        Assert.Contains("GhostChat:Signaling:ExpireTimeout", all, StringComparison.Ordinal);
        Assert.Contains("GhostChat:Signaling:Limits:MaxSocketsPerIp", all, StringComparison.Ordinal);
        Assert.Contains("GhostChat:Signaling:AllowedOrigins", all, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--GhostChat:Signaling:ExpireTimeout=-00:00:01", "GhostChat:Signaling:ExpireTimeout")]
    [InlineData("--GhostChat:Signaling:ConcurrentLimit=lots", "GhostChat:Signaling:ConcurrentLimit")]
    public async Task ServerProcess_BadValue_ExitsWithAClearMessage(string argument, string expectedKey)
    {
        var dll = typeof(GhostChatHost).Assembly.Location;
        var result = await ProcessRunner.RunAsync("dotnet", [dll, "--urls", "http://127.0.0.1:0", "--GhostChat:Turn:Enabled=false", argument], TimeSpan.FromSeconds(60));
        var output = result.Stderr + result.Stdout;
        Assert.Equal(1, result.Exit);
        Assert.Contains("configuration is invalid", output, StringComparison.Ordinal);
        Assert.Contains(expectedKey, output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal); // no stack trace for a config mistake
    }

    [Fact]
    public async Task ServerProcess_TurnPortTakenByAnotherProgram_ExitsWithAClearMessage()
    {
        // Another program (coturn, say) holds the embedded TURN server's TCP port.
        using var other = new TcpListener(IPAddress.Loopback, 0);
        other.Start();
        var taken = ((IPEndPoint)other.LocalEndpoint).Port;
        var dll = typeof(GhostChatHost).Assembly.Location;
        var result = await ProcessRunner.RunAsync("dotnet",
            [dll, "--urls", "http://127.0.0.1:0", "--GhostChat:Turn:ListenAddresses:0=127.0.0.1",
             $"--GhostChat:Turn:UdpPort={FreePorts.Udp()}", $"--GhostChat:Turn:TcpPort={taken}"],
            TimeSpan.FromSeconds(60));
        var output = result.Stderr + result.Stdout;
        Assert.Equal(1, result.Exit); // not the runtime's abort (134) on an unhandled exception
        Assert.Contains("could not start", output, StringComparison.Ordinal);
        Assert.Contains($"TCP {taken} (GhostChat:Turn:TcpPort)", output, StringComparison.Ordinal);
        Assert.Contains("GhostChat__Turn__Enabled=false", output, StringComparison.Ordinal); // what to do about it
    }

    [Fact]
    public async Task Logs_AtInformationAndAbove_NeverContainPeerIdsAddressesOrPayloads()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Signaling:Limits:MaxSocketsPerIp"] = "3" });
        await using var a = await server.RegisterAsync("secretalice", "tokenalice");
        await using var b = await server.RegisterAsync("secretbob", "tokenbob");
        await a.SendAsync(new { type = "OFFER", dst = "secretbob", payload = new { sdp = "payloadsecret" } });
        await b.ReceiveAsync();
        await a.SendTextAsync("garbage-secret");
        await using (var taken = await PeerClient.ConnectAsync(server.WebSocketUri("secretalice", "other")))
        {
            await taken.ReceiveAsync();
        }
        await using (var refused = await PeerClient.ConnectAsync(server.WebSocketUri("secretcarol", "t", key: "wrong")))
        {
            await refused.ReceiveAsync(); // an Information-level refusal
        }

        var informational = server.Logs.Records.Where(r => r.Level >= LogLevel.Information).Select(r => r.Message).ToList();
        Assert.Contains(informational, m => m.Contains("Refused a signaling socket", StringComparison.Ordinal));
        foreach (var secret in new[] { "secretalice", "secretbob", "secretcarol", "tokenalice", "payloadsecret", "garbage-secret", "127.0.0.1" })
        {
            Assert.DoesNotContain(informational, m => m.Contains(secret, StringComparison.Ordinal) && !m.Contains("Now listening", StringComparison.Ordinal));
        }
        // Debug may name peers (opt-in, for operators investigating) but never payloads.
        Assert.DoesNotContain(server.Logs.Records, r => r.Message.Contains("payloadsecret", StringComparison.Ordinal));
    }
}
