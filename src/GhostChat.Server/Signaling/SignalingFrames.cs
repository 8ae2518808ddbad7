using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;
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

    /// <summary>
    /// The <c>dst</c> string (null when absent or not a string). Made on each read from
    /// <see cref="DstUtf8"/> unless it was escaped: the relay path reads <see cref="DstUtf8"/> instead.
    /// </summary>
    public string? Dst => EscapedDst ?? (DstIsString ? Encoding.UTF8.GetString(DstUtf8) : null);

    /// <summary>An escaped <c>dst</c>, unescaped (rare: the official client never escapes it).</summary>
    internal string? EscapedDst { get; init; }

    /// <summary><c>dst</c> is a string written without escapes: <see cref="DstUtf8"/> holds it (in the receive buffer).</summary>
    internal bool DstIsString { get; init; }

    /// <summary>The bytes of an unescaped <c>dst</c> string between its quotes (valid UTF-8); empty otherwise.</summary>
    public ReadOnlySpan<byte> DstUtf8 { get; init; }

    /// <summary>No <c>dst</c>, not a string, or the empty string — as <c>string.IsNullOrEmpty(Dst)</c>, without making the string.</summary>
    public bool DstIsNullOrEmpty => EscapedDst is null ? DstUtf8.IsEmpty : EscapedDst.Length == 0;

    public ReadOnlySpan<byte> Payload { get; init; }
    public bool HasPayload { get; init; }

    /// <summary><see cref="Dst"/> was written without escapes and only of characters that need none (<see cref="DstUtf8"/> is ASCII).</summary>
    public bool DstIsPlain { get; init; }
}

