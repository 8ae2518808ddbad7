using GhostChat.Server.Hosting;
using GhostChat.Server.Tests.Ice;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Tests.Files;

/// <summary><c>GhostChat:Files:MaxBytes</c>: announced in every /api/ice answer, checked at start.</summary>
public sealed class FilesOptionsTests
{
    [Fact]
    public async Task MaxBytes_Default4GiB_InTheIceAnswer()
    {
        await using var server = await TestServer.StartAsync(IceApi.NoProbe());
        var answer = await IceApi.GetAsync(server);
        Assert.Equal(4L << 30, answer.Root.GetProperty("maxFileBytes").GetInt64());
    }

    [Fact]
    public async Task MaxBytes_Configured_InEveryIceAnswer()
    {
        await using var server = await TestServer.StartAsync(IceApi.NoProbe().With(new() { ["GhostChat:Files:MaxBytes"] = "1048576" }));
        Assert.Equal(1_048_576, (await IceApi.GetAsync(server)).Root.GetProperty("maxFileBytes").GetInt64());
        Assert.Equal(1_048_576, (await IceApi.GetAsync(server, "?exclude=embedded")).Root.GetProperty("maxFileBytes").GetInt64());
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("70368744177665")] // 2^46 + 1
    public async Task MaxBytes_OutOfRange_HostRefusesToStart_NamingTheKey(string value)
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using var app = GhostChatHost.Build(["--urls", "http://127.0.0.1:0"], b => b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["GhostChat:Turn:Enabled"] = "false",
                ["GhostChat:Files:MaxBytes"] = value,
            }));
            await app.StartAsync();
        });
        var all = string.Join("\n", ex.Failures);
        Assert.Contains("GhostChat:Files:MaxBytes must be 1 to 70368744177664 bytes", all, StringComparison.Ordinal);
        Assert.Contains($"it is {value}", all, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MaxBytes_NotANumber_ServerProcessExitsWithAClearMessage()
    {
        var dll = typeof(GhostChatHost).Assembly.Location;
        var result = await ProcessRunner.RunAsync("dotnet", [dll, "--urls", "http://127.0.0.1:0", "--GhostChat:Turn:Enabled=false", "--GhostChat:Files:MaxBytes=lots"], TimeSpan.FromSeconds(60));
        var output = result.Stderr + result.Stdout;
        Assert.Equal(1, result.Exit);
        Assert.Contains("configuration is invalid", output, StringComparison.Ordinal);
        Assert.Contains("GhostChat:Files:MaxBytes", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }
}
