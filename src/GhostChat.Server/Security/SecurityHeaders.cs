using Microsoft.Extensions.Options;

namespace GhostChat.Server.Security;

/// <summary>Response security headers (DESIGN §7). Every HTTP response carries them.</summary>
public sealed class SecurityHeadersOptions
{
    /// <summary>
    /// The Content-Security-Policy sent with every response. No inline script, no eval, Trusted
    /// Types required for every script-injection sink (the app uses none but the service worker
    /// registration, which its "default" policy admits for /sw.js only). connect-src is the page's
    /// own origin; <see cref="ConnectSources"/> adds more.
    /// </summary>
    public string ContentSecurityPolicy { get; set; } =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
        "connect-src 'self'; worker-src 'self'; manifest-src 'self'; font-src 'self'; " +
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; " +
        "require-trusted-types-for 'script'; trusted-types default";

    /// <summary>
    /// Origins besides the page's own the app may connect to, added to the policy's connect-src:
    /// other signaling servers users may pick in the app's server settings, written as
    /// <c>scheme://host[:port]</c> with scheme http, https, ws or wss (a signaling server needs its
    /// http(s) origin for ids and /api/ice and its ws(s) origin for the socket). Empty (the default):
    /// only this server.
    /// </summary>
    public List<string> ConnectSources { get; } = [];

    /// <summary>Strict-Transport-Security max-age, sent only on HTTPS responses.</summary>
    public TimeSpan HstsMaxAge { get; set; } = TimeSpan.FromDays(365);

    /// <summary>The policy as sent: <see cref="ContentSecurityPolicy"/> with <see cref="ConnectSources"/> in its connect-src.</summary>
    internal string EffectivePolicy()
    {
        if (ConnectSources.Count == 0)
        {
            return ContentSecurityPolicy;
        }
        var extra = string.Join(' ', ConnectSources.Select(s => s.Trim()));
        var directives = ContentSecurityPolicy.Split(';').Select(d => d.Trim()).Where(d => d.Length > 0).ToList();
        var i = directives.FindIndex(d => d.Equals("connect-src", StringComparison.OrdinalIgnoreCase) || d.StartsWith("connect-src ", StringComparison.OrdinalIgnoreCase));
        if (i < 0)
        {
            directives.Add("connect-src 'self' " + extra);
        }
        else
        {
            directives[i] += " " + extra;
        }
        return string.Join("; ", directives);
    }

    /// <summary>One origin as a CSP host-source may hold it: http(s)/ws(s), a host, an optional port, nothing else.</summary>
    internal static bool IsConnectSource(string value) =>
        Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri)
        && uri.Scheme is "http" or "https" or "ws" or "wss"
        && uri.UserInfo.Length == 0 && uri.Query.Length == 0 && uri.Fragment.Length == 0 && uri.AbsolutePath == "/"
        && !value.Trim().EndsWith('/')
        && value.Trim().All(c => c > ' ' && c < 0x7f && c is not (';' or ',' or '\'' or '"'));
}

internal static class SecurityHeadersExtensions
{
    public static WebApplicationBuilder AddGhostChatSecurityHeaders(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<SecurityHeadersOptions>()
            .Bind(builder.Configuration.GetSection("GhostChat:SecurityHeaders"))
            .Validate(o => !string.IsNullOrWhiteSpace(o.ContentSecurityPolicy), "GhostChat:SecurityHeaders:ContentSecurityPolicy must not be empty.")
            .Validate(o => o.ConnectSources.All(SecurityHeadersOptions.IsConnectSource),
                "GhostChat:SecurityHeaders:ConnectSources must hold origins such as https://signal.example.org or wss://signal.example.org:8443 (http, https, ws or wss; no path).")
            .ValidateOnStart();
        return builder;
    }

    public static IApplicationBuilder UseGhostChatSecurityHeaders(this IApplicationBuilder app)
    {
        var options = app.ApplicationServices.GetRequiredService<IOptions<SecurityHeadersOptions>>().Value;
        var hsts = $"max-age={(long)options.HstsMaxAge.TotalSeconds}; includeSubDomains";
        var csp = options.EffectivePolicy();
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
                // Calls (web/src/ui/call.ts) use the camera, microphone and screen capture: our own origin only,
                // never a frame of another one.
                headers["Permissions-Policy"] = "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=(), usb=(), interest-cohort=()";
                headers["Cross-Origin-Opener-Policy"] = "same-origin";
                headers["Cross-Origin-Resource-Policy"] = "same-origin";
                if (ctx.Request.IsHttps)
                {
                    headers.StrictTransportSecurity = hstsValue;
                }
                return Task.CompletedTask;
            }, (context, csp, hsts));
            return next(context);
        });
    }
}
