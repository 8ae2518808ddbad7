using Microsoft.Extensions.Options;

namespace GhostChat.Server.Telemetry;

/// <summary>Forgets aggregates and feedback older than <see cref="TelemetryOptions.Retention"/>, at start and every hour.</summary>
internal sealed class TelemetryRetention(ITelemetryStore store, IOptions<TelemetryOptions> options, TimeProvider time, ILogger<TelemetryRetention> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1), time);
        do
        {
            await PruneOnceAsync(stoppingToken).ConfigureAwait(false);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    internal async Task PruneOnceAsync(CancellationToken cancellationToken)
    {
        var before = Hours.Of(time.GetUtcNow() - options.Value.Retention);
        try
        {
            await store.PruneAsync(before, cancellationToken).ConfigureAwait(false);
            Log.Pruned(logger, Hours.ToTime(before));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.PruneFailed(logger, ex.GetType().Name);
        }
    }
}
