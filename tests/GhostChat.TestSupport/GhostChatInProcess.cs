using GhostChat.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace GhostChat.Testing;

/// <summary>
/// The real GhostChat server — the product's own composition root, <see cref="GhostChatHost.Build"/> — started in the
/// test process on loopback with an ephemeral port unless told otherwise. Configuration keys come from the test
/// (they win over appsettings.json); the console logger is removed. Dispose the returned app to stop it.
/// </summary>
public static class GhostChatInProcess
{
    /// <param name="settings">Configuration keys such as <c>GhostChat:Turn:Enabled</c>.</param>
    /// <param name="urls">What Kestrel binds.</param>
    /// <param name="configure">More for the builder: a logger provider, a fake <see cref="TimeProvider"/>.</param>
    public static async Task<WebApplication> StartAsync(IDictionary<string, string?> settings, string urls = "http://127.0.0.1:0", Action<WebApplicationBuilder>? configure = null)
    {
        var app = GhostChatHost.Build(["--urls", urls], builder =>
        {
            builder.Configuration.AddInMemoryCollection(settings);
            builder.Logging.ClearProviders();
            configure?.Invoke(builder);
        });
        try
        {
            await app.StartAsync();
            return app;
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }
}
