using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using StringWithQualityHeaderValue = Microsoft.Net.Http.Headers.StringWithQualityHeaderValue;

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
    private const string EncodingKey = "GhostChat.Web.Encoding";

    private static bool IsCompressedCopy(string path) =>
        path.EndsWith(".br", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);

    /// <summary>"br" or "gzip" among the copies there are, when the request accepts it (q &gt; 0), brotli first; null otherwise.</summary>
    internal static string? PreferredEncoding(HttpRequest request, bool brotli, bool gzip)
    {
        IList<StringWithQualityHeaderValue> accepted;
        try
        {
            accepted = request.GetTypedHeaders().AcceptEncoding;
        }
        catch (FormatException)
        {
            return null;
        }
        bool Accepts(string name) => accepted.Any(a => string.Equals(a.Value.Value, name, StringComparison.OrdinalIgnoreCase) && (a.Quality ?? 1) > 0);
        return brotli && Accepts("br") ? "br" : gzip && Accepts("gzip") ? "gzip" : null;
    }

    /// <summary>Content types of precompressed copies (<c>x.js.br</c>) are those of the original (<c>x.js</c>); nothing else changes.</summary>
    private sealed class PrecompressedContentTypes(FileExtensionContentTypeProvider inner) : IContentTypeProvider
    {
        public bool TryGetContentType(string subpath, out string contentType)
        {
            foreach (var suffix in (ReadOnlySpan<string>)[".br", ".gz"])
            {
                if (subpath.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
                {
                    return inner.TryGetContentType(subpath[..^suffix.Length], out contentType!);
                }
            }
            return inner.TryGetContentType(subpath, out contentType!);
        }
    }

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

        // The build writes brotli and gzip copies beside the text files (web/vite.config.ts): a browser that
        // accepts one gets it, which saves round trips of TCP slow start on slow links (the app's script is
        // about a third of its size compressed).
        app.Use((context, next) =>
        {
            if (!(HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method))
                || context.Request.Path.Value is not { Length: > 1 } path)
            {
                return next(context);
            }
            if (IsCompressedCopy(path) && files.GetFileInfo(path).Exists)
            {
                // The copies are served only with their Content-Encoding, never as files of their own.
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }
            if (!types.TryGetContentType(path, out _))
            {
                return next(context);
            }
            bool hasBrotli = files.GetFileInfo(path + ".br").Exists, hasGzip = files.GetFileInfo(path + ".gz").Exists;
            if (!hasBrotli && !hasGzip)
            {
                return next(context);
            }
            context.Response.Headers.Append(HeaderNames.Vary, HeaderNames.AcceptEncoding);
            if (PreferredEncoding(context.Request, hasBrotli, hasGzip) is { } encoding)
            {
                context.Request.Path = path + (encoding == "br" ? ".br" : ".gz");
                context.Items[EncodingKey] = encoding;
            }
            return next(context);
        });

        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            ContentTypeProvider = new PrecompressedContentTypes(types),
            ServeUnknownFileTypes = false,
            OnPrepareResponse = ctx =>
            {
                var isHashed = ctx.Context.Request.Path.StartsWithSegments("/assets", StringComparison.Ordinal);
                ctx.Context.Response.Headers[HeaderNames.CacheControl] = isHashed ? immutable : NoCache;
                if (ctx.Context.Items[EncodingKey] is string encoding)
                {
                    ctx.Context.Response.Headers[HeaderNames.ContentEncoding] = encoding;
                }
            },
        });

        // The SPA entry: `/` (and /index.html through the static files above) is always revalidated.
        // (An endpoint, so the static files above never see "/": it picks its compressed copy itself.)
        bool indexBrotli = File.Exists(index + ".br"), indexGzip = File.Exists(index + ".gz");
        app.MapGet("/", (HttpContext context) =>
        {
            context.Response.Headers[HeaderNames.CacheControl] = NoCache;
            if (indexBrotli || indexGzip)
            {
                context.Response.Headers.Append(HeaderNames.Vary, HeaderNames.AcceptEncoding);
                if (PreferredEncoding(context.Request, indexBrotli, indexGzip) is { } encoding)
                {
                    context.Response.Headers[HeaderNames.ContentEncoding] = encoding;
                    return Results.File(index + (encoding == "br" ? ".br" : ".gz"), "text/html; charset=utf-8");
                }
            }
            return Results.File(index, "text/html; charset=utf-8");
        });
        return app;
    }
}
