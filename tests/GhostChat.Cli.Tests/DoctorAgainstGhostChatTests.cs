using System.Net;
using GhostChat.Cli.Doctor;

namespace GhostChat.Cli.Tests;

/// <summary><c>ghostchat doctor</c> against our own server: signaling, /api/ice, STUN with the second port, TURN over UDP, TCP and TLS.</summary>
public sealed class DoctorAgainstGhostChatTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private static readonly string[] Statuses = ["ok", "warn", "fail", "skip"];

    [Fact]
    public async Task Runner_EverythingWorks_WithPlainLanguageVerdicts()
    {
        await using var server = await GhostChatUnderTest.StartAsync();
        var observed = new RecordingObserver();
        var report = await new DoctorRunner(new DoctorOptions { Url = server.Url, Timeout = Timeout, Insecure = true }, observed).RunAsync();

        DoctorCheck Check(string id) => report.Checks.Single(c => c.Id == id);
        Assert.Equal(CheckStatus.Ok, Check("signaling:http").Status);
        Assert.Equal(CheckStatus.Ok, Check("signaling:websocket").Status);
        Assert.Contains("OPEN", Check("signaling:websocket").Verdict, StringComparison.Ordinal);
        Assert.Equal(CheckStatus.Ok, Check("ice:fetch").Status);
        Assert.Matches(@"/api/ice lists 3 TURN and \d+ STUN URL", Check("ice:fetch").Verdict);
        Assert.Equal("embedded", Check("ice:fetch").Details!["providers"]);

        var stun = Check($"stun:127.0.0.1:{server.TurnPort}");
        Assert.Equal(CheckStatus.Ok, stun.Status);
        Assert.StartsWith("127.0.0.1:", stun.Details!["mapped"], StringComparison.Ordinal);
        Assert.Equal($"127.0.0.1:{server.AlternatePort}", stun.Details["otherAddress"]);

        // Loopback: the server sees our own address; the change-port answer got through.
        Assert.NotNull(report.Nat);
        Assert.Equal(NatMapping.NoNat, report.Nat!.Mapping);
        Assert.Equal(NatFiltering.NotPortDependent, report.Nat.Filtering);
        Assert.Equal(CheckStatus.Ok, Check("nat:mapping").Status);
        Assert.Equal(CheckStatus.Ok, Check("nat:filtering").Status);

        foreach (var transport in new[] { "udp", "tcp" })
        {
            var turn = Check($"turn:{transport}:127.0.0.1:{server.TurnPort}");
            Assert.True(turn.Status == CheckStatus.Ok, turn.Verdict + " " + string.Join(", ", turn.Details!));
            Assert.Contains("relayed round trip", turn.Verdict, StringComparison.Ordinal);
            Assert.Equal("IceEndpoint", turn.Details!["credentials"]);
        }
        var tls = Check($"turn:tls:127.0.0.1:{server.TlsPort}");
        Assert.Equal(CheckStatus.Warn, tls.Status); // works, but the self-signed certificate is not trusted here
        Assert.Contains("relayed round trip", tls.Verdict, StringComparison.Ordinal);
        Assert.Contains("not trusted", tls.Verdict, StringComparison.Ordinal);

        Assert.Equal(new DoctorEssentials(true, true, true), report.Essentials);
        Assert.Equal(0, report.ExitCode);
        Assert.StartsWith("Everything essential works", report.Summary, StringComparison.Ordinal);
        // Every check was announced before it finished, in order.
        Assert.Equal(report.Checks.Select(c => c.Id), observed.CompletedIds);
        Assert.True(observed.CompletedIds.All(observed.StartedIds.Contains));
    }

    [Fact]
    public async Task Process_Json_ExitCode0_AndTheDocumentedShape()
    {
        await using var server = await GhostChatUnderTest.StartAsync();
        var (exit, report, stderr) = await GhostchatProcess.RunJsonAsync("doctor", server.Url.ToString(), "--insecure", "--timeout", "15");
        Assert.True(exit == 0, report.ToString() + stderr);
        Assert.Equal(0, report.GetProperty("exitCode").GetInt32());
        Assert.Equal(1, report.GetProperty("schema").GetInt32());
        Assert.Equal(server.Url.ToString(), report.GetProperty("target").GetString());
        var essentials = report.GetProperty("essentials");
        Assert.True(essentials.GetProperty("signaling").GetBoolean());
        Assert.True(essentials.GetProperty("stun").GetBoolean());
        Assert.True(essentials.GetProperty("turn").GetBoolean());
        Assert.Equal("no-nat", report.GetProperty("nat").GetProperty("mapping").GetString());
        Assert.Equal("not-port-dependent", report.GetProperty("nat").GetProperty("filtering").GetString());
        foreach (var check in report.GetProperty("checks").EnumerateArray())
        {
            foreach (var field in new[] { "id", "group", "title", "status", "verdict", "advice", "latencyMs", "details" })
            {
                Assert.True(check.TryGetProperty(field, out _), $"{field} missing in {check}");
            }
            Assert.Contains(check.Status(), Statuses);
        }
        Assert.Equal("ok", report.Check($"turn:udp:127.0.0.1:{server.TurnPort}").Status());
    }

    [Fact]
    public async Task Process_WithoutInsecure_TlsFailsOnTheCertificate_ButUdpAndTcpKeepTheExitCodeAt0()
    {
        await using var server = await GhostChatUnderTest.StartAsync(alternatePort: false);
        var (exit, report, _) = await GhostchatProcess.RunJsonAsync("doctor", server.Url.ToString(), "--timeout", "15");
        var tls = report.Check($"turn:tls:127.0.0.1:{server.TlsPort}");
        Assert.Equal("fail", tls.Status());
        Assert.Contains("TLS handshake", tls.Verdict(), StringComparison.Ordinal);
        Assert.Contains("certificate", tls.Advice(), StringComparison.Ordinal);
        Assert.Equal(0, exit);
        Assert.Contains("TLS failed", report.GetProperty("summary").GetString(), StringComparison.Ordinal);
        // Without the second port NAT behaviour is not measured, and the advice says how to turn it on.
        var mapping = report.Check("nat:mapping");
        Assert.Equal("skip", mapping.Status());
        Assert.Contains("AlternatePort", mapping.Advice(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKindNull, report.GetProperty("nat").ValueKind);
    }

    [Fact]
    public async Task Process_IceCredentialsFromAnotherSecret_401WithAdvice_ExitCode1()
    {
        await using var server = await GhostChatUnderTest.StartAsync(iceSecret: "a-different-secret-0123456789");
        var (exit, report, _) = await GhostchatProcess.RunJsonAsync("doctor", server.Url.ToString(), "--insecure", "--timeout", "15");
        Assert.Equal(1, exit);
        Assert.False(report.GetProperty("essentials").GetProperty("turn").GetBoolean());
        Assert.True(report.GetProperty("essentials").GetProperty("stun").GetBoolean());
        foreach (var turn in report.Group("turn"))
        {
            Assert.Equal("fail", turn.Status());
            Assert.Contains("Credentials refused (401)", turn.Verdict(), StringComparison.Ordinal);
            Assert.Contains("REST secret differs", turn.Advice(), StringComparison.Ordinal);
        }
        Assert.Contains("no TURN server could allocate", report.GetProperty("summary").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Process_RedirectedOutput_PrintsOneLinePerCheckAndTheSummary()
    {
        await using var server = await GhostChatUnderTest.StartAsync();
        var (exit, stdout, _) = await GhostchatProcess.RunAsync("doctor", server.Url.ToString(), "--insecure", "--timeout", "15");
        Assert.Equal(0, exit);
        Assert.Contains("[ok  ] Signaling (HTTP):", stdout, StringComparison.Ordinal);
        Assert.Contains("[ok  ] NAT mapping: No NAT", stdout, StringComparison.Ordinal);
        Assert.Contains("[warn] TURN TLS", stdout, StringComparison.Ordinal);
        Assert.Contains("Everything essential works", stdout, StringComparison.Ordinal);
        Assert.Contains("exit code 0", stdout, StringComparison.Ordinal);
    }

    private const System.Text.Json.JsonValueKind JsonValueKindNull = System.Text.Json.JsonValueKind.Null;

    private sealed class RecordingObserver : IDoctorObserver
    {
        public List<string> StartedIds { get; } = [];

        public List<string> CompletedIds { get; } = [];

        public void Started(string id, string title) => StartedIds.Add(id);

        public void Completed(DoctorCheck check) => CompletedIds.Add(check.Id);
    }
}