/// <summary>Parses client frames and builds server frames. No allocation in parsing but an escaped dst string.</summary>
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

    /// <summary>
    /// Parses one complete frame. Returns <see cref="MalformedKind.None"/> when it is a JSON object.
    /// </summary>
    /// <remarks>
    /// One pass over the bytes, no allocation but an escaped <c>dst</c>'s string: the whole frame is validated
    /// as strict JSON (RFC 8259: no comments, no trailing commas, one value, nesting at most
    /// <paramref name="maxDepth"/> containers) — the same verdicts as <see cref="Utf8JsonReader"/>,
    /// which the tests check frame by frame — but the payload is only skipped, strings by a
    /// vectorized search for their closing quote (UTF-8 validity is checked once, up front).
    /// Duplicate keys: the last one wins, as in <c>JSON.parse</c>. Escaped names and values are
    /// unescaped by <see cref="Utf8JsonReader"/> (rare: the official client never escapes them).
    /// </remarks>
    public static MalformedKind TryParse(ReadOnlySpan<byte> utf8, int maxDepth, out ClientFrame frame)
    {
        frame = default;
        if (!Utf8.IsValid(utf8))
        {
            return MalformedKind.InvalidUtf8;
        }
        if (maxDepth <= 0)
        {
            maxDepth = 64; // Utf8JsonReader's default for 0
        }

        var pos = SkipWhitespace(utf8, 0);
        if (pos == utf8.Length)
        {
            return MalformedKind.InvalidJson;
        }
        if (utf8[pos] != (byte)'{')
        {
            // Validate the rest so a broken primitive and a valid one are told apart in metrics.
            var error = SkipValue(utf8, ref pos, 0, maxDepth);
            if (error != MalformedKind.None)
            {
                return error;
            }
            return SkipWhitespace(utf8, pos) == utf8.Length ? MalformedKind.NotAnObject : MalformedKind.InvalidJson;
        }

        var type = MessageType.Unknown;
        string? escapedDst = null;
        var dstIsString = false;
        ReadOnlySpan<byte> dstUtf8 = default;
        var dstPlain = false;
        int payloadStart = -1, payloadEnd = -1;
        pos = SkipWhitespace(utf8, pos + 1);
        if (pos < utf8.Length && utf8[pos] == (byte)'}')
        {
            pos++;
        }
        else
        {
            while (true)
            {
                var nameStart = pos;
                if (!ScanMemberName(utf8, ref pos, out var nameEscaped))
                {
                    return MalformedKind.InvalidJson;
                }
                var name = Key(utf8[nameStart..pos], nameEscaped);
                pos = SkipWhitespace(utf8, pos);
                if (pos >= utf8.Length || utf8[pos] != (byte)':')
                {
                    return MalformedKind.InvalidJson;
                }
                pos = SkipWhitespace(utf8, pos + 1);
                if (pos >= utf8.Length)
                {
                    return MalformedKind.InvalidJson;
                }
                var valueStart = pos;
                var isString = utf8[pos] == (byte)'"';
                var valueEscaped = false;
                if (isString)
                {
                    if (!ScanString(utf8, ref pos, out valueEscaped))
                    {
                        return MalformedKind.InvalidJson;
                    }
                }
                else
                {
                    var error = SkipValue(utf8, ref pos, 1, maxDepth);
                    if (error != MalformedKind.None)
                    {
                        return error;
                    }
                }
                var value = utf8[valueStart..pos];
                switch (name)
                {
                    case Member.Type:
                        type = isString ? ReadType(value, valueEscaped) : MessageType.Unknown;
                        break;
                    case Member.Dst:
                        escapedDst = null;
                        dstUtf8 = default;
                        dstIsString = isString && !valueEscaped;
                        if (dstIsString)
                        {
                            dstUtf8 = value[1..^1];
                        }
                        else if (isString && !TryReadString(value, valueEscaped, out escapedDst))
                        {
                            return MalformedKind.InvalidJson; // an escaped lone surrogate: no string can hold it
                        }
                        dstPlain = isString && !valueEscaped && value[1..^1].IndexOfAnyExcept(PlainBytes) < 0;
                        break;
                    case Member.Payload:
                        (payloadStart, payloadEnd) = (valueStart, pos);
                        break;
                }

                pos = SkipWhitespace(utf8, pos);
                if (pos >= utf8.Length)
                {
                    return MalformedKind.InvalidJson;
                }
                if (utf8[pos] == (byte)',')
                {
                    pos = SkipWhitespace(utf8, pos + 1);
                    continue;
                }
                if (utf8[pos] != (byte)'}')
                {
                    return MalformedKind.InvalidJson;
                }
                pos++;
                break;
            }
        }

        // Anything after the closing brace but whitespace is an error.
        if (SkipWhitespace(utf8, pos) != utf8.Length)
        {
            return MalformedKind.InvalidJson;
        }

        frame = new ClientFrame
        {
            Type = type,
            EscapedDst = escapedDst,
            DstIsString = dstIsString,
            DstUtf8 = dstUtf8,
            DstIsPlain = dstPlain,
            HasPayload = payloadStart >= 0,
            Payload = payloadStart >= 0 ? utf8[payloadStart..payloadEnd] : default,
        };
        return MalformedKind.None;
    }

    private enum Member
    {
        Other,
        Type,
        Dst,
        Payload,
    }

    /// <summary>Bytes a JSON string may not hold unescaped, and its quote and escape character.</summary>
    private static readonly SearchValues<byte> StringSpecial = SearchValues.Create(
        [.. Enumerable.Range(0, 0x20).Select(static b => (byte)b), (byte)'"', (byte)'\\']);

    /// <summary>
    /// Characters <see cref="Utf8JsonWriter"/> writes as they are with <see cref="WriterOptions"/> (the
    /// peer id alphabet and a little more): a string of only these needs no escaping.
    /// </summary>
    private const string Plain = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 -_.";

    private static readonly SearchValues<byte> PlainBytes = SearchValues.Create(Encoding.ASCII.GetBytes(Plain));
    private static readonly SearchValues<char> PlainChars = SearchValues.Create(Plain);

    private static int SkipWhitespace(ReadOnlySpan<byte> utf8, int pos)
    {
        while (pos < utf8.Length && utf8[pos] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r')
        {
            pos++;
        }
        return pos;
    }

    /// <summary>A quoted string starting at <paramref name="pos"/>; on success <paramref name="pos"/> is past its closing quote.</summary>
    private static bool ScanString(ReadOnlySpan<byte> utf8, ref int pos, out bool escaped)
    {
        escaped = false;
        var i = pos + 1;
        while (true)
        {
            var next = i < utf8.Length ? utf8[i..].IndexOfAny(StringSpecial) : -1;
            if (next < 0)
            {
                return false;
            }
            i += next;
            var c = utf8[i];
            if (c == (byte)'"')
            {
                pos = i + 1;
                return true;
            }
            if (c != (byte)'\\' || ++i >= utf8.Length)
            {
                return false; // a control character, or a backslash at the end
            }
            escaped = true;
            switch (utf8[i])
            {
                case (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t':
                    i++;
                    break;
                case (byte)'u':
                    if (i + 4 >= utf8.Length || !IsHex(utf8[i + 1]) || !IsHex(utf8[i + 2]) || !IsHex(utf8[i + 3]) || !IsHex(utf8[i + 4]))
                    {
                        return false;
                    }
                    i += 5;
                    break;
                default:
                    return false;
            }
        }
    }

    private static bool IsHex(byte b) => char.IsAsciiHexDigit((char)b);

    /// <summary>A member name, the whitespace after it and its colon are left to the caller.</summary>
    private static bool ScanMemberName(ReadOnlySpan<byte> utf8, ref int pos, out bool escaped)
    {
        escaped = false;
        return pos < utf8.Length && utf8[pos] == (byte)'"' && ScanString(utf8, ref pos, out escaped);
    }

    private static Member Key(ReadOnlySpan<byte> quoted, bool escaped)
    {
        if (!escaped)
        {
            var name = quoted[1..^1];
            return name.SequenceEqual("type"u8) ? Member.Type
                : name.SequenceEqual("dst"u8) ? Member.Dst
                : name.SequenceEqual("payload"u8) ? Member.Payload
                : Member.Other;
        }
        var reader = Unescaper(quoted);
        return reader.ValueTextEquals("type"u8) ? Member.Type
            : reader.ValueTextEquals("dst"u8) ? Member.Dst
            : reader.ValueTextEquals("payload"u8) ? Member.Payload
            : Member.Other;
    }

    /// <summary>A reader positioned on one already validated string token, to unescape it.</summary>
    private static Utf8JsonReader Unescaper(ReadOnlySpan<byte> quoted)
    {
        var reader = new Utf8JsonReader(quoted);
        reader.Read();
        return reader;
    }

    private static MessageType ReadType(ReadOnlySpan<byte> quoted, bool escaped)
    {
        if (escaped)
        {
            var reader = Unescaper(quoted);
            return ReadType(ref reader);
        }
        var name = quoted[1..^1];
        return name.SequenceEqual("HEARTBEAT"u8) ? MessageType.Heartbeat
            : name.SequenceEqual("OFFER"u8) ? MessageType.Offer
            : name.SequenceEqual("ANSWER"u8) ? MessageType.Answer
            : name.SequenceEqual("CANDIDATE"u8) ? MessageType.Candidate
            : name.SequenceEqual("LEAVE"u8) ? MessageType.Leave
            : name.SequenceEqual("EXPIRE"u8) ? MessageType.Expire
            : MessageType.Unknown;
    }

    /// <summary>
    /// The string's value; false when its escapes make no valid UTF-16 (a lone surrogate such as
    /// <c>\ud800</c>, which JSON's grammar allows). Before the scanner, that threw out of the parser
    /// and ended the sender's session with an unhandled exception; now it is a malformed frame.
    /// </summary>
    private static bool TryReadString(ReadOnlySpan<byte> quoted, bool escaped, [NotNullWhen(true)] out string? value)
    {
        if (!escaped)
        {
            value = Encoding.UTF8.GetString(quoted[1..^1]);
            return true;
        }
        var reader = Unescaper(quoted);
        try
        {
            value = reader.GetString()!;
            return true;
        }
        catch (InvalidOperationException)
        {
            value = null;
            return false;
        }
    }

    /// <summary>
    /// Skips one value (ws before it already skipped) at <paramref name="pos"/>, inside
    /// <paramref name="depth"/> open containers. Containers are walked without recursion.
    /// </summary>
    private static MalformedKind SkipValue(ReadOnlySpan<byte> utf8, ref int pos, int depth, int maxDepth)
    {
        var room = maxDepth - depth;
        Span<bool> isObject = room <= 256 ? stackalloc bool[256] : new bool[room]; // the open containers of this value
        var open = 0;
        while (true)
        {
            // At a value.
            if (pos >= utf8.Length)
            {
                return MalformedKind.InvalidJson;
            }
            var c = utf8[pos];
            if (c is (byte)'{' or (byte)'[')
            {
                if (depth + open >= maxDepth)
                {
                    return MalformedKind.TooDeep;
                }
                isObject[open++] = c == (byte)'{';
                pos = SkipWhitespace(utf8, pos + 1);
                if (pos < utf8.Length && utf8[pos] == (c == (byte)'{' ? (byte)'}' : (byte)']'))
                {
                    pos++;
                    open--;
                }
                else
                {
                    if (c == (byte)'{' && !SkipNameAndColon(utf8, ref pos))
                    {
                        return MalformedKind.InvalidJson;
                    }
                    continue;
                }
            }
            else if (!SkipScalar(utf8, ref pos))
            {
                return MalformedKind.InvalidJson;
            }

            // After a value: close containers until one goes on with a comma.
            while (true)
            {
                if (open == 0)
                {
                    return MalformedKind.None;
                }
                pos = SkipWhitespace(utf8, pos);
                if (pos >= utf8.Length)
                {
                    return MalformedKind.InvalidJson;
                }
                var inObject = isObject[open - 1];
                c = utf8[pos];
                if (c == (byte)',')
                {
                    pos = SkipWhitespace(utf8, pos + 1);
                    if (inObject && !SkipNameAndColon(utf8, ref pos))
                    {
                        return MalformedKind.InvalidJson;
                    }
                    break;
                }
                if (c != (inObject ? (byte)'}' : (byte)']'))
                {
                    return MalformedKind.InvalidJson;
                }
                pos++;
                open--;
            }
        }
    }

    /// <summary>A member name, its colon and the whitespace up to its value.</summary>
    private static bool SkipNameAndColon(ReadOnlySpan<byte> utf8, ref int pos)
    {
        if (!ScanMemberName(utf8, ref pos, out _))
        {
            return false;
        }
        pos = SkipWhitespace(utf8, pos);
        if (pos >= utf8.Length || utf8[pos] != (byte)':')
        {
            return false;
        }
        pos = SkipWhitespace(utf8, pos + 1);
        return true;
    }

    /// <summary>A string, number, <c>true</c>, <c>false</c> or <c>null</c>.</summary>
    private static bool SkipScalar(ReadOnlySpan<byte> utf8, ref int pos)
    {
        var rest = utf8[pos..];
        switch (rest[0])
        {
            case (byte)'"':
                return ScanString(utf8, ref pos, out _);
            case (byte)'t':
                return SkipLiteral(rest, "true"u8, ref pos);
            case (byte)'f':
                return SkipLiteral(rest, "false"u8, ref pos);
            case (byte)'n':
                return SkipLiteral(rest, "null"u8, ref pos);
            default:
                return SkipNumber(utf8, ref pos);
        }
    }

    private static bool SkipLiteral(ReadOnlySpan<byte> rest, ReadOnlySpan<byte> literal, ref int pos)
    {
        if (!rest.StartsWith(literal))
        {
            return false;
        }
        pos += literal.Length;
        return true;
    }

    /// <summary><c>-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?</c>; what follows is the caller's to check.</summary>
    private static bool SkipNumber(ReadOnlySpan<byte> utf8, ref int pos)
    {
        var i = pos;
        if (utf8[i] == (byte)'-' && ++i >= utf8.Length)
        {
            return false;
        }
        if (utf8[i] == (byte)'0')
        {
            i++;
        }
        else if (utf8[i] is >= (byte)'1' and <= (byte)'9')
        {
            i = SkipDigits(utf8, i + 1);
        }
        else
        {
            return false;
        }
        if (i < utf8.Length && utf8[i] == (byte)'.')
        {
            var digits = SkipDigits(utf8, i + 1);
            if (digits == i + 1)
            {
                return false;
            }
            i = digits;
        }
        if (i < utf8.Length && utf8[i] is (byte)'e' or (byte)'E')
        {
            i++;
            if (i < utf8.Length && utf8[i] is (byte)'+' or (byte)'-')
            {
                i++;
            }
            var digits = SkipDigits(utf8, i);
            if (digits == i)
            {
                return false;
            }
            i = digits;
        }
        pos = i;
        return true;
    }

    private static int SkipDigits(ReadOnlySpan<byte> utf8, int i)
    {
        while (i < utf8.Length && char.IsAsciiDigit((char)utf8[i]))
        {
            i++;
        }
        return i;
    }

    /// <summary>The type a string token names (unescaped by the reader).</summary>
    internal static MessageType ReadType(ref Utf8JsonReader reader)
    {
        if (reader.ValueTextEquals("HEARTBEAT"u8)) return MessageType.Heartbeat;
        if (reader.ValueTextEquals("OFFER"u8)) return MessageType.Offer;
        if (reader.ValueTextEquals("ANSWER"u8)) return MessageType.Answer;
        if (reader.ValueTextEquals("CANDIDATE"u8)) return MessageType.Candidate;
        if (reader.ValueTextEquals("LEAVE"u8)) return MessageType.Leave;
        if (reader.ValueTextEquals("EXPIRE"u8)) return MessageType.Expire;
        return MessageType.Unknown;
    }

    /// <summary>
    /// The relayed frame <c>{"type","src","dst"[,"payload"]}</c> as a byte array: <see cref="TryRelay"/>'s
    /// copy when it applies, else <see cref="Build"/> (a JSON writer, which escapes).
    /// </summary>
    public static byte[] BuildRelay(MessageType type, string src, in ClientFrame frame)
        => TryRelay(type, src, frame, out var relay) ? relay.ToArray() : Build(type, src, frame.Dst, frame.Payload, frame.HasPayload);

    /// <summary>
    /// The relayed frame, to be copied together without a JSON writer — byte for byte what
    /// <see cref="Build"/> writes — when <paramref name="src"/> and the parsed <c>dst</c> need no
    /// escaping (ids always; see <see cref="ClientFrame.DstIsPlain"/>). False otherwise.
    /// </summary>
    public static bool TryRelay(MessageType type, string src, in ClientFrame frame, out RelayFrame relay)
    {
        if (!frame.DstIsPlain || src.AsSpan().IndexOfAnyExcept(PlainChars) >= 0)
        {
            relay = default;
            return false;
        }
        relay = new RelayFrame(type, src, frame.DstUtf8, frame.Payload, frame.HasPayload);
        return true;
    }

    /// <summary>Writes <paramref name="relay"/> into <paramref name="destination"/> (<see cref="RelayFrame.Length"/> bytes).</summary>
    internal static void WriteRelay(in RelayFrame relay, Span<byte> destination)
    {
        var span = destination;
        Append(ref span, """{"type":"""u8);
        AppendQuoted(ref span, TypeNameUtf8(relay.Type));
        Append(ref span, ""","src":"""u8);
        span[0] = (byte)'"';
        span = span[(1 + Encoding.ASCII.GetBytes(relay.Src.AsSpan(), span[1..]))..];
        span[0] = (byte)'"';
        span = span[1..];
        Append(ref span, ""","dst":"""u8);
        AppendQuoted(ref span, relay.Dst);
        if (relay.HasPayload)
        {
            Append(ref span, ""","payload":"""u8);
            Append(ref span, relay.Payload);
        }
        span[0] = (byte)'}';
    }

    internal static int RelayLength(MessageType type, int srcLength, int dstLength, int payloadLength, bool hasPayload)
        => """{"type":"""u8.Length + TypeNameUtf8(type).Length + 2 + ""","src":"""u8.Length + srcLength + 2 + ""","dst":"""u8.Length + dstLength + 2
            + (hasPayload ? ""","payload":"""u8.Length + payloadLength : 0) + 1;

    private static void Append(ref Span<byte> destination, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(destination);
        destination = destination[bytes.Length..];
    }

    private static void AppendQuoted(ref Span<byte> destination, ReadOnlySpan<byte> bytes)
    {
        destination[0] = (byte)'"';
        bytes.CopyTo(destination[1..]);
        destination[bytes.Length + 1] = (byte)'"';
        destination = destination[(bytes.Length + 2)..];
    }

    private static ReadOnlySpan<byte> TypeNameUtf8(MessageType type) => type switch
    {
        MessageType.Heartbeat => "HEARTBEAT"u8,
        MessageType.Offer => "OFFER"u8,
        MessageType.Answer => "ANSWER"u8,
        MessageType.Candidate => "CANDIDATE"u8,
        MessageType.Leave => "LEAVE"u8,
        MessageType.Expire => "EXPIRE"u8,
        _ => "UNKNOWN"u8,
    };

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

/// <summary>
/// A relayed frame <c>{"type","src","dst"[,"payload"]}</c> not yet written anywhere: its parts point
/// into the receive buffer (valid until the next receive), so it is written straight into the
/// destination's outgoing buffer, or copied to a byte array (<see cref="ToArray"/>) when it has to wait.
/// Made by <see cref="SignalingFrames.TryRelay"/> only when no part needs escaping.
/// </summary>
internal readonly ref struct RelayFrame
{
    internal RelayFrame(MessageType type, string src, ReadOnlySpan<byte> dst, ReadOnlySpan<byte> payload, bool hasPayload)
    {
        Type = type;
        Src = src;
        Dst = dst;
        Payload = payload;
        HasPayload = hasPayload;
        Length = SignalingFrames.RelayLength(type, src.Length, dst.Length, payload.Length, hasPayload);
    }

    public MessageType Type { get; }
    public string Src { get; }
    public ReadOnlySpan<byte> Dst { get; }
    public ReadOnlySpan<byte> Payload { get; }
    public bool HasPayload { get; }

    /// <summary>The frame's length in bytes (its WebSocket payload).</summary>
    public int Length { get; }

    public void WriteTo(Span<byte> destination) => SignalingFrames.WriteRelay(this, destination);

    public byte[] ToArray()
    {
        var result = GC.AllocateUninitializedArray<byte>(Length);
        WriteTo(result);
        return result;
    }
}
