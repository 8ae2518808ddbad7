using System.Security.Cryptography;
using GhostChat.Turn.Server;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Turn;

/// <summary>Hosts the embedded STUN/TURN server (GhostChat.Turn) in the GhostChat process.</summary>
internal static class TurnExtensions
{
    /// <summary>Configuration section of <see cref="TurnServerOptions"/>.</summary>
    public const string SectionName = "GhostChat:Turn";

    /// <summary>
    /// Binds <c>GhostChat:Turn</c> (Enabled default true; UDP and TCP 3478; a random REST secret made at start when
    /// none is configured), validates it at start, and runs the server as a hosted service.
    /// </summary>
    public static WebApplicationBuilder AddGhostChatTurn(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        // One random secret per process when none is configured: the ICE service reads the same options.
        var generatedSecret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        services.AddOptions<TurnServerOptions>()
            .Bind(builder.Configuration.GetSection(SectionName))
            .PostConfigure(o =>
            {
                if (o.Secrets.Count == 0)
                {
                    o.Secrets.Add(generatedSecret);
                }
            })
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TurnServerOptions>, TurnOptionsValidator>());
        services.TryAddSingleton<EmbeddedTurn>();
        services.AddHostedService(sp => sp.GetRequiredService<EmbeddedTurn>());
        return builder;
    }
}

/// <summary>Collects every problem with the TURN options so the host refuses to start with one clear message.</summary>
internal sealed class TurnOptionsValidator : IValidateOptions<TurnServerOptions>
{
    public ValidateOptionsResult Validate(string? name, TurnServerOptions options)
    {
        if (!options.Enabled)
        {
            return ValidateOptionsResult.Success;
        }
        var errors = options.Validate();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>The embedded TURN server as a hosted service; <see cref="Server"/> is null when disabled or not started.</summary>
internal sealed class EmbeddedTurn(IOptions<TurnServerOptions> options, ILoggerFactory loggerFactory, TimeProvider time, System.Diagnostics.Metrics.IMeterFactory meterFactory) : IHostedService, IAsyncDisposable
{
    /// <summary>The running server, for the ICE service and health checks.</summary>
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
