namespace GhostChat.Server.Web;

/// <summary>Serves the browser app. Until the web app is built, a plain page says so.</summary>
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

    public static WebApplicationBuilder AddGhostChatWeb(this WebApplicationBuilder builder) => builder;

    public static WebApplication MapGhostChatWeb(this WebApplication app)
    {
        app.MapGet("/", () => Results.Content(PlaceholderPage, "text/html; charset=utf-8"));
        return app;
    }
}
