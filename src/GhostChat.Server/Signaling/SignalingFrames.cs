using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;

namespace GhostChat.Server.Signaling;

/// <summary>Message types of the PeerJS protocol that the broker acts on.</summary>
internal enum MessageType
{
    Unknown,
    Heartbeat,
    Offer,
    Answer,
    Candidate,
    Leave,
    Expire,
}

/// <summary>Why a frame was refused as malformed (a metric tag; never the content).</summary>
internal enum MalformedKind
{
    None,
    TooLarge,
    InvalidUtf8,
    InvalidJson,
    NotAnObject,
    TooDeep,
}

/// <summary>
/// A parsed client frame. <see cref="Payload"/> is the raw JSON text of the payload value, relayed
/// untouched; it points into the receive buffer and is valid only until the next receive.
/// </summary>
internal readonly ref struct ClientFrame
{
    public MessageType Type { get; init; }
    public string? Dst { get; init; }
    public ReadOnlySpan<byte> Payload { get; init; }
    public bool HasPayload { get; init; }
}

/// <summary>Parses client frames and builds server frames. No allocation besides the dst string and the output.</summary>
internal static class SignalingFrames
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Match JSON.stringify: no HTML-escaping of '<', '>', '&', '\''; ids are validated anyway.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    public static readonly byte[] Open = """{"type":"OPEN"}"""u8.ToArray();
    public static readonly byte[] IdTaken = """{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}"""u8.ToArray();

    public static string TypeName(MessageType type) => type switch
    {
        MessageType.Heartbeat => "HEARTBEAT",
        MessageType.Offer => "OFFER",
        MessageType.Answer => "ANSWER",
        MessageType.Candidate => "CANDIDATE",
        MessageType.Leave => "LEAVE",
        MessageType.Expire => "EXPIRE",
        _ => "UNKNOWN",
    };

    /// <summary>Parses one complete frame. Returns <see cref="MalformedKind.None"/> when it is a JSON object.</summary>
    public static MalformedKind TryParse(ReadOnlySpan<byte> utf8, int maxDepth, out ClientFrame frame)
    {
        frame = default;
        if (!Utf8.IsValid(utf8))
        {
            return MalformedKind.InvalidUtf8;
        }

        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = maxDepth, CommentHandling = JsonCommentHandling.Disallow });
        var type = MessageType.Unknown;
        string? dst = null;
        int payloadStart = -1, payloadEnd = -1;
        try
        {
            if (!reader.Read())
            {
                return MalformedKind.InvalidJson;
            }
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                // Validate the rest so a broken primitive and a valid one are told apart in metrics.
                reader.Skip();
                return reader.Read() ? MalformedKind.InvalidJson : MalformedKind.NotAnObject;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    type = reader.TokenType == JsonTokenType.String ? ReadType(ref reader) : MessageType.Unknown;
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("dst"u8))
                {
                    reader.Read();
                    dst = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("payload"u8))
                {
                    reader.Read();
                    payloadStart = (int)reader.TokenStartIndex;
                    reader.Skip();
                    payloadEnd = (int)reader.BytesConsumed;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            // The object must be closed, and anything after the closing brace but whitespace is an error.
            if (reader.TokenType != JsonTokenType.EndObject || reader.CurrentDepth != 0 || reader.Read())
            {
                return MalformedKind.InvalidJson;
            }
        }
        catch (JsonException ex)
        {
            // The reader fails at the nesting limit itself; "Expected depth to be zero" (unclosed object) is not that.
            var tooDeep = reader.CurrentDepth >= maxDepth - 1 && ex.Message.Contains("maximum configured depth", StringComparison.Ordinal);
            return tooDeep ? MalformedKind.TooDeep : MalformedKind.InvalidJson;
        }

        frame = new ClientFrame
        {
            Type = type,
            Dst = dst,
            HasPayload = payloadStart >= 0,
            Payload = payloadStart >= 0 ? utf8[payloadStart..payloadEnd] : default,
        };
        return MalformedKind.None;
    }

    private static MessageType ReadType(ref Utf8JsonReader reader)
    {
        if (reader.ValueTextEquals("HEARTBEAT"u8)) return MessageType.Heartbeat;
        if (reader.ValueTextEquals("OFFER"u8)) return MessageType.Offer;
        if (reader.ValueTextEquals("ANSWER"u8)) return MessageType.Answer;
        if (reader.ValueTextEquals("CANDIDATE"u8)) return MessageType.Candidate;
        if (reader.ValueTextEquals("LEAVE"u8)) return MessageType.Leave;
        if (reader.ValueTextEquals("EXPIRE"u8)) return MessageType.Expire;
        return MessageType.Unknown;
    }

    /// <summary>Builds <c>{"type","src","dst","payload"}</c> in the reference's key order, omitting absent fields.</summary>
    public static byte[] Build(MessageType type, string? src, string? dst, ReadOnlySpan<byte> payload, bool hasPayload)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(4096);
        buffer.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("type"u8, TypeName(type));
            if (src is not null)
            {
                writer.WriteString("src"u8, src);
            }
            if (dst is not null)
            {
                writer.WriteString("dst"u8, dst);
            }
            if (hasPayload)
            {
                writer.WritePropertyName("payload"u8);
                writer.WriteRawValue(payload, skipInputValidation: true);
            }
            writer.WriteEndObject();
        }
        var result = buffer.WrittenSpan.ToArray();
        if (buffer.Capacity > 256 * 1024)
        {
            t_buffer = null; // do not keep a huge buffer alive after a rare large frame
        }
        return result;
    }

    /// <summary><c>{"type":"ERROR","payload":{"msg":...}}</c>.</summary>
    public static byte[] Error(string message)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("type"u8, "ERROR");
            writer.WriteStartObject("payload"u8);
            writer.WriteString("msg"u8, message);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The EXPIRE the broker generates: <c>{"type":"EXPIRE","src":unreachable,"dst":sender}</c>.</summary>
    public static byte[] Expire(string unreachable, string sender) => Build(MessageType.Expire, unreachable, sender, default, hasPayload: false);
}
