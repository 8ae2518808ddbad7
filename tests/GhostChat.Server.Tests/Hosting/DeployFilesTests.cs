using System.Diagnostics;

namespace GhostChat.Server.Tests.Hosting;

/// <summary>The deployment files in deploy/ stay true to the server they deploy.</summary>
public sealed class DeployFilesTests
{
    private static string RepoFile(params string[] parts)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "GhostChat.slnx")))
        {
            dir = dir.Parent;
        }
        Assert.NotNull(dir);
        return Path.Combine([dir!.FullName, .. parts]);
    }

    [Fact]
    public async Task SystemdUnit_PassesSystemdAnalyzeVerify()
    {
        // Verify checks that ExecStart's program exists: point it at this machine's dotnet.
        var unit = await File.ReadAllTextAsync(RepoFile("deploy", "systemd", "ghostchat.service"));
        var dotnet = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "/usr/bin/dotnet";
        var copy = Path.Combine(Directory.CreateTempSubdirectory("ghostchat-unit-").FullName, "ghostchat.service");
        await File.WriteAllTextAsync(copy, unit.Replace("ExecStart=/usr/bin/dotnet", "ExecStart=" + dotnet, StringComparison.Ordinal));

        var start = new ProcessStartInfo("systemd-analyze") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add("verify");
        start.ArgumentList.Add(copy);
        using var process = Process.Start(start)!;
        var output = await process.StandardError.ReadToEndAsync() + await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0 && !output.Contains("ghostchat.service", StringComparison.Ordinal), output);
    }

    [Fact]
    public async Task SystemdUnit_IsAHardenedNotifyServiceRunningTheServer()
    {
        var lines = (await File.ReadAllLinesAsync(RepoFile("deploy", "systemd", "ghostchat.service"))).Select(l => l.Trim()).ToList();
        Assert.Contains("Type=notify", lines);
        Assert.Contains(lines, l => l.StartsWith("ExecStart=", StringComparison.Ordinal) && l.EndsWith("/GhostChat.Server.dll", StringComparison.Ordinal));
        Assert.Contains("User=ghostchat", lines);
        foreach (var setting in new[] { "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes" })
        {
            Assert.Contains(setting, lines);
        }
    }

    [Fact]
    public async Task EnvironmentFile_ConfiguresAServerThatStartsHealthy()
    {
        var settings = new Dictionary<string, string?>();
        foreach (var line in await File.ReadAllLinesAsync(RepoFile("deploy", "systemd", "ghostchat.env")))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            var key = line[..eq].Replace("__", ":", StringComparison.Ordinal);
            if (!key.Equals("Urls", StringComparison.OrdinalIgnoreCase))
            {
                settings[key] = line[(eq + 1)..];
            }
        }
        Assert.Contains("GhostChat:Network:TrustedProxies:0", settings.Keys);
        await using var server = await TestServer.StartAsync(settings);
        Assert.Equal("Healthy", await server.Http.GetStringAsync("healthz"));
    }
}
