using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net.Sockets;
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
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            await server.DisposeAsync();
            throw new TurnPortInUseException(PortsInUse(options.Value), ex);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        Server = server;
    }

    /// <summary>The ports the embedded server was told to listen on, for the "in use" message.</summary>
    private static string PortsInUse(TurnServerOptions o)
    {
        var ports = new List<string>();
        if (o.UdpPort >= 0)
        {
            ports.Add(string.Create(CultureInfo.InvariantCulture, $"UDP {o.UdpPort} (GhostChat:Turn:UdpPort)"));
        }
        if (o.TcpPort >= 0)
        {
            ports.Add(string.Create(CultureInfo.InvariantCulture, $"TCP {o.TcpPort} (GhostChat:Turn:TcpPort)"));
        }
        if (o.TlsCertificatePath is not null)
        {
            ports.Add(string.Create(CultureInfo.InvariantCulture, $"TLS {o.TlsPort} (GhostChat:Turn:TlsPort)"));
        }
        if (o.AlternatePort > 0)
        {
            ports.Add(string.Create(CultureInfo.InvariantCulture, $"{o.AlternatePort} (GhostChat:Turn:AlternatePort)"));
        }
        return string.Join(", ", ports);
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

/// <summary>A port of the embedded TURN server is taken by another program (often coturn on 3478).</summary>
internal sealed class TurnPortInUseException(string ports, Exception inner)
    : Exception($"a port of the embedded TURN server is in use by another program (one of: {ports})", inner);
