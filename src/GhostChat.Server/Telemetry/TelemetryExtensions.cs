using System.Globalization;
using System.Text.Json;
using System.Threading.RateLimiting;
using GhostChat.Server.Ice;
using GhostChat.Server.Ops;
using GhostChat.Server.Signaling.Cluster;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Telemetry;

/// <summary>
/// Field data (issue 18): <c>POST /api/telemetry</c> (opt-in reports into hourly aggregates), <c>POST /api/feedback</c>,
/// <c>GET /api/stats</c> and the <c>/stats</c> page, the operator's feedback list. With
/// <c>GhostChat:Telemetry:Enabled</c> false none of them exists (404) and the app never asks.
/// </summary>
internal static class TelemetryExtensions
{
    public static WebApplicationBuilder AddGhostChatTelemetry(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<TelemetryOptions>().Bind(builder.Configuration.GetSection(TelemetryOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TelemetryOptions>, TelemetryOptionsValidator>());
        if (!builder.Configuration.GetValue(TelemetryOptions.SectionName + ":Enabled", true))
        {
            return builder;
        }
        var clustered = !string.IsNullOrWhiteSpace(builder.Configuration[ClusterOptions.SectionName + ":ConnectionString"]);
        services.TryAddSingleton<ITelemetryStore>(sp =>
        {
            var o = sp.GetRequiredService<IOptions<TelemetryOptions>>().Value;
            return clustered
                ? new RedisTelemetryStore(sp.GetRequiredService<RedisConnection>(), o.Retention, sp.GetRequiredService<TimeProvider>())
                : new SqliteTelemetryStore(o.DatabasePath);
        });
        services.TryAddSingleton<TelemetryMetrics>();
        services.TryAddSingleton(sp => new TelemetryLimits(sp.GetRequiredService<IOptions<TelemetryOptions>>().Value, sp.GetRequiredService<TimeProvider>()));
        services.AddHostedService<TelemetryRetention>();
        return builder;
    }

    public static WebApplication MapGhostChatTelemetry(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<TelemetryOptions>>().Value;
        if (!options.Enabled)
        {
            return app;
        }
        var operators = Network.NetworkExtensions.ParseNetworks(app.Services.GetRequiredService<IOptions<OpsOptions>>().Value.DetailFrom);
        bool MayRead(HttpContext context) => options.StatsPublic || OpsExtensions.MaySeeDetail(context, operators);
        bool IsOperator(HttpContext context) => OpsExtensions.MaySeeDetail(context, operators);

        var store = app.Services.GetRequiredService<ITelemetryStore>();
        Log.Started(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(TelemetryExtensions).FullName!),
            store is RedisTelemetryStore ? "Redis" : options.DatabasePath.Length > 0 ? "SQLite file" : "memory only",
            options.Retention, options.StatsPublic ? "public" : "operator-only");

        // /stats is the built page stats.html (web/stats.html), served by the static files for whoever may read it.
        app.Use((context, next) =>
        {
            var path = context.Request.Path;
            if (path.Equals("/stats", StringComparison.Ordinal) || path.Equals("/stats.html", StringComparison.Ordinal))
            {
                if (!MayRead(context))
                {
                    context.Response.StatusCode = StatusCodes.Status404NotFound;
                    return Task.CompletedTask;
                }
                context.Request.Path = "/stats.html";
            }
            return next(context);
        });

        var api = app.MapGroup("/api");
        api.MapGet("/telemetry", (HttpContext context) => Json(context, new TelemetryConfig(true, true, options.StatsPublic), TelemetryJsonContext.Default.TelemetryConfig));
        api.MapPost("/telemetry", ReportAsync);
        api.MapPost("/feedback", FeedbackAsync);
        api.MapGet("/stats", (HttpContext context, ITelemetryStore s, TimeProvider time, CancellationToken ct) =>
            MayRead(context) ? StatsAsync(context, s, time, options, IsOperator(context), ct) : Task.FromResult(Results.NotFound()));
        api.MapGet("/feedback", async (HttpContext context, ITelemetryStore s, CancellationToken ct) =>
            IsOperator(context) ? Json(context, await s.ReadFeedbackAsync(ct), TelemetryJsonContext.Default.FeedbackEntryArray) : Results.NotFound());
        api.MapDelete("/feedback/{id:long}", async (HttpContext context, long id, ITelemetryStore s, CancellationToken ct) =>
            !IsOperator(context) ? Results.NotFound() : await s.DeleteFeedbackAsync(id, ct) ? Results.NoContent() : Results.NotFound());
        return app;
    }

