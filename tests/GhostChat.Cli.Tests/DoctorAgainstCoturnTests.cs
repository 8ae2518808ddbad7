using System.Globalization;
using GhostChat.Testing;

namespace GhostChat.Cli.Tests;

/// <summary><c>ghostchat doctor --turn … --secret</c> against a real coturn (Debian turnserver 4.6.1) started by the test.</summary>
public sealed class DoctorAgainstCoturnTests
{
    private const string Secret = "coturn-doctor-secret-0123456789";

    private static string[] TurnArgs(CoturnProcess coturn) =>
    [
        "doctor",
        "--turn", $"turn:127.0.0.1:{coturn.Port}?transport=udp",
        "--turn", $"turn:127.0.0.1:{coturn.Port}?transport=tcp",
        "--turn", $"turns:127.0.0.1:{coturn.TlsPort}?transport=tcp",
        "--timeout", "15",
    ];

    [Fact]
    public async Task RestSecret_AllocatesAndRelaysOverUdpTcpAndTls_ExitCode0()
    {
        await using var coturn = await CoturnProcess.StartAsync(Secret, tls: true);
        var (exit, report, stderr) = await GhostchatProcess.RunJsonAsync([.. TurnArgs(coturn), "--secret", Secret, "--insecure"]);
        Assert.True(exit == 0, report + stderr + coturn.Log);
        Assert.Equal(JsonNull, report.GetProperty("target").ValueKind);
        Assert.Equal(JsonNull, report.GetProperty("essentials").GetProperty("signaling").ValueKind);
        string port = coturn.Port.ToString(CultureInfo.InvariantCulture);
        // coturn answers Binding on its TURN port: the doctor checks STUN there without being told.
        Assert.Equal("ok", report.Check($"stun:127.0.0.1:{port}").Status());
        Assert.Equal("ok", report.Check($"turn:udp:127.0.0.1:{port}").Status());
        Assert.Equal("ok", report.Check($"turn:tcp:127.0.0.1:{port}").Status());
        var tls = report.Check($"turn:tls:127.0.0.1:{coturn.TlsPort}");
        Assert.Equal("warn", tls.Status());
        Assert.Contains("relayed round trip", tls.Verdict(), StringComparison.Ordinal);
        Assert.Equal("Secret", report.Check($"turn:udp:127.0.0.1:{port}").GetProperty("details").GetProperty("credentials").GetString());
        // coturn with one address offers no RFC 5780 second address/port.
        Assert.Equal("skip", report.Check("nat:mapping").Status());
    }

    [Fact]
    public async Task WrongSecret_401_ExplainsTheSecret_ExitCode1()
    {
        await using var coturn = await CoturnProcess.StartAsync(Secret, tls: true);
        var (exit, report, _) = await GhostchatProcess.RunJsonAsync([.. TurnArgs(coturn), "--secret", "not-the-secret-0123456789", "--insecure"]);
        Assert.Equal(1, exit);
        Assert.False(report.GetProperty("essentials").GetProperty("turn").GetBoolean());
        Assert.True(report.GetProperty("essentials").GetProperty("stun").GetBoolean());
        var turns = report.Group("turn").ToList();
        Assert.Equal(3, turns.Count);
        foreach (var turn in turns)
        {
            Assert.Equal("fail", turn.Status());
            Assert.Contains("Credentials refused (401)", turn.Verdict(), StringComparison.Ordinal);
            Assert.Contains("--secret", turn.Advice(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task WrongStaticPassword_401_ExplainsTheUsernameOrPassword()
    {
        await using var coturn = await CoturnProcess.StartAsync(Secret);
        var (exit, report, _) = await GhostchatProcess.RunJsonAsync("doctor", "--turn", $"turn:127.0.0.1:{coturn.Port}?transport=tcp",
            "--username", "9999999999:someone", "--password", "wrong", "--timeout", "15");
        Assert.Equal(1, exit);
        var turn = report.Check($"turn:tcp:127.0.0.1:{coturn.Port}");
        Assert.Contains("Credentials refused (401)", turn.Verdict(), StringComparison.Ordinal);
        Assert.Contains("Wrong --username or --password", turn.Advice(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SecretFromTheEnvironment_KeepsItOffTheCommandLine()
    {
        await using var coturn = await CoturnProcess.StartAsync(Secret);
        var (exit, stdout, stderr) = await GhostchatProcess.RunWithEnvironmentAsync(new Dictionary<string, string> { ["GHOSTCHAT_TURN_SECRET"] = Secret },
            "doctor", "--turn", $"turn:127.0.0.1:{coturn.Port}?transport=udp", "--timeout", "15", "--json");
        Assert.True(exit == 0, stdout + stderr);
        using var report = System.Text.Json.JsonDocument.Parse(stdout);
        Assert.Equal("ok", report.RootElement.Check($"turn:udp:127.0.0.1:{coturn.Port}").Status());
    }

    private const System.Text.Json.JsonValueKind JsonNull = System.Text.Json.JsonValueKind.Null;
}
