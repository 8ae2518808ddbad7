using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace GhostChat.Server.Web;

/// <summary>
/// Serves the built browser app (web/dist, copied to <c>webapp/</c> beside the dll by the build):
/// content-hashed assets cached as immutable, the entry page and the service worker revalidated on
/// every load. Until the web app is built, a plain page says so.
/// </summary>
internal static class WebExtensions
{
    private const string PlaceholderPage = """
        <!doctype html>
        <html lang="en">
        <head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>GhostChat</title></head>
        <body>
        <main>
        <h1>GhostChat server is running</h1>
        <p>The web app is not built yet, so there is nothing to chat with here. The signaling broker
        (PeerJS protocol) is up and any PeerJS client can use this server.</p>
        <p>Health: <a href="/healthz">/healthz</a> · Readiness: <a href="/readyz">/readyz</a> · Metrics: <a href="/metrics">/metrics</a></p>
        </main>
        </body>
        </html>
        """;

    private const string NoCache = "no-cache";

    public static WebApplicationBuilder AddGhostChatWeb(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<WebOptions>()
            .Bind(builder.Configuration.GetSection(WebOptions.SectionName))
            .Validate(o => o.HashedAssetMaxAge >= TimeSpan.Zero, "GhostChat:Web:HashedAssetMaxAge must not be negative.")
            .ValidateOnStart();
        return builder;
    }

    public static WebApplication MapGhostChatWeb(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<WebOptions>>().Value;
        var root = Path.GetFullPath(string.IsNullOrWhiteSpace(options.RootPath)
            ? Path.Combine(AppContext.BaseDirectory, "webapp")
            : options.RootPath);
        var index = Path.Combine(root, "index.html");
        if (!File.Exists(index))
        {
            app.MapGet("/", () => Results.Content(PlaceholderPage, "text/html; charset=utf-8"));
            return app;
        }

        var files = new PhysicalFileProvider(root);
        var types = new FileExtensionContentTypeProvider();
        types.Mappings[".webmanifest"] = "application/manifest+json";
        var immutable = $"public, max-age={(long)options.HashedAssetMaxAge.TotalSeconds}, immutable";

        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            ContentTypeProvider = types,
            ServeUnknownFileTypes = false,
            OnPrepareResponse = ctx =>
            {
                var isHashed = ctx.Context.Request.Path.StartsWithSegments("/assets", StringComparison.Ordinal);
                ctx.Context.Response.Headers[HeaderNames.CacheControl] = isHashed ? immutable : NoCache;
            },
        });

        // The SPA entry: `/` (and /index.html through the static files above) is always revalidated.
        app.MapGet("/", (HttpContext context) =>
        {
            context.Response.Headers[HeaderNames.CacheControl] = NoCache;
            return Results.File(index, "text/html; charset=utf-8");
        });
        return app;
    }
}
