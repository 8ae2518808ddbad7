using System.Text.Json.Serialization;

namespace GhostChat.Server.Ice;

internal sealed record IceError([property: JsonPropertyName("error")] string Error);
