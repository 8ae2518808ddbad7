using GhostChat.Turn.Server;

namespace TurnHost;

/// <summary>Allocations per second: Allocate (401 → authenticated Allocate) then Refresh 0, N at a time.</summary>
internal static class AllocBench
{
    public static async Task<int> RunAsync(System.Net.IPEndPoint server, string secret, int total, int concurrency)
    {
        int next = 0;
        int failures = 0;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var workers = Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) <= total)
            {
                await using var client = GhostChat.Turn.Client.TurnClient.ConnectUdp(server);
                var c = GhostChat.Turn.Auth.TurnRestCredentials.Create(secret, "alloc", TimeSpan.FromHours(1), DateTimeOffset.UtcNow);
                try
                {
                    await client.AllocateAsync(c.Username, c.Password);
                    await client.RefreshAsync(TimeSpan.Zero);
                }
                catch (GhostChat.Turn.Client.TurnException)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        }).ToArray();
        await Task.WhenAll(workers);
        watch.Stop();
        Console.WriteLine(failures > 0 ? $"{total / watch.Elapsed.TotalSeconds:F0} ({failures} failed)" : $"{total / watch.Elapsed.TotalSeconds:F0}");
        return 0;
    }

    /// <summary>
    /// Makes <paramref name="count"/> UDP allocations (one user each; a 437 is tried again from another port), prints
    /// "HELD n", holds them until stdin closes, then gives them back.
    /// </summary>
    public static async Task<int> HoldAsync(System.Net.IPEndPoint server, string secret, int count)
    {
        var clients = new List<GhostChat.Turn.Client.TurnClient>();
        for (int i = 0; i < count; i++)
        {
            var c = GhostChat.Turn.Auth.TurnRestCredentials.Create(secret, "hold" + i, TimeSpan.FromHours(1), DateTimeOffset.UtcNow);
            for (int attempt = 0; ; attempt++)
            {
                var client = GhostChat.Turn.Client.TurnClient.ConnectUdp(server);
                try
                {
                    await client.AllocateAsync(c.Username, c.Password);
                    clients.Add(client);
                    break;
                }
                catch (GhostChat.Turn.Client.TurnException ex) when (ex.Code == 437 && attempt < 10)
                {
                    // The kernel gave this socket the port of an earlier one whose allocation is still alive (RFC 8656
                    // §7.2): try again from another port, as turnutils_uclient does.
                    await client.DisposeAsync();
                }
            }
        }
        Console.WriteLine("HELD " + count);
        while (Console.In.ReadLine() is not null)
        {
        }
        foreach (var client in clients)
        {
            // Given back (Refresh with lifetime 0), so the next run's sockets do not meet these allocations.
            try
            {
                await client.RefreshAsync(TimeSpan.Zero);
            }
            catch (GhostChat.Turn.Client.TurnException)
            {
                // Gone already.
            }
            await client.DisposeAsync();
        }
        return 0;
    }
}
