using System.Text.Json.Serialization;

namespace GhostChat.Server.Ice;

internal sealed record IceResponse(
    [property: JsonPropertyName("iceServers")] IceServerDto[] IceServers,
    [property: JsonPropertyName("providers")] string[] Providers,
    [property: JsonPropertyName("expiresAt")] DateTimeOffset? ExpiresAt,
    [property: JsonPropertyName("relayOnly")] bool RelayOnly,
    [property: JsonPropertyName("maxFileBytes")] long MaxFileBytes,
    [property: JsonPropertyName("stunProbes"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string[]? StunProbes);
