using GhostChat.Server.EmbeddedTurn;
using GhostChat.Server.Files;
using GhostChat.Server.Ice;
using GhostChat.Server.Network;
using GhostChat.Server.Ops;
using GhostChat.Server.Security;
using GhostChat.Server.Signaling;
using GhostChat.Server.Signaling.Cluster;
using GhostChat.Server.Telemetry;
using GhostChat.Server.Web;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Hosting;

/// <summary>
/// The composition root: it wires features and holds no protocol logic. Tests build the same
/// application through <see cref="Build"/> with their own configuration.
/// </summary>
public static class GhostChatHost
{
    /// <summary>Where the server listens unless told otherwise.</summary>
    public const string DefaultUrl = "http://localhost:8080";

    /// <summary>Builds the application. <paramref name="configure"/> lets tests replace services or configuration.</summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

        // Tests add configuration and replace services first; features register with TryAdd*.
        configure?.Invoke(builder);

        // --urls, Urls or ASPNETCORE_URLS choose the addresses; otherwise the documented default.
        if (string.IsNullOrWhiteSpace(builder.Configuration["urls"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
            builder.Configuration["urls"] = DefaultUrl;
        }
        builder.Host.UseSystemd();

        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.AddGhostChatNetwork();
        builder.AddGhostChatTls();
        builder.AddGhostChatSecurityHeaders();
        builder.AddGhostChatOps();
        builder.AddGhostChatSignaling().UseRedis();
        builder.AddGhostChatTurn();
        builder.AddGhostChatIce();
        builder.AddGhostChatFiles();
        builder.AddGhostChatTelemetry();
        builder.AddGhostChatWeb();

        var app = builder.Build();
        app.UseGhostChatForwardedHeaders();
        app.UseGhostChatTls();
        app.UseGhostChatSecurityHeaders();
        app.MapGhostChatOps();
        app.MapGhostChatSignaling();
        app.MapGhostChatIce();
        app.MapGhostChatFiles();
        app.MapGhostChatTelemetry();
        app.MapGhostChatWeb();
        return app;
    }

    /// <summary>Runs the server until it is stopped; returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        try
        {
            await using var app = Build(args);
            app.Lifetime.ApplicationStarted.Register(() => AnnounceAddresses(app));
            await app.RunAsync();
            return 0;
        }
        catch (OptionsValidationException ex)
        {
            return ConfigurationError(string.Join(Environment.NewLine, ex.Failures.Select(f => "  - " + f)));
        }
        catch (InvalidOperationException ex) when (ex.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal))
        {
            return ConfigurationError("  - " + ex.Message + (ex.InnerException is null ? "" : " (" + ex.InnerException.Message + ")"));
        }
        catch (TurnPortInUseException ex)
        {
            await Console.Error.WriteLineAsync($"GhostChat could not start: {ex.Message}. Stop that program, choose other ports with those settings, or run without the embedded TURN server (GhostChat__Turn__Enabled=false; see README, Configuration).");
            return 1;
        }
        catch (IOException ex) when (ex.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
        {
            await Console.Error.WriteLineAsync($"GhostChat could not start: {ex.Message.TrimEnd('.')}. Another program is using that port; pass --urls http://localhost:PORT to choose another.");
            return 1;
        }
    }

    private static int ConfigurationError(string details)
    {
        Console.Error.WriteLine("GhostChat could not start because its configuration is invalid:");
        Console.Error.WriteLine(details);
        Console.Error.WriteLine("Fix appsettings.json or the GhostChat__* environment variables and start again (see README, Configuration).");
        return 1;
    }

    private static void AnnounceAddresses(WebApplication app)
    {
        foreach (var url in app.Urls)
        {
            // The server's own listening address, not a client's: fine to print at any level.
            Console.WriteLine($"GhostChat is running. Open {url} in your browser.");
        }
    }
}
