using Microsoft.Extensions.Options;

namespace GhostChat.Server.Security;

/// <summary>Response security headers (DESIGN §7). Every HTTP response carries them.</summary>
public sealed class SecurityHeadersOptions
{
    /// <summary>
    /// The Content-Security-Policy sent with every response. No inline script, no eval. connect-src
    /// admits any http(s)/ws(s) host because the app's settings let a user pick another signaling
    /// server (PeerJS fetches its id over HTTP) and its /api/ice; ws: already admitted any host.
    /// </summary>
    public string ContentSecurityPolicy { get; set; } =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
        "connect-src 'self' http: https: ws: wss:; worker-src 'self'; manifest-src 'self'; font-src 'self'; " +
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>Strict-Transport-Security max-age, sent only on HTTPS responses.</summary>
    public TimeSpan HstsMaxAge { get; set; } = TimeSpan.FromDays(365);
}

internal static class SecurityHeadersExtensions
{
    public static WebApplicationBuilder AddGhostChatSecurityHeaders(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<SecurityHeadersOptions>()
            .Bind(builder.Configuration.GetSection("GhostChat:SecurityHeaders"))
            .Validate(o => !string.IsNullOrWhiteSpace(o.ContentSecurityPolicy), "GhostChat:SecurityHeaders:ContentSecurityPolicy must not be empty.")
            .ValidateOnStart();
        return builder;
    }

    public static IApplicationBuilder UseGhostChatSecurityHeaders(this IApplicationBuilder app)
    {
        var options = app.ApplicationServices.GetRequiredService<IOptions<SecurityHeadersOptions>>().Value;
        var hsts = $"max-age={(long)options.HstsMaxAge.TotalSeconds}; includeSubDomains";
        return app.Use((context, next) =>
        {
            context.Response.OnStarting(static state =>
            {
                var (ctx, csp, hstsValue) = ((HttpContext, string, string))state;
                var headers = ctx.Response.Headers;
                headers.ContentSecurityPolicy = csp;
                headers.XContentTypeOptions = "nosniff";
                headers.XFrameOptions = "DENY";
                headers["Referrer-Policy"] = "no-referrer";
                headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()";
                headers["Cross-Origin-Opener-Policy"] = "same-origin";
                headers["Cross-Origin-Resource-Policy"] = "same-origin";
                if (ctx.Request.IsHttps)
                {
                    headers.StrictTransportSecurity = hstsValue;
                }
                return Task.CompletedTask;
            }, (context, options.ContentSecurityPolicy, hsts));
            return next(context);
        });
    }
}
