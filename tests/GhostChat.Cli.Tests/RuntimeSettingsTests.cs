using System.Text.Json;

namespace GhostChat.Cli.Tests;

/// <summary>
/// The container runs the server as <c>ghostchat serve</c>, `dotnet run` and the systemd unit as
/// GhostChat.Server: both must start the runtime with the settings the benchmarks chose
/// (src/GhostChat.Server/GhostChat.Runtime.props). The CLI once had workstation GC of its own, so the
/// container ran a differently tuned server than the one measured.
/// </summary>
public sealed class RuntimeSettingsTests
{
    [Fact]
    public void GhostchatServe_RunsWithTheServersRuntimeSettings()
    {
        var cli = Settings("ghostchat.runtimeconfig.json");
        var server = Settings("GhostChat.Server.runtimeconfig.json");

        Assert.True(server["System.GC.Server"].GetBoolean(), "the server runs Server GC");
        Assert.Equal(0, server["System.Threading.ThreadPool.UnfairSemaphoreSpinLimit"].GetInt32());
        foreach (var key in new[] { "System.GC.Server", "System.GC.Concurrent", "System.GC.DynamicAdaptationMode", "System.Runtime.TieredPGO", "System.Threading.ThreadPool.UnfairSemaphoreSpinLimit" })
        {
            Assert.True(server.ContainsKey(key), $"the server's runtimeconfig sets {key}");
            Assert.True(cli.TryGetValue(key, out var value), $"ghostchat's runtimeconfig sets {key}");
            Assert.Equal(server[key].GetRawText(), value.GetRawText());
        }
        var runtimeKeys = (Dictionary<string, JsonElement> s) => s.Where(p => p.Key.StartsWith("System.GC.", StringComparison.Ordinal) || p.Key.StartsWith("System.Runtime.Tiered", StringComparison.Ordinal) || p.Key.StartsWith("System.Threading.", StringComparison.Ordinal))
            .ToDictionary(p => p.Key, p => p.Value.GetRawText(), StringComparer.Ordinal);
        Assert.Equal(runtimeKeys(server), runtimeKeys(cli));
    }

    private static Dictionary<string, JsonElement> Settings(string file)
    {
        var path = Path.Combine(Path.GetDirectoryName(GhostchatProcess.CliDll())!, file);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties").EnumerateObject()
            .ToDictionary(p => p.Name, p => p.Value.Clone(), StringComparer.Ordinal);
    }
}
