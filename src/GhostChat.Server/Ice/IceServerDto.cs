using System.Text.Json.Serialization;

namespace GhostChat.Server.Ice;

internal sealed record IceServerDto(
    [property: JsonPropertyName("urls")] string[] Urls,
    [property: JsonPropertyName("username"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Username,
    [property: JsonPropertyName("credential"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Credential);
