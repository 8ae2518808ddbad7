using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;

namespace GhostChat.Cli.Tests;

/// <summary>
/// The NAT verdicts through a real NAT: three network namespaces (server with two addresses, a Linux router doing
/// MASQUERADE, a client on a private network), <c>ghostchat serve</c> with the STUN second address and port in the
/// server namespace, and <c>ghostchat doctor --json</c> in the client namespace. Linux MASQUERADE keeps the port for
/// every destination (endpoint-independent mapping) and lets in only replies from the exact address and port
/// (address- and port-dependent filtering); with <c>--random-fully</c> it picks a new port per destination
/// (symmetric). Everything is removed at the end, also when a test fails.
/// </summary>
public sealed class DoctorBehindNatTests : IAsyncLifetime
{
    private const string ServerIp = "198.18.77.1", ServerIp2 = "198.18.77.2", RouterWan = "198.18.77.254", RouterLan = "10.77.0.1", ClientIp = "10.77.0.2";
    private readonly string _tag = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
    private readonly List<string> _namespaces = [];
    private ChildProcess? _server;

    private string Server => "gcds-" + _tag;

    private string Router => "gcdr-" + _tag;

    private string Client => "gcdc-" + _tag;

    public async Task InitializeAsync()
    {
        // xunit does not call DisposeAsync when InitializeAsync throws: clean up here then.
        try
        {
            await SetUpAsync();
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    private async Task SetUpAsync()
    {
        foreach (var ns in new[] { Server, Router, Client })
        {
            await Sh($"ip netns add {ns}");
            _namespaces.Add(ns);
            await Sh($"ip -n {ns} link set lo up");
        }
        await Sh($"ip link add s{_tag} netns {Server} type veth peer name rw{_tag} netns {Router}");
        await Sh($"ip link add c{_tag} netns {Client} type veth peer name rl{_tag} netns {Router}");
        await Sh($"ip -n {Server} addr add {ServerIp}/24 dev s{_tag}");
        await Sh($"ip -n {Server} addr add {ServerIp2}/24 dev s{_tag}");
        await Sh($"ip -n {Server} link set s{_tag} up");
        await Sh($"ip -n {Router} addr add {RouterWan}/24 dev rw{_tag}");
        await Sh($"ip -n {Router} addr add {RouterLan}/24 dev rl{_tag}");
        await Sh($"ip -n {Router} link set rw{_tag} up");
        await Sh($"ip -n {Router} link set rl{_tag} up");
        await Sh($"ip netns exec {Router} sysctl -qw net.ipv4.ip_forward=1");
        await Sh($"ip -n {Client} addr add {ClientIp}/24 dev c{_tag}");
        await Sh($"ip -n {Client} link set c{_tag} up");
        await Sh($"ip -n {Client} route add default via {RouterLan}");
        // The server has no route to the private network: only NATed packets can reach it and come back.

        var psi = ProcessRunner.StartInfo("ip", ["netns", "exec", Server, "dotnet", GhostchatProcess.CliDll(), "serve", "--urls", $"http://{ServerIp}:18080"]);
        psi.Environment["GhostChat__Turn__ListenAddresses__0"] = ServerIp;
        psi.Environment["GhostChat__Turn__UdpPort"] = "3478";
        psi.Environment["GhostChat__Turn__TcpPort"] = "3478";
        psi.Environment["GhostChat__Turn__AlternatePort"] = "3479";
        psi.Environment["GhostChat__Turn__AlternateAddress"] = ServerIp2;
        psi.Environment["GhostChat__Turn__UdpReceiveLoops"] = "1";
        // Stopped by its own process id (ip netns exec execs dotnet in place).
        _server = ChildProcess.Start(psi);
        // Ready when the STUN sockets (both addresses, both ports) are bound inside the server namespace.
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while ((await ShOutput($"ip netns exec {Server} ss -Hlun")).IndexOf($"{ServerIp2}:3479", StringComparison.Ordinal) < 0)
        {
            Assert.False(_server.HasExited, "ghostchat serve exited at start");
            Assert.True(DateTime.UtcNow < deadline, "ghostchat serve did not bind its STUN sockets in 90 s");
            await Task.Delay(500);
        }
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        foreach (var ns in _namespaces)
        {
            await ShOutput($"ip netns del {ns}");
        }
    }

    [Fact]
    public async Task PortPreservingMasquerade_IsEndpointIndependentMapping_PortRestrictedFiltering()
    {
        await Sh($"ip netns exec {Router} iptables -t nat -A POSTROUTING -o rw{_tag} -j MASQUERADE");
        var report = await DoctorInClientAsync();
        Assert.Equal("endpoint-independent", report.GetProperty("nat").GetProperty("mapping").GetString());
        Assert.Equal("address-and-port-dependent", report.GetProperty("nat").GetProperty("filtering").GetString());
        var stun = report.Check($"stun:{ServerIp}:3478");
        Assert.StartsWith(RouterWan + ":", stun.GetProperty("details").GetProperty("mapped").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, report.GetProperty("exitCode").GetInt32());
    }

    [Fact]
    public async Task RandomFullyMasquerade_IsSymmetric_WithTurnAdvice()
    {
        await Sh($"ip netns exec {Router} iptables -t nat -A POSTROUTING -o rw{_tag} -j MASQUERADE --random-fully");
        var report = await DoctorInClientAsync();
        Assert.Equal("address-and-port-dependent", report.GetProperty("nat").GetProperty("mapping").GetString());
        var mapping = report.Check("nat:mapping");
        Assert.Equal("warn", mapping.Status());
        Assert.Contains("symmetric NAT", mapping.Verdict(), StringComparison.Ordinal);
        Assert.Contains("TURN relay", mapping.Advice(), StringComparison.Ordinal);
    }

    private async Task<JsonElement> DoctorInClientAsync()
    {
        var (exit, stdout) = await RunAsync("ip", "netns", "exec", Client, "dotnet", GhostchatProcess.CliDll(), "doctor", "--stun", $"{ServerIp}:3478", "--timeout", "5", "--json");
        using var doc = JsonDocument.Parse(stdout);
        Assert.True(exit is 0 or 1, stdout);
        return doc.RootElement.Clone();
    }

    private static async Task Sh(string command)
    {
        var parts = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var (exit, output) = await RunAsync(parts[0], parts[1..]);
        Assert.True(exit == 0, $"{command}: {output}");
    }

    private static async Task<string> ShOutput(string command)
    {
        var parts = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (await RunAsync(parts[0], parts[1..])).Output;
    }

    private static async Task<(int Exit, string Output)> RunAsync(string file, params string[] args)
    {
        var result = await ProcessRunner.RunAsync(file, args, TimeSpan.FromSeconds(120));
        return (result.Exit, result.Output);
    }
}
