using Microsoft.Extensions.Options;

namespace GhostChat.Server.Signaling;

/// <summary>
/// Every <see cref="SignalingOptions.CleanupInterval"/>: closes sockets that sent nothing for the
/// alive timeout, expires offline queues (EXPIRE to their senders), and forgets idle addresses.
/// </summary>
internal sealed class SignalingSweeper(
    IPeerDirectory directory,
    IRelayBus bus,
    ClientAdmission admission,
    SignalingMetrics metrics,
    IOptionsMonitor<SignalingOptions> options,
    TimeProvider time,
    ILogger<SignalingSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.CurrentValue.CleanupInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await SweepAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Log.SweepFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    internal async ValueTask SweepAsync(CancellationToken cancellationToken)
    {
        var o = options.CurrentValue;
        var now = time.GetTimestamp();
        var aliveTicks = (long)(o.AliveTimeout.TotalSeconds * time.TimestampFrequency);
        foreach (var session in directory.LocalSessions)
        {
            if (now - session.LastSeen >= aliveTicks && !session.IsClosing)
            {
                Log.AliveTimeout(logger, session.Id ?? "", o.AliveTimeout);
                metrics.Rejected(RejectionReasons.AliveTimeout);
                await directory.UnregisterAsync(session, cancellationToken);
                session.Close(SignalingBroker.AliveTimeoutCloseStatus, "no message within the alive timeout");
            }
        }
        await directory.RefreshAsync(cancellationToken);
        await bus.ExpireAsync(cancellationToken);
        admission.Prune();
    }
}
