using System.Security.Cryptography;
using GhostChat.Server.Ice;
using GhostChat.Server.Ice.Providers;
using GhostChat.Turn.Server;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.EmbeddedTurn;

/// <summary>
/// Hosts the embedded STUN/TURN server (GhostChat.Turn) in the GhostChat process and offers it to the ICE service:
/// it registers its own ICE provider type ("embedded") and the STUN ports /api/ice announces.
/// </summary>
internal static class EmbeddedTurnExtensions
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
        // One random secret per process when none is configured: the embedded ICE provider signs with the same options.
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
        services.TryAddSingleton<EmbeddedTurnHost>();
        services.AddHostedService(sp => sp.GetRequiredService<EmbeddedTurnHost>());

        // What the ICE service gets from us, through its own seams.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IIceProviderFactory, EmbeddedIceProviderFactory>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStunProbeSource, EmbeddedStunProbes>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<IceOptions>, EmbeddedIceOptionsValidator>());
        return builder;
    }
}
