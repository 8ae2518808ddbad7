using System.Diagnostics.Metrics;
using GhostChat.Turn.Server;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.EmbeddedTurn;

/// <summary>The embedded TURN server as a hosted service; <see cref="Server"/> is null when disabled or not started.</summary>
internal sealed class EmbeddedTurnHost(
    IOptions<TurnServerOptions> options, ILoggerFactory loggerFactory, TimeProvider time, IMeterFactory meterFactory)
    : IHostedService, IAsyncDisposable
{
    /// <summary>The running server, for the ICE provider and the STUN probes.</summary>
    public TurnServer? Server { get; private set; }

    /// <summary>The options in force (secrets included: never log them).</summary>
    public TurnServerOptions Options => options.Value;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.Enabled)
        {
            return;
        }
        var server = new TurnServer(options.Value, loggerFactory, time, meterFactory);
        try
        {
            await server.StartAsync(cancellationToken);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        Server = server;
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        if (Server is { } server)
        {
            Server = null;
            await server.DisposeAsync();
        }
    }
}
