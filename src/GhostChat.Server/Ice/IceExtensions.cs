using System.Globalization;
using System.Threading.RateLimiting;
using GhostChat.Server.Files;
using GhostChat.Server.Ice.Providers;
using GhostChat.Server.Signaling;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Ice;

/// <summary>
/// The ICE service: <c>GET /api/ice</c> hands browsers short-lived STUN/TURN credentials from the configured
/// providers, ordered by health and priority, with a background prober and a per-client rate limit.
/// </summary>
internal static class IceExtensions
{
    private const string CorsPolicy = "GhostChat.Ice";

    /// <summary>Longest accepted <c>exclude</c> query (all values together) and most names in it.</summary>
    public const int MaxExcludeLength = 1024;

    public const int MaxExcludeNames = 32;

    public static WebApplicationBuilder AddGhostChatIce(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        // Readable cross-origin by the same origins as the signaling broker (any, unless
        // GhostChat:Signaling:AllowedOrigins lists them), so a web app served elsewhere can use this server.
        services.AddCors();
        services.AddOptions<CorsOptions>().Configure<IOptions<SignalingOptions>>((cors, signaling) =>
            cors.AddPolicy(CorsPolicy, policy => policy.AllowSignalingOrigins(signaling.Value).WithMethods("GET")));
        services.AddOptions<IceOptions>()
            .Bind(builder.Configuration.GetSection(IceOptions.SectionName))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<IceOptions>, IceOptionsValidator>());
        // No request logging: Metered takes its API key in the query string.
        services.AddHttpClient(HttpIceProvider.HttpClientName).RemoveAllLoggers();
        services.TryAddSingleton<IceHealth>();
        services.TryAddSingleton<IceMetrics>();
        services.TryAddSingleton<IceProviderRegistry>();
        services.TryAddSingleton<IceService>();
        services.TryAddSingleton<IceProber>();
        services.TryAddSingleton(sp =>
        {
            var limit = sp.GetRequiredService<IOptions<IceOptions>>().Value.RateLimit;
            return new IceRateLimiter(limit.Burst, limit.PerMinute, sp.GetRequiredService<TimeProvider>());
        });
        services.AddHostedService(sp => sp.GetRequiredService<IceProber>());
        services.AddHealthChecks().AddCheck<IceHealthCheck>("ice", tags: [Ops.OpsExtensions.ReadyTag]);
        return builder;
    }

    public static WebApplication MapGhostChatIce(this WebApplication app)
    {
        app.MapGet("/api/ice", HandleAsync).RequireCors(CorsPolicy);
        return app;
    }

    private static async Task<IResult> HandleAsync(HttpContext context, IceService ice, IceRateLimiter limiter, IceMetrics metrics, IOptions<FilesOptions> files, ILogger<IceService> logger)
    {
        context.Response.Headers.CacheControl = "no-store";
        using var lease = limiter.Acquire(context.Connection.RemoteIpAddress);
        if (!lease.IsAcquired)
        {
            var retry = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(2);
            var seconds = Math.Max(1, (int)Math.Ceiling(retry.TotalSeconds));
            context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            metrics.Request("rate_limited");
            Log.Refused(logger, "rate limited");
            return Results.Json(new IceError($"Too many requests for ICE servers from this address; try again in {seconds} s."), IceJsonContext.Default.IceError, statusCode: StatusCodes.Status429TooManyRequests);
        }
        if (!TryParseExclude(context.Request.Query["exclude"], out var exclude, out var problem))
        {
            metrics.Request("bad_request");
            Log.Refused(logger, "bad exclude");
            return Results.Json(new IceError(problem), IceJsonContext.Default.IceError, statusCode: StatusCodes.Status400BadRequest);
        }
        var host = context.Request.Host.HasValue ? context.Request.Host.Host : null;
        var answer = await ice.AnswerAsync(new IceRequest(host, context.Connection.RemoteIpAddress), exclude, context.RequestAborted).ConfigureAwait(false);
        metrics.Request("ok");
        return Results.Json(new IceResponse(
            [.. answer.Servers.Select(s => new IceServerDto([.. s.Urls], s.Username, s.Credential))],
            [.. answer.Providers],
            answer.ExpiresAt,
            answer.RelayOnly,
            // The one call every room page makes before it connects also tells it the operator's file limit.
            files.Value.MaxBytes,
            answer.StunProbes is { } probes ? [.. probes] : null), IceJsonContext.Default.IceResponse);
    }

    /// <summary>
    /// <c>exclude=a,b</c> (repeatable): provider names to leave out. Empty items are ignored, unknown names too;
    /// more than <see cref="MaxExcludeLength"/> characters, more than <see cref="MaxExcludeNames"/> names, or a name
    /// that could not be a provider name is a 400.
    /// </summary>
    internal static bool TryParseExclude(Microsoft.Extensions.Primitives.StringValues values, out IReadOnlySet<string> exclude, out string problem)
    {
        var set = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        exclude = set;
        problem = "";
        int length = 0;
        foreach (var value in values)
        {
            length += value?.Length ?? 0;
            if (length > MaxExcludeLength)
            {
                problem = $"exclude is longer than {MaxExcludeLength} characters; list at most {MaxExcludeNames} provider names separated by commas.";
                return false;
            }
            foreach (var raw in (value ?? "").Split(','))
            {
                var name = raw.Trim();
                if (name.Length == 0)
                {
                    continue;
                }
                if (!IceOptionsValidator.NamePattern().IsMatch(name))
                {
                    problem = "exclude must list provider names (letters, digits, '-', '_', '.') separated by commas.";
                    return false;
                }
                set.Add(name);
                if (set.Count > MaxExcludeNames)
                {
                    problem = $"exclude lists more than {MaxExcludeNames} provider names.";
                    return false;
                }
            }
        }
        return true;
    }
}
