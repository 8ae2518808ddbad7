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

        var result = await ProcessRunner.RunAsync("systemd-analyze", "verify", copy);
        var output = result.Stderr + result.Stdout;
        Assert.True(result.Exit == 0 && !output.Contains("ghostchat.service", StringComparison.Ordinal), output);
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

    [Fact]
    public async Task Dockerfile_PublishesPortsUserAndHealthCheckThatMatchTheServer()
    {
        var lines = (await File.ReadAllLinesAsync(RepoFile("deploy", "Dockerfile"))).Select(l => l.Trim()).ToList();
        var runtime = lines.SkipWhile(l => !l.StartsWith("FROM mcr.microsoft.com/dotnet/aspnet:", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(runtime);

        // ENV lines (with continuations) of the runtime stage.
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        var inEnv = false;
        foreach (var line in runtime)
        {
            var text = line;
            if (text.StartsWith("ENV ", StringComparison.Ordinal))
            {
                inEnv = true;
                text = text[4..];
            }
            else if (!inEnv)
            {
                continue;
            }
            var continued = text.EndsWith('\\');
            foreach (var pair in text.TrimEnd('\\').Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                env[pair[..eq]] = pair[(eq + 1)..];
            }
            inEnv = continued;
        }

        Assert.Equal("http://0.0.0.0:8080", env["Urls"]);
        var expose = runtime.Single(l => l.StartsWith("EXPOSE ", StringComparison.Ordinal)).Split(' ').Skip(1).ToHashSet();
        Assert.Contains("8080/tcp", expose);
        Assert.Contains("3478/udp", expose);
        Assert.Contains("3478/tcp", expose);
        Assert.Contains($"{env["GhostChat__Turn__RelayMinPort"]}-{env["GhostChat__Turn__RelayMaxPort"]}/udp", expose);

        var user = runtime.Single(l => l.StartsWith("USER ", StringComparison.Ordinal))[5..];
        Assert.NotEqual("root", user);
        Assert.NotEqual("0", user);
        var healthCheck = string.Join(" ", runtime.SkipWhile(l => !l.StartsWith("HEALTHCHECK", StringComparison.Ordinal)).Take(2));
        Assert.Contains("\"health\", \"--url\", \"http://127.0.0.1:8080/readyz\"", healthCheck, StringComparison.Ordinal);
        Assert.Contains(runtime, l => l.StartsWith("ENTRYPOINT", StringComparison.Ordinal) && l.Contains("\"serve\"", StringComparison.Ordinal));

        // The image's configuration is a valid server configuration.
        var settings = env.Where(kv => kv.Key.StartsWith("GhostChat__", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key.Replace("__", ":", StringComparison.Ordinal), kv => (string?)kv.Value);
        await using var server = await TestServer.StartAsync(settings);
        Assert.Equal("Healthy", await server.Http.GetStringAsync("healthz"));
    }
}
