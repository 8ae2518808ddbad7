using System.Text;

namespace GhostChat.Server.Signaling.Cluster;

/// <summary>
/// What nodes say to each other on their pub/sub channels, and queue items, before
/// <see cref="ClusterTrust"/> seals them. Fields are separated by '\n' (ids never contain one); the
/// frame, which may, always comes last.
/// <list type="bullet">
/// <item><c>R\n{dst}\n{type}\n{src}\n{frame}</c> — relay a frame to a peer on the receiving node.</item>
/// <item><c>K\n{id}\n{sid}</c> — the id was taken over elsewhere: close session <c>sid</c>.</item>
/// <item><c>F\n{id}</c> — messages were queued for a peer on the receiving node: flush them.</item>
/// <item><c>M\n{id}</c> — on the broadcast channel: the id registered on the sending node; forget where it was.</item>
/// </list>
/// </summary>
internal static class ClusterMessages
{
    public static byte[] Relay(string dst, MessageType type, string src, byte[] frame)
    {
        var header = Encoding.UTF8.GetBytes($"R\n{dst}\n{(int)type}\n{src}\n");
        var bytes = new byte[header.Length + frame.Length];
        header.CopyTo(bytes, 0);
        frame.CopyTo(bytes, header.Length);
        return bytes;
    }

    public static byte[] Kick(string id, string sid) => Encoding.UTF8.GetBytes($"K\n{id}\n{sid}");

    public static byte[] Flush(string id) => Encoding.UTF8.GetBytes($"F\n{id}");

    public static byte[] Moved(string id) => Encoding.UTF8.GetBytes($"M\n{id}");

    /// <summary>A queued message: <c>{type}\n{src}\n{frame}</c>.</summary>
    public static byte[] QueueItem(MessageType type, string src, byte[] frame)
    {
        var header = Encoding.UTF8.GetBytes($"{(int)type}\n{src}\n");
        var bytes = new byte[header.Length + frame.Length];
        header.CopyTo(bytes, 0);
        frame.CopyTo(bytes, header.Length);
        return bytes;
    }

    public static bool TryParseQueueItem(ReadOnlySpan<byte> item, out MessageType type, out string src, out byte[] frame)
    {
        type = default;
        src = "";
        frame = [];
        var first = item.IndexOf((byte)'\n');
        var second = first < 0 ? -1 : item[(first + 1)..].IndexOf((byte)'\n');
        if (second < 0 || !int.TryParse(item[..first], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var t))
        {
            return false;
        }
        second += first + 1;
        type = (MessageType)t;
        src = Encoding.UTF8.GetString(item[(first + 1)..second]);
        frame = item[(second + 1)..].ToArray();
        return true;
    }

    /// <summary>Splits a channel message into its kind, up to three fields and the trailing frame.</summary>
    public static bool TryParse(ReadOnlySpan<byte> message, out char kind, out string[] fields, out byte[] frame)
    {
        kind = message.Length > 0 ? (char)message[0] : '\0';
        var expected = kind switch { 'R' => 3, 'K' => 2, 'F' or 'M' => 1, _ => -1 };
        fields = [];
        frame = [];
        if (expected < 0 || message.Length < 2 || message[1] != (byte)'\n')
        {
            return false;
        }
        var list = new List<string>(expected);
        var start = 2;
        for (var i = 0; i < expected; i++)
        {
            var end = message[start..].IndexOf((byte)'\n');
            end = end < 0 ? -1 : end + start;
            var last = i == expected - 1 && kind != 'R';
            if (last)
            {
                end = end < 0 ? message.Length : end;
            }
            if (end < 0)
            {
                return false;
            }
            list.Add(Encoding.UTF8.GetString(message[start..end]));
            start = end + 1;
        }
        fields = [.. list];
        if (kind == 'R')
        {
            frame = message[Math.Min(start, message.Length)..].ToArray();
        }
        return true;
    }
}
