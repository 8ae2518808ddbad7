using System.Text.Json.Serialization;

namespace GhostChat.Server.Ice;

[JsonSerializable(typeof(IceResponse))]
[JsonSerializable(typeof(IceError))]
internal sealed partial class IceJsonContext : JsonSerializerContext;
