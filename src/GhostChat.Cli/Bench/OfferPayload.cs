using System.Buffers.Text;
using System.Diagnostics;
using System.Text;

namespace GhostChat.Cli.Bench;

/// <summary>
/// Builds OFFER/ANSWER frames shaped like the official client's (an SDP of about 3 KB in
/// payload.sdp) with a send timestamp in payload.gcb, and reads the timestamp back from a relayed
/// frame. The SDP is made up here; only its size and character mix matter. With a message size the
/// SDP text is cut (or repeated) so that every OFFER/ANSWER frame is exactly that many bytes.
/// </summary>
internal static class OfferPayload
{
    private const int StampDigits = 19;
    private static readonly byte[] StampMarker = Encoding.UTF8.GetBytes("\"gcb\":\"");

    /// <summary>A realistic, JSON-escaped SDP text (about 3 KB).</summary>
    public static readonly string Sdp = BuildSdp();

    /// <summary>A frame template: the bytes of the JSON with a run of zeros where the stamp goes.</summary>
    internal sealed class Template
    {
        private readonly byte[] _bytes;
        private readonly int _stampAt;

        /// <param name="messageBytes">The frame's exact length in bytes; null: the whole ~3 KB SDP.</param>
        public Template(string type, string dst, string connectionId, int? messageBytes = null)
        {
            var json = Json(type, dst, connectionId, Sdp);
            if (messageBytes is { } wanted)
            {
                var around = json.Length - Sdp.Length;
                if (wanted < around)
                {
                    throw new BenchException($"--message-size {wanted} is less than the {around} bytes of an OFFER frame without SDP text.");
                }
                json = Json(type, dst, connectionId, SdpOfLength(wanted - around));
            }
            _bytes = Encoding.UTF8.GetBytes(json);
            _stampAt = _bytes.AsSpan().IndexOf(StampMarker) + StampMarker.Length;
        }

        public int Length => _bytes.Length;

        private static string Json(string type, string dst, string connectionId, string sdp)
            => "{\"type\":\"" + type + "\",\"dst\":\"" + dst + "\",\"payload\":{\"sdp\":{\"type\":\""
                + (type == "OFFER" ? "offer" : "answer") + "\",\"sdp\":\"" + sdp + "\"},\"type\":\"data\",\"connectionId\":\""
                + connectionId + "\",\"label\":\"" + connectionId + "\",\"reliable\":true,\"serialization\":\"binary\",\"gcb\":\""
                + new string('0', StampDigits) + "\"}}";

        /// <summary>A fresh frame stamped with <paramref name="timestamp"/> (Stopwatch ticks).</summary>
        public byte[] Stamp(long timestamp)
        {
            var frame = (byte[])_bytes.Clone();
            var digits = frame.AsSpan(_stampAt, StampDigits);
            Span<byte> text = stackalloc byte[20];
            Utf8Formatter.TryFormat(timestamp, text, out var written);
            digits.Fill((byte)'0');
            text[..written].CopyTo(digits[(StampDigits - written)..]);
            return frame;
        }
    }

    /// <summary>
    /// SDP text of exactly <paramref name="length"/> characters (ASCII, so as many bytes): the
    /// realistic one repeated or cut, never ending inside a JSON escape.
    /// </summary>
    internal static string SdpOfLength(int length)
    {
        var text = new StringBuilder(length + Sdp.Length);
        while (text.Length < length)
        {
            text.Append(Sdp);
        }
        text.Length = length;
        if (length > 0 && text[length - 1] == '\\')
        {
            text[length - 1] = ' '; // half of a "\\r" or "\\n" escape would make the JSON invalid
        }
        return text.ToString();
    }

    /// <summary>The stamp of a relayed frame, or -1 when it carries none.</summary>
    public static long ReadStamp(ReadOnlySpan<byte> frame)
    {
        var at = frame.LastIndexOf(StampMarker);
        if (at < 0 || frame.Length < at + StampMarker.Length + StampDigits) return -1;
        return Utf8Parser.TryParse(frame.Slice(at + StampMarker.Length, StampDigits), out long value, out var used) && used == StampDigits
            ? value
            : -1;
    }

    /// <summary>Milliseconds from a stamp to now.</summary>
    public static double MillisecondsSince(long stamp) => Stopwatch.GetElapsedTime(stamp).TotalMilliseconds;

    private static string BuildSdp()
    {
        var sdp = new StringBuilder();
        sdp.Append("v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\n");
        sdp.Append("a=group:BUNDLE 0\\r\\na=extmap-allow-mixed\\r\\na=msid-semantic: WMS\\r\\n");
        sdp.Append("m=application 9 UDP/DTLS/SCTP webrtc-datachannel\\r\\nc=IN IP4 0.0.0.0\\r\\n");
        for (var i = 0; i < 22; i++)
        {
            sdp.Append("a=candidate:").Append(1_467_250_027 + i).Append(" 1 udp ").Append(2_122_260_223 - i)
                .Append(" 192.0.2.").Append(10 + i).Append(' ').Append(50_000 + i).Append(" typ host generation 0 network-id ")
                .Append(i % 3 + 1).Append(" network-cost 10\\r\\n");
        }
        sdp.Append("a=ice-ufrag:Rk7s\\r\\na=ice-pwd:3nF0dZbC5L2s9YwTqP4xH8vG\\r\\na=ice-options:trickle\\r\\n");
        sdp.Append("a=fingerprint:sha-256 ");
        for (var i = 0; i < 32; i++) sdp.Append(i == 0 ? "" : ":").Append(((i * 37 + 11) & 0xFF).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
        sdp.Append("\\r\\na=setup:actpass\\r\\na=mid:0\\r\\na=sctp-port:5000\\r\\na=max-message-size:262144\\r\\n");
        return sdp.ToString();
    }
}
