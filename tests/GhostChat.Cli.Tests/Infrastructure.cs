using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using GhostChat.Server.Hosting;
using GhostChat.Turn.Auth;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

// In-process GhostChat servers share one metrics listener, and the machine is shared: one class at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace GhostChat.Cli.Tests;

/// <summary>
/// The real GhostChat server (same composition root) on 127.0.0.1 with the embedded STUN/TURN on free ports: UDP and
/// TCP on one port, TLS with a generated self-signed certificate, the STUN second port, loopback peers allowed; /api/ice
/// hands out the embedded server's URLs with short-lived credentials (or, with another secret, a static provider's).
/// </summary>
internal sealed class GhostChatUnderTest : IAsyncDisposable
{
    public const string Secret = "doctor-test-secret-0123456789abcdef";

    private readonly WebApplication _app;
    private readonly string _dir;

    private GhostChatUnderTest(WebApplication app, string dir, int turnPort, int tlsPort, int alternatePort)
    {
        _app = app;
        _dir = dir;
        TurnPort = turnPort;
        TlsPort = tlsPort;
        AlternatePort = alternatePort;
        Url = new Uri(app.Urls.First());
    }

    public Uri Url { get; }

    public int TurnPort { get; }

    public int TlsPort { get; }

    public int AlternatePort { get; }

    /// <summary>Starts a server; <paramref name="iceSecret"/> signs the credentials /api/ice hands out (a wrong one: 401).</summary>
    public static async Task<GhostChatUnderTest> StartAsync(string iceSecret = Secret, bool alternatePort = true)
    {
        var dir = Directory.CreateTempSubdirectory("ghostchat-doctor-").FullName;
        TestCertificates.WriteSelfSigned(Path.Combine(dir, "cert.pem"), Path.Combine(dir, "key.pem"), "turn.doctor.test").Dispose();
        for (int attempt = 0; ; attempt++)
        {
            int port = FreePorts.UdpAndTcp(), tls = FreePorts.Tcp(), alt = alternatePort ? FreePorts.Udp() : -1;
            var credential = TurnRestCredentials.Create(iceSecret, "doctor-test", TimeSpan.FromHours(1), DateTimeOffset.UtcNow);
            var settings = new Dictionary<string, string?>
            {
                ["GhostChat:Turn:Enabled"] = "true",
                ["GhostChat:Turn:ListenAddresses:0"] = "127.0.0.1",
                ["GhostChat:Turn:UdpPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["GhostChat:Turn:TcpPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["GhostChat:Turn:TlsPort"] = tls.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["GhostChat:Turn:TlsCertificatePath"] = Path.Combine(dir, "cert.pem"),
                ["GhostChat:Turn:TlsKeyPath"] = Path.Combine(dir, "key.pem"),
                ["GhostChat:Turn:AlternatePort"] = alt.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["GhostChat:Turn:Secrets:0"] = Secret,
                ["GhostChat:Turn:AllowedPeers:0"] = "127.0.0.1/32",
                ["GhostChat:Turn:RelayMinPort"] = "30000",
                ["GhostChat:Turn:RelayMaxPort"] = "30999",
                ["GhostChat:Turn:UdpReceiveLoops"] = "1",
                ["Logging:LogLevel:Default"] = "Warning",
            };
            if (iceSecret != Secret)
            {
                // A static provider whose credentials were signed with another secret (instead of the embedded one).
                settings["GhostChat:Ice:Providers:other:Type"] = "static";
                settings["GhostChat:Ice:Providers:other:Urls:0"] = $"turn:127.0.0.1:{port}?transport=udp";
                settings["GhostChat:Ice:Providers:other:Urls:1"] = $"turn:127.0.0.1:{port}?transport=tcp";
                settings["GhostChat:Ice:Providers:other:Urls:2"] = $"turns:127.0.0.1:{tls}?transport=tcp";
                settings["GhostChat:Ice:Providers:other:Username"] = credential.Username;
                settings["GhostChat:Ice:Providers:other:Credential"] = credential.Password;
                // Its own health prober would soon mark it down and /api/ice would leave it out: this test is about the doctor.
                settings["GhostChat:Ice:Probe:Enabled"] = "false";
            }
            try
            {
                var app = await GhostChatInProcess.StartAsync(settings);
                return new GhostChatUnderTest(app, dir, port, tls, alt);
            }
            catch (Exception ex) when (attempt < 10 && (ex is SocketException || ex.InnerException is SocketException))
            {
            }
            catch
            {
                Directory.Delete(dir, recursive: true);
                throw;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }
}

/// <summary>Runs the real <c>ghostchat</c> command (the built GhostChat.Cli) as a process and reads its output.</summary>
internal static class GhostchatProcess
{
    public static Task<(int Exit, string Stdout, string Stderr)> RunAsync(params string[] args) => RunWithEnvironmentAsync(null, args);

    public static async Task<(int Exit, string Stdout, string Stderr)> RunWithEnvironmentAsync(IDictionary<string, string>? environment, params string[] args)
    {
        var (exit, stdout, stderr) = await ProcessRunner.RunAsync("dotnet", [CliDll(), .. args], TimeSpan.FromSeconds(180), environment);
        return (exit, stdout, stderr);
    }

    public static async Task<(int Exit, JsonElement Report, string Stderr)> RunJsonAsync(params string[] args)
    {
        var (exit, stdout, stderr) = await RunAsync([.. args, "--json"]);
        try
        {
            using var doc = JsonDocument.Parse(stdout);
            return (exit, doc.RootElement.Clone(), stderr);
        }
        catch (JsonException ex)
        {
            throw new InvalidOperationException($"not JSON (exit {exit}): {stdout}\n{stderr}", ex);
        }
    }

    /// <summary>The ghostchat.dll built beside this test assembly (Cli is a project reference).</summary>
    public static string CliDll()
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "ghostchat.dll");
        if (File.Exists(beside) && File.Exists(Path.Combine(AppContext.BaseDirectory, "ghostchat.runtimeconfig.json")))
        {
            return beside;
        }
        // Otherwise the Cli project's own output, same configuration as this test assembly.
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "GhostChat.slnx")))
        {
            dir = dir.Parent;
        }
        var configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        return Path.Combine(dir!.FullName, "src", "GhostChat.Cli", "bin", configuration, "net10.0", "ghostchat.dll");
    }
}

internal static class ReportExtensions
{
    public static JsonElement Check(this JsonElement report, string id)
    {
        foreach (var c in report.GetProperty("checks").EnumerateArray())
        {
            if (c.GetProperty("id").GetString() == id)
            {
                return c;
            }
        }
        throw new InvalidOperationException($"no check {id} in {report}");
    }

    public static string Status(this JsonElement check) => check.GetProperty("status").GetString()!;

    public static string Verdict(this JsonElement check) => check.GetProperty("verdict").GetString()!;

    public static string Advice(this JsonElement check) => check.GetProperty("advice").GetString() ?? "";

    public static IEnumerable<JsonElement> Group(this JsonElement report, string group) =>
        report.GetProperty("checks").EnumerateArray().Where(c => c.GetProperty("group").GetString() == group);
}
