using System.Net;
using System.Text.Json;
using GhostChat.Server.Network;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;

namespace GhostChat.Server.Ops;

/// <summary>Health, readiness and Prometheus metrics.</summary>
internal static class OpsExtensions
{
    /// <summary>Meters whose instruments are exported on /metrics.</summary>
    public const string MeterPrefix = "GhostChat.";

    /// <summary>Health checks with this tag decide readiness (/readyz).</summary>
    public const string ReadyTag = "ready";

    public static WebApplicationBuilder AddGhostChatOps(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<OpsOptions>()
            .Bind(builder.Configuration.GetSection(OpsOptions.SectionName))
            .Validate(o => o.DetailFrom.All(p => NetworkExtensions.TryParseNetwork(p, out _)),
                "GhostChat:Ops:DetailFrom must hold IP addresses or CIDR networks such as 127.0.0.1 or 10.0.0.0/8.")
            .ValidateOnStart();
        builder.Services.AddHealthChecks();
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(MeterPrefix + "*")
            .AddMeter("Microsoft.AspNetCore.Server.Kestrel")
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        return builder;
    }

    public static WebApplication MapGhostChatOps(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<OpsOptions>>().Value;
        var detailFrom = NetworkExtensions.ParseNetworks(options.DetailFrom);
        bool MayDetail(HttpContext context) => MaySeeDetail(context, detailFrom);

        // Routing has chosen the endpoint by now (and forwarded headers set the client address): an
        // endpoint marked as detail answers 404 to anyone else, as if it were not there.
        app.Use((context, next) =>
        {
            if (context.GetEndpoint()?.Metadata.GetMetadata<DetailOnly>() is not null && !MayDetail(context))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }
            return next(context);
        });

        // Liveness: the process answers. No check runs, nothing about peers is revealed.
        app.MapHealthChecks("/healthz", new HealthCheckOptions
        {
            Predicate = _ => false,
            ResponseWriter = static (ctx, report) => WriteText(ctx, report),
        });
        // Readiness: the status code and overall status for everyone (balancers, container health
        // checks); the per-component detail only for DetailFrom.
        app.MapHealthChecks("/readyz", new HealthCheckOptions
        {
            Predicate = r => r.Tags.Contains(ReadyTag),
            ResponseWriter = (ctx, report) => WriteJson(ctx, report, MayDetail(ctx)),
        });
        app.MapPrometheusScrapingEndpoint("/metrics").WithMetadata(new DetailOnly());
        return app;
    }

    /// <summary>Marks an endpoint that only <see cref="OpsOptions.DetailFrom"/> may reach.</summary>
    private sealed class DetailOnly;

    /// <summary>
    /// Whether the client (as resolved from a trusted proxy's X-Forwarded-For) is in
    /// <paramref name="allowed"/>, or on loopback when that is empty. A request still carrying
    /// X-Forwarded-For came through a proxy that is not trusted: the socket's address says nothing
    /// about the client, so no detail.
    /// </summary>
    internal static bool MaySeeDetail(HttpContext context, System.Net.IPNetwork[] allowed)
    {
        if (context.Connection.RemoteIpAddress is not { } remote || context.Request.Headers.ContainsKey("X-Forwarded-For"))
        {
            return false;
        }
        var address = remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote;
        return allowed.Length == 0 ? IPAddress.IsLoopback(address) : allowed.Any(n => n.Contains(address));
    }

    private static Task WriteText(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsync(report.Status.ToString());
    }

    private static Task WriteJson(HttpContext context, HealthReport report, bool detail)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        if (!detail)
        {
            return context.Response.WriteAsync(JsonSerializer.Serialize(new Dictionary<string, string>(StringComparer.Ordinal) { ["status"] = report.Status.ToString() }));
        }
        var body = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["status"] = report.Status.ToString(),
            ["checks"] = report.Entries.ToDictionary(
                e => e.Key,
                e => (object?)new Dictionary<string, object?>(StringComparer.Ordinal)
                {
                    ["status"] = e.Value.Status.ToString(),
                    ["description"] = e.Value.Description,
                    ["data"] = e.Value.Data.Count == 0 ? null : e.Value.Data,
                },
                StringComparer.Ordinal),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body));
    }
}
