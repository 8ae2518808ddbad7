using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace GhostChat.Server.Telemetry;

/// <summary>
/// Aggregates and feedback in one SQLite database: a file (<see cref="TelemetryOptions.DatabasePath"/>) or, without
/// a path, a private in-memory database that lives as long as this store. One connection, one writer at a time.
/// </summary>
internal sealed class SqliteTelemetryStore : ITelemetryStore, IDisposable
{
    private const string Schema = """
        PRAGMA journal_mode = WAL;
        CREATE TABLE IF NOT EXISTS aggregates (
            hour INTEGER NOT NULL, metric TEXT NOT NULL, key TEXT NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (hour, metric, key)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS feedback (
            id INTEGER PRIMARY KEY AUTOINCREMENT, hour INTEGER NOT NULL, text TEXT NOT NULL, diagnostics TEXT);
        """;

    private readonly SqliteConnection _connection;
    private readonly SemaphoreSlim _gate = new(1, 1);

    public SqliteTelemetryStore(string? path)
    {
        string source;
        if (string.IsNullOrWhiteSpace(path))
        {
            source = new SqliteConnectionStringBuilder { DataSource = ":memory:" }.ToString();
        }
        else
        {
            var full = Path.GetFullPath(path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            source = new SqliteConnectionStringBuilder { DataSource = full, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString();
        }
        _connection = new SqliteConnection(source);
        _connection.Open();
        using var command = _connection.CreateCommand();
        command.CommandText = Schema;
        command.ExecuteNonQuery();
    }

    public Task AddAsync(long hour, IReadOnlyList<(string Metric, string Key, long Count)> increments, CancellationToken cancellationToken)
        => Locked(() =>
        {
            using var transaction = _connection.BeginTransaction();
            using var command = _connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                INSERT INTO aggregates (hour, metric, key, count) VALUES ($hour, $metric, $key, $count)
                ON CONFLICT (hour, metric, key) DO UPDATE SET count = count + excluded.count
                """;
            command.Parameters.AddWithValue("$hour", hour);
            var metric = command.Parameters.Add("$metric", SqliteType.Text);
            var key = command.Parameters.Add("$key", SqliteType.Text);
            var count = command.Parameters.Add("$count", SqliteType.Integer);
            foreach (var (m, k, c) in increments)
            {
                metric.Value = m;
                key.Value = k;
                count.Value = c;
                command.ExecuteNonQuery();
            }
            transaction.Commit();
            return 0;
        }, cancellationToken);

    public Task<AggregateRow[]> ReadAsync(long fromHour, long toHour, CancellationToken cancellationToken)
        => Locked(() =>
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT hour, metric, key, count FROM aggregates WHERE hour >= $from AND hour <= $to ORDER BY hour, metric, key";
            command.Parameters.AddWithValue("$from", fromHour);
            command.Parameters.AddWithValue("$to", toHour);
            using var reader = command.ExecuteReader();
            var rows = new List<AggregateRow>();
            while (reader.Read())
            {
                rows.Add(new AggregateRow(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3)));
            }
            return rows.ToArray();
        }, cancellationToken);

    public Task<long?> AddFeedbackAsync(long hour, string text, DiagnosticsSummary? diagnostics, int maxStored, CancellationToken cancellationToken)
        => Locked<long?>(() =>
        {
            using var count = _connection.CreateCommand();
            count.CommandText = "SELECT COUNT(*) FROM feedback";
            if ((long)count.ExecuteScalar()! >= maxStored)
            {
                return null;
            }
            using var command = _connection.CreateCommand();
            command.CommandText = "INSERT INTO feedback (hour, text, diagnostics) VALUES ($hour, $text, $diagnostics) RETURNING id";
            command.Parameters.AddWithValue("$hour", hour);
            command.Parameters.AddWithValue("$text", text);
            command.Parameters.AddWithValue("$diagnostics", diagnostics is null ? DBNull.Value : JsonSerializer.Serialize(diagnostics, TelemetryJsonContext.Default.DiagnosticsSummary));
            return (long)command.ExecuteScalar()!;
        }, cancellationToken);

    public Task<FeedbackEntry[]> ReadFeedbackAsync(CancellationToken cancellationToken)
        => Locked(() =>
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT id, hour, text, diagnostics FROM feedback ORDER BY id";
            using var reader = command.ExecuteReader();
            var entries = new List<FeedbackEntry>();
            while (reader.Read())
            {
                var diagnostics = reader.IsDBNull(3) ? null : JsonSerializer.Deserialize(reader.GetString(3), TelemetryJsonContext.Default.DiagnosticsSummary);
                entries.Add(new FeedbackEntry(reader.GetInt64(0), Hours.ToTime(reader.GetInt64(1)), reader.GetString(2), diagnostics));
            }
            return entries.ToArray();
        }, cancellationToken);

    public Task<bool> DeleteFeedbackAsync(long id, CancellationToken cancellationToken)
        => Locked(() =>
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "DELETE FROM feedback WHERE id = $id";
            command.Parameters.AddWithValue("$id", id);
            return command.ExecuteNonQuery() > 0;
        }, cancellationToken);

    public Task PruneAsync(long beforeHour, CancellationToken cancellationToken)
        => Locked(() =>
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "DELETE FROM aggregates WHERE hour < $before; DELETE FROM feedback WHERE hour < $before";
            command.Parameters.AddWithValue("$before", beforeHour);
            return command.ExecuteNonQuery();
        }, cancellationToken);

    public void Dispose()
    {
        _connection.Dispose();
        _gate.Dispose();
    }

    private async Task<T> Locked<T>(Func<T> work, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return work();
        }
        finally
        {
            _gate.Release();
        }
    }
}
