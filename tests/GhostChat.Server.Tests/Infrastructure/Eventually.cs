namespace GhostChat.Server.Tests.Infrastructure;

/// <summary>Waits for a condition that the server reaches asynchronously; fails with what it last saw.</summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    public static async Task EqualAsync(double expected, Func<Task<double>> read, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        double last;
        while ((last = await read()) != expected)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{what}: expected {expected}, still {last}");
            await Task.Delay(25);
        }
    }

    public static async Task TrueAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            await Task.Delay(25);
        }
    }

    /// <summary>Waits until the server's Prometheus series reaches <paramref name="expected"/>.</summary>
    public static Task MetricAsync(TestServer server, string name, double expected, params string[] labels)
        => EqualAsync(expected, () => server.MetricAsync(name, labels), name);
}
