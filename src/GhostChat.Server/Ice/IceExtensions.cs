using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Ice;

/// <summary>A minimal <c>GET /api/ice</c>: the configured servers, no expiry, not relay-only.</summary>
internal static class IceExtensions
{
    public static WebApplicationBuilder AddGhostChatIce(this WebApplicationBuilder builder)
    {
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
        });
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
