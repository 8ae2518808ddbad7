using static GhostChat.Cli.Tests.TableText;

namespace GhostChat.Cli.Tests;

/// <summary><c>ghostchat feedback</c> and <c>ghostchat feedback delete</c> against a real GhostChat server that received real feedback.</summary>
public sealed class FeedbackCommandTests
{
    private const string WithDiagnostics = "Relay fails at work";
    private const string WithoutDiagnostics = "Lovely app, thanks";

    [Fact]
    public async Task Feedback_ListAndDelete_RoundTrip()
    {
        await using var server = await FieldDataServer.StartAsync();
        await server.PostFeedbackAsync($$$"""{"text":"{{{WithDiagnostics}}}","diagnostics":{"outlook":"relay","verdicts":["udp-blocked","turn-tls-ok"]}}""");
        await server.PostFeedbackAsync($$"""{"text":"{{WithoutDiagnostics}}"}""");

        // The table: id, hour, text, whether a diagnostics summary is attached.
        var (exit, stdout, stderr) = await GhostchatProcess.RunAsync("feedback", server.Address);
        Assert.True(exit == 0, stderr);
        Assert.Contains("2 entries", stdout, StringComparison.Ordinal);
        var first = Rows(stdout).Single(cells => cells[2] == WithDiagnostics);
        Assert.Equal("yes: outlook relay; udp-blocked, turn-tls-ok", first[3]);
        Assert.Matches(@"^\d{4}-\d{2}-\d{2} \d{2}:00$", first[1]);
        Assert.Equal("no", Rows(stdout).Single(cells => cells[2] == WithoutDiagnostics)[3]);
        Assert.Empty(stderr);

        // The same as JSON, with the ids.
        var (_, json, _) = await GhostchatProcess.RunJsonAsync("feedback", server.Address);
        var entries = json.GetProperty("feedback").EnumerateArray().ToList();
        Assert.Equal(2, entries.Count);
        var kept = entries.Single(e => e.GetProperty("text").GetString() == WithDiagnostics);
        var deleted = entries.Single(e => e.GetProperty("text").GetString() == WithoutDiagnostics);
        Assert.Equal("relay", kept.GetProperty("diagnostics").GetProperty("outlook").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, deleted.GetProperty("diagnostics").ValueKind);
        Assert.EndsWith(":00:00Z", kept.GetProperty("hour").GetString(), StringComparison.Ordinal);
        var id = deleted.GetProperty("id").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);

        (exit, stdout, stderr) = await GhostchatProcess.RunAsync("feedback", "delete", id, server.Address);
        Assert.True(exit == 0, stderr);
        Assert.Equal($"Deleted feedback {id}.", stdout.Trim());

        (exit, stdout, _) = await GhostchatProcess.RunAsync("feedback", server.Address);
        Assert.Equal(0, exit);
        Assert.Contains("1 entry", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(WithoutDiagnostics, stdout, StringComparison.Ordinal);
        Assert.Contains(WithDiagnostics, stdout, StringComparison.Ordinal);

        // Deleting it again: no such entry, said plainly; the text appears nowhere but in the table.
        (exit, stdout, stderr) = await GhostchatProcess.RunAsync("feedback", "delete", id, server.Address);
        Assert.Equal(1, exit);
        Assert.Empty(stdout);
        Assert.Contains($"There is no feedback with id {id}", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(WithoutDiagnostics, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Feedback_None_SaysSo()
    {
        await using var server = await FieldDataServer.StartAsync();

        var (exit, stdout, stderr) = await GhostchatProcess.RunAsync("feedback", server.Address);

        Assert.True(exit == 0, stderr);
        Assert.Contains("0 entries", stdout, StringComparison.Ordinal);
        Assert.Contains("No feedback.", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Feedback_FeatureOff_ListAndDelete_SayFieldDataIsOff()
    {
        await using var server = await FieldDataServer.StartAsync(new Dictionary<string, string?> { ["GhostChat:Telemetry:Enabled"] = "false" });

        foreach (var args in new[] { new[] { "feedback", server.Address }, ["feedback", "delete", "1", server.Address] })
        {
            var (exit, stdout, stderr) = await GhostchatProcess.RunAsync(args);
            Assert.Equal(1, exit);
            Assert.Empty(stdout);
            Assert.Contains("Field data is off on this server", stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Feedback_AddressNotOperator_EvenWithPublicStats_ListAndDeleteRefused()
    {
        await using var server = await FieldDataServer.StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Ops:DetailFrom:0"] = "192.0.2.0/24",
            ["GhostChat:Telemetry:StatsPublic"] = "true",
        });
        await server.PostFeedbackAsync($$"""{"text":"{{WithoutDiagnostics}}"}""");

        foreach (var args in new[] { new[] { "feedback", server.Address }, ["feedback", "delete", "1", server.Address] })
        {
            var (exit, stdout, stderr) = await GhostchatProcess.RunAsync(args);
            Assert.Equal(1, exit);
            Assert.Empty(stdout);
            Assert.Contains("This address is not allowed to read feedback", stderr, StringComparison.Ordinal);
            Assert.Contains("feedback is always for the operator only", stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task FeedbackDelete_IdZero_Exit2()
    {
        var (exit, _, stderr) = await GhostchatProcess.RunAsync("feedback", "delete", "0", "127.0.0.1:9");

        Assert.Equal(2, exit);
        Assert.Contains("ID must be a positive whole number", stderr, StringComparison.Ordinal);
    }
}
