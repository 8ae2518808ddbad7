using System.Text.Json.Serialization;
using GhostChat.Server.Signaling;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Ice;

/// <summary>A minimal <c>GET /api/ice</c>: the configured servers, no expiry, not relay-only.</summary>
internal static class IceExtensions
{
    private const string CorsPolicy = "GhostChat.Ice";

    public static WebApplicationBuilder AddGhostChatIce(this WebApplicationBuilder builder)
    {
        // Readable cross-origin by the same origins as the signaling broker (any, unless
        // GhostChat:Signaling:AllowedOrigins lists them), so a web app served elsewhere can use this server.
        builder.Services.AddCors();
        builder.Services.AddOptions<CorsOptions>().Configure<IOptions<SignalingOptions>>((cors, signaling) =>
            cors.AddPolicy(CorsPolicy, policy => policy.AllowSignalingOrigins(signaling.Value).WithMethods("GET")));
        builder.Services.AddOptions<IceOptions>()
            .Bind(builder.Configuration.GetSection(IceOptions.SectionName))
            .Validate(IceValidation.IsValid, "GhostChat:Ice:Servers: every server needs at least one stun:, stuns:, turn: or turns: URL, and turn servers need Username and Credential.")
            .ValidateOnStart();
        return builder;
    }

    public static WebApplication MapGhostChatIce(this WebApplication app)
    {
        app.MapGet("/api/ice", (IOptionsMonitor<IceOptions> options, HttpContext context) =>
        {
            context.Response.Headers.CacheControl = "no-store";
            var servers = options.CurrentValue.Servers
                .Select(s => new IceServerDto([.. s.Urls], s.Username, s.Credential))
                .ToArray();
            return Results.Json(new IceResponse(servers, null, false), IceJsonContext.Default.IceResponse);
        }).RequireCors(CorsPolicy);
        return app;
    }
}

internal static class IceValidation
{
    private static readonly string[] Schemes = ["stun:", "stuns:", "turn:", "turns:"];

    public static bool IsValid(IceOptions options) => options.Servers.All(server =>
        server.Urls.Count > 0
        && server.Urls.All(u => Schemes.Any(s => u.StartsWith(s, StringComparison.OrdinalIgnoreCase)) && u.Length > 6)
        && (!server.Urls.Any(u => u.StartsWith("turn", StringComparison.OrdinalIgnoreCase))
            || (!string.IsNullOrEmpty(server.Username) && !string.IsNullOrEmpty(server.Credential))));
}

internal sealed record IceServerDto(
    [property: JsonPropertyName("urls")] string[] Urls,
    [property: JsonPropertyName("username"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Username,
    [property: JsonPropertyName("credential"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Credential);

internal sealed record IceResponse(
    [property: JsonPropertyName("iceServers")] IceServerDto[] IceServers,
    [property: JsonPropertyName("expiresAt")] DateTimeOffset? ExpiresAt,
    [property: JsonPropertyName("relayOnly")] bool RelayOnly);

[JsonSerializable(typeof(IceResponse))]
internal sealed partial class IceJsonContext : JsonSerializerContext;
