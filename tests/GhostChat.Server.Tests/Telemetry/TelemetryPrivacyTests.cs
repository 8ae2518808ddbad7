using System.Net;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using static GhostChat.Server.Tests.Telemetry.TelemetryTestData;

namespace GhostChat.Server.Tests.Telemetry;

/// <summary>What is kept on disk and in logs: counts by hour, feedback text; never an address, an id, a name or a finer time.</summary>
public sealed class TelemetryPrivacyTests : IDisposable
{
    private const string ClientAddress = "203.0.113.77";
    private const string FeedbackText = "The relay was slow from the train wifi";

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "ghostchat-telemetry-" + Guid.NewGuid().ToString("N"));

    private string DatabasePath => Path.Combine(_folder, "sub", "field.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    private Task<TestServer> StartAsync() => TestServer.StartAsync(new Dictionary<string, string?>
    {
        ["GhostChat:Telemetry:DatabasePath"] = DatabasePath,
        ["GhostChat:Network:TrustedProxies:0"] = "127.0.0.1",
    });

    [Fact]
    public async Task SqliteFile_RestartKeepsAggregates_HoldsNoAddressIdNameOrFinerTime()
    {
        await using (var server = await StartAsync())
        {
            Assert.Equal(HttpStatusCode.NoContent, (await PostAsync(server.Http, "api/telemetry", ValidReport, ClientAddress)).StatusCode);
            Assert.Equal(HttpStatusCode.NoContent, (await PostAsync(server.Http, "api/feedback", JsonSerializer.Serialize(new { text = FeedbackText }), ClientAddress)).StatusCode);
            // A refused report leaves no trace either.
            Assert.Equal(HttpStatusCode.BadRequest, (await PostAsync(server.Http, "api/telemetry", ValidReport.Replace("\"v\":1,", "\"v\":1,\"name\":\"Alice\",", StringComparison.Ordinal), ClientAddress)).StatusCode);
        }

        // Inspect the file itself: its tables, their columns and every value.
        await using (var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString()))
        {
            await db.OpenAsync();
            var columns = new Dictionary<string, List<string>>();
            foreach (var table in new[] { "aggregates", "feedback" })
            {
                await using var info = db.CreateCommand();
                info.CommandText = $"SELECT name FROM pragma_table_info('{table}')";
                await using var reader = await info.ExecuteReaderAsync();
                var names = new List<string>();
                while (await reader.ReadAsync())
                {
                    names.Add(reader.GetString(0));
                }
                columns[table] = names;
            }
            Assert.Equal(["hour", "metric", "key", "count"], columns["aggregates"]);
            Assert.Equal(["id", "hour", "text", "diagnostics"], columns["feedback"]);
            await using var tables = db.CreateCommand();
            tables.CommandText = "SELECT group_concat(name) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'";
            Assert.Equal("aggregates,feedback", (string)(await tables.ExecuteScalarAsync())!);

            var values = new List<string>();
            foreach (var query in new[] { "SELECT hour, metric, key, count FROM aggregates", "SELECT hour, text, coalesce(diagnostics, '') FROM feedback" })
            {
                await using var command = db.CreateCommand();
                command.CommandText = query;
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    Assert.Equal(0, reader.GetInt64(0) % 3600); // hours only
                    for (var i = 1; i < reader.FieldCount; i++)
                    {
                        values.Add(reader.GetValue(i).ToString()!);
                    }
                }
            }
            Assert.Contains(FeedbackText, values);
            foreach (var value in values)
            {
                Assert.DoesNotContain(ClientAddress, value, StringComparison.Ordinal);
                Assert.DoesNotContain("127.0.0.1", value, StringComparison.Ordinal);
                Assert.DoesNotContain("Alice", value, StringComparison.Ordinal);
            }
            // Only the schema's words: every aggregate key is an enumeration value, a count word, or browser + version.
            Assert.All(values.Where(v => v.Length > 0 && v != FeedbackText && !v.StartsWith('{')), v => Assert.Matches("^[a-z0-9/ ._+-]+$", v));
        }
        var bytes = await File.ReadAllBytesAsync(DatabasePath);
        Assert.Equal(-1, bytes.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(ClientAddress)));

        // A restart reads the same file: the aggregates and the feedback are still there.
        await using (var server = await StartAsync())
        {
            var stats = await StatsAsync(server);
            Assert.Equal(1, Figure(stats, "reports"));
            Assert.Equal(2, Figure(stats, "attempts"));
            Assert.Equal(1, Figure(stats, "feedback"));
            Assert.Equal(HttpStatusCode.NoContent, (await PostAsync(server.Http, "api/telemetry", ValidReport)).StatusCode);
            Assert.Equal(4, Figure(await StatsAsync(server), "attempts"));
        }
    }

    [Fact]
    public async Task Logs_AtEveryLevel_HoldNoAddressNoReportNoFeedbackText()
    {
        await using var server = await StartAsync();
        await PostAsync(server.Http, "api/telemetry", ValidReport, ClientAddress);
        await PostAsync(server.Http, "api/telemetry", ValidReport.Replace("\"firefox\"", "\"Alice-Secret\"", StringComparison.Ordinal), ClientAddress);
        await PostAsync(server.Http, "api/feedback", JsonSerializer.Serialize(new { text = FeedbackText }), ClientAddress);
        await PostAsync(server.Http, "api/feedback", JsonSerializer.Serialize(new { text = FeedbackText, extra = "Alice-Secret" }), ClientAddress);
        Assert.NotEmpty(server.Logs.Records);
        foreach (var (_, _, message) in server.Logs.Records)
        {
            Assert.DoesNotContain(ClientAddress, message, StringComparison.Ordinal);
            Assert.DoesNotContain("Alice-Secret", message, StringComparison.Ordinal);
            Assert.DoesNotContain(FeedbackText, message, StringComparison.Ordinal);
        }
    }
}