    private static async Task<IResult> ReportAsync(HttpContext context, ITelemetryStore store, TelemetryLimits limits, TelemetryMetrics metrics,
        IceProviderRegistry providers, TimeProvider time, ILogger<TelemetryLimits> logger)
    {
        if (Limited(context, limits.Reports, metrics.Report, logger) is { } limited)
        {
            return limited;
        }
        var (report, problem) = await ReadAsync(context, TelemetryJsonContext.Default.TelemetryReport).ConfigureAwait(false);
        if (report is null || !TelemetrySchema.TryAccept(report, name => providers.Find(name)?.Name, out var increments, out problem))
        {
            return Refuse(problem, metrics.Report, logger);
        }
        try
        {
            await store.AddAsync(Hours.Of(time.GetUtcNow()), increments, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.StoreFailed(logger, ex.GetType().Name);
            metrics.Report("unavailable");
            return Problem("Field data cannot be stored right now.", StatusCodes.Status503ServiceUnavailable);
        }
        metrics.Added(increments);
        metrics.Report("accepted");
        return Results.NoContent();
    }

    private static async Task<IResult> FeedbackAsync(HttpContext context, ITelemetryStore store, TelemetryLimits limits, TelemetryMetrics metrics,
        IOptions<TelemetryOptions> options, TimeProvider time, ILogger<TelemetryLimits> logger)
    {
        if (Limited(context, limits.Feedback, metrics.Feedback, logger) is { } limited)
        {
            return limited;
        }
        var (feedback, problem) = await ReadAsync(context, TelemetryJsonContext.Default.FeedbackRequest).ConfigureAwait(false);
        var max = options.Value.FeedbackMaxLength;
        if (feedback is not null)
        {
            var text = feedback.Text.Replace("\r\n", "\n", StringComparison.Ordinal).Trim();
            problem = text.Length == 0 ? "text is empty."
                : text.Length > max ? $"text is longer than {max} characters."
                : text.Any(c => (char.IsControl(c) && c is not ('\n' or '\t')) || c is (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069')) ? "text holds control or direction-override characters."
                : feedback.Diagnostics is { } d ? TelemetrySchema.CheckDiagnostics(d, null) ?? "" : "";
            feedback = feedback with { Text = text };
        }
        if (feedback is null || problem.Length > 0)
        {
            return Refuse(problem, metrics.Feedback, logger);
        }
        long? id;
        try
        {
            id = await store.AddFeedbackAsync(Hours.Of(time.GetUtcNow()), feedback.Text, feedback.Diagnostics, options.Value.FeedbackMaxStored, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.StoreFailed(logger, ex.GetType().Name);
            metrics.Feedback("unavailable");
            return Problem("Feedback cannot be stored right now.", StatusCodes.Status503ServiceUnavailable);
        }
        if (id is null)
        {
            metrics.Feedback("full");
            return Problem("This server holds as much feedback as it keeps; try again later.", StatusCodes.Status503ServiceUnavailable);
        }
        metrics.Feedback("accepted");
        return Results.NoContent();
    }

    private static async Task<IResult> StatsAsync(HttpContext context, ITelemetryStore store, TimeProvider time, TelemetryOptions options, bool isOperator, CancellationToken cancellationToken)
    {
        var maxDays = Math.Max(1, (int)Math.Ceiling(options.Retention.TotalDays));
        var days = 7;
        if (context.Request.Query.TryGetValue("days", out var value)
            && !(int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out days) && days >= 1 && days <= maxDays))
        {
            return Problem($"days must be a whole number from 1 to {maxDays}.", StatusCodes.Status400BadRequest);
        }
        var to = Hours.Of(time.GetUtcNow());
        var from = to - ((days * 24L) - 1) * Hours.Second;
        var rows = await store.ReadAsync(from, to, cancellationToken).ConfigureAwait(false);
        var feedback = isOperator ? (await store.ReadFeedbackAsync(cancellationToken).ConfigureAwait(false)).Length : 0;
        return Json(context, new StatsResponse(Hours.ToTime(from), Hours.ToTime(to), StatsFigures.From(rows, feedback), rows), TelemetryJsonContext.Default.StatsResponse);
    }

    private static IResult? Limited(HttpContext context, IceRateLimiter limiter, Action<string> count, ILogger logger)
    {
        using var lease = limiter.Acquire(context.Connection.RemoteIpAddress);
        if (lease.IsAcquired)
        {
            return null;
        }
        var retry = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(10);
        var seconds = Math.Max(1, (int)Math.Ceiling(retry.TotalSeconds));
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        count("rate_limited");
        Log.Refused(logger, "rate limited");
        return Problem($"Too many reports from this address; try again in {seconds} s.", StatusCodes.Status429TooManyRequests);
    }

    /// <summary>
    /// The body as <typeparamref name="T"/>: JSON (<c>application/json</c>), at most
    /// <see cref="TelemetrySchema.MaxBodyBytes"/> bytes, strictly typed. Null and the reason otherwise.
    /// </summary>
    private static async Task<(T? Value, string Problem)> ReadAsync<T>(HttpContext context, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
        where T : class
    {
        var request = context.Request;
        if (!request.HasJsonContentType())
        {
            return (null, "the body must be application/json.");
        }
        if (request.ContentLength > TelemetrySchema.MaxBodyBytes)
        {
            return (null, $"the body is larger than {TelemetrySchema.MaxBodyBytes} bytes.");
        }
        var buffer = new byte[TelemetrySchema.MaxBodyBytes + 1];
        var length = 0;
        try
        {
            int read;
            while (length < buffer.Length && (read = await request.Body.ReadAsync(buffer.AsMemory(length), context.RequestAborted).ConfigureAwait(false)) > 0)
            {
                length += read;
            }
        }
        catch (IOException)
        {
            return (null, "the body could not be read.");
        }
        if (length > TelemetrySchema.MaxBodyBytes)
        {
            return (null, $"the body is larger than {TelemetrySchema.MaxBodyBytes} bytes.");
        }
        try
        {
            var value = JsonSerializer.Deserialize(buffer.AsSpan(0, length), type);
            return value is null ? (null, "the body is null.") : (value, "");
        }
        catch (JsonException ex)
        {
            // The path says where (e.g. $.attempts[0].ttc); the message never repeats the content.
            return (null, $"the body does not match the schema at {ex.Path ?? "$"}.");
        }
    }

    private static IResult Refuse(string problem, Action<string> count, ILogger logger)
    {
        count("invalid");
        Log.Refused(logger, problem);
        return Problem(problem, StatusCodes.Status400BadRequest);
    }

    private static IResult Problem(string message, int status)
        => Results.Json(new TelemetryProblem(message), TelemetryJsonContext.Default.TelemetryProblem, statusCode: status);

    private static IResult Json<T>(HttpContext context, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        context.Response.Headers.CacheControl = "no-store";
        return Results.Json(value, type);
    }
}

/// <summary>The per-address limits of reports and feedback (addresses live in memory only while their bucket does).</summary>
internal sealed class TelemetryLimits(TelemetryOptions options, TimeProvider time) : IDisposable
{
    public IceRateLimiter Reports { get; } = new(options.Reports.Burst, options.Reports.PerMinute, time);

    public IceRateLimiter Feedback { get; } = new(options.Feedback.Burst, options.Feedback.PerMinute, time);

    public void Dispose()
    {
        Reports.Dispose();
        Feedback.Dispose();
    }
}
