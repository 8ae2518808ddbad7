using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Signaling;

/// <summary>Wires the PeerJS-compatible signaling broker into the server.</summary>
internal static class SignalingExtensions
{
    private const string CorsPolicy = "GhostChat.Signaling";

    private const string Banner =
        """{"name":"PeerJS Server","description":"A server side element to broker connections between PeerJS clients.","website":"https://peerjs.com/"}""";

    /// <summary>Registers the broker with in-memory seams; the builder it returns chooses others (<c>.UseRedis()</c>).</summary>
    public static SignalingBuilder AddGhostChatSignaling(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<SignalingOptions>().Bind(builder.Configuration.GetSection(SignalingOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SignalingOptions>, SignalingOptionsValidator>());

        // The two seams a multi-node (Redis) deployment replaces.
        services.TryAddSingleton<IPeerDirectory, InMemoryPeerDirectory>();
        services.TryAddSingleton<IRelayBus, InMemoryRelayBus>();

        services.TryAddSingleton<ClientAdmission>();
        services.TryAddSingleton<PeerIds>();
        services.TryAddSingleton<OutboundBudget>();
        services.TryAddSingleton<SignalingMetrics>();
        services.TryAddSingleton<SignalingBroker>();
        services.TryAddSingleton<SignalingConnectionMiddleware>();
        if (builder.Configuration.GetValue(SignalingOptions.SectionName + ":ConnectionFastPath", true))
        {
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(listen => listen.Use(next => connection =>
                kestrel.ApplicationServices.GetRequiredService<SignalingConnectionMiddleware>().OnConnectionAsync(connection, next))));
            if (builder.Configuration.GetValue(SignalingOptions.SectionName + ":SocketLoop", true) && Loop.SignalingLoopTransport.Supported)
            {
                // Our transport replaces Kestrel's socket transport, which it uses for all it does not serve.
                services.RemoveAll<Microsoft.AspNetCore.Connections.IConnectionListenerFactory>();
                services.AddSingleton<Microsoft.AspNetCore.Connections.IConnectionListenerFactory, Loop.SignalingLoopTransport>();
            }
        }
        services.AddHostedService<SignalingSweeper>();
        services.AddHealthChecks().AddCheck<SignalingHealthCheck>("signaling", tags: [Ops.OpsExtensions.ReadyTag]);

        services.AddCors();
        services.AddOptions<CorsOptions>().Configure<IOptions<SignalingOptions>>((cors, signaling) =>
            cors.AddPolicy(CorsPolicy, policy => policy.AllowSignalingOrigins(signaling.Value).AllowAnyHeader().AllowAnyMethod()));
        return new SignalingBuilder(builder);
    }

    public static WebApplication MapGhostChatSignaling(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<SignalingOptions>>().Value;
        var basePath = options.Path.EndsWith('/') ? options.Path : options.Path + "/";
        var webSocketPath = basePath + "peerjs";
        var broker = app.Services.GetRequiredService<SignalingBroker>();
        var ids = app.Services.GetRequiredService<PeerIds>();
        var directory = app.Services.GetRequiredService<IPeerDirectory>();

        // On shutdown, close every signaling socket with 1001 before the server drains connections, so
        // clients reconnect (elsewhere, or here when it is back) at once and shutdown is not held up.
        app.Lifetime.ApplicationStopping.Register(() =>
        {
            foreach (var session in directory.LocalSessions)
            {
                session.Close(System.Net.WebSockets.WebSocketCloseStatus.EndpointUnavailable, "server shutting down");
            }
        });

        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero }); // liveness is the app's HEARTBEAT
        app.UseCors();

        // The WebSocket: exact, case-sensitive path as the reference (anything else is not the broker).
        app.Use((context, next) =>
        {
            if (!string.Equals(context.Request.Path.Value, webSocketPath, StringComparison.Ordinal))
            {
                return next(context);
            }
            if (!context.WebSockets.IsWebSocketRequest)
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                return context.Response.WriteAsync("This is the PeerJS signaling WebSocket; connect with a WebSocket client.");
            }
            return broker.HandleAsync(context);
        });

        var group = app.MapGroup(basePath).RequireCors(CorsPolicy);
        // Like the reference's cors package: Vary: Origin on every answer, with or without an Origin,
        // so a shared cache never hands an origin-less answer to a cross-origin caller.
        group.AddEndpointFilter(static (context, next) =>
        {
            // (With an Origin the CORS middleware adds it.)
            if (!context.HttpContext.Request.Headers.ContainsKey("Origin"))
            {
                context.HttpContext.Response.Headers.Append("Vary", "Origin");
            }
            return next(context);
        });
        if (basePath != "/")
        {
            // At "/" the web app is served instead of the reference's JSON banner.
            group.MapGet("", () => Results.Text(Banner, "application/json; charset=utf-8"));
        }

        // The key is not checked here, as in the reference: the WebSocket checks it.
        group.MapGet("{key}/id", (string key) =>
        {
            string id;
            do
            {
                id = ids.NewId();
            }
            while (directory.FindLocal(id) is not null);
            return Results.Text(id, "text/html; charset=utf-8");
        });
        group.MapGet("{key}/peers", async (string key, CancellationToken ct) => options.AllowDiscovery
            ? Results.Json(await directory.ListIdsAsync(ct))
            : Results.Text("Unauthorized", "text/plain; charset=utf-8", statusCode: StatusCodes.Status401Unauthorized));

        Log.BrokerStarted(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger<SignalingBroker>(),
            webSocketPath, options.Key.Length, options.AllowDiscovery, options.ServerGeneratedIdsOnly);
        return app;
    }

    private sealed class SignalingHealthCheck(IPeerDirectory directory, ClientAdmission admission, IOptionsMonitor<SignalingOptions> options) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var o = options.CurrentValue;
            var data = new Dictionary<string, object>(StringComparer.Ordinal)
            {
                ["peers"] = directory.Count,
                ["sockets"] = admission.OpenSockets,
            };
            if (admission.OpenSockets >= o.Limits.MaxSockets || directory.Count >= o.ConcurrentLimit)
            {
                return Task.FromResult(HealthCheckResult.Degraded("Signaling is at its configured capacity.", data: data));
            }
            return Task.FromResult(HealthCheckResult.Healthy("Signaling accepts peers.", data));
        }
    }
}

/// <summary>Returned by <c>AddGhostChatSignaling()</c>: where the broker's seams (peer directory, relay bus) are chosen, in any order.</summary>
internal sealed class SignalingBuilder(WebApplicationBuilder builder)
{
    public WebApplicationBuilder Builder { get; } = builder;
}

/// <summary>Who may call the broker (and the app's other cross-origin endpoints) from a web page.</summary>
internal static class SignalingCors
{
    /// <summary>
    /// Like the reference's default (`origin: true`): echo any Origin, unless
    /// <see cref="SignalingOptions.AllowedOrigins"/> lists them.
    /// </summary>
    public static Microsoft.AspNetCore.Cors.Infrastructure.CorsPolicyBuilder AllowSignalingOrigins(
        this Microsoft.AspNetCore.Cors.Infrastructure.CorsPolicyBuilder policy, SignalingOptions options)
        => options.AllowedOrigins.Count == 0 ? policy.SetIsOriginAllowed(static _ => true) : policy.WithOrigins([.. options.AllowedOrigins]);
}
