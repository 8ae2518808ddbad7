using System.Buffers.Binary;

namespace GhostChat.Turn.Stun;

/// <summary>
/// ChannelData (RFC 8656 §12.4): a channel number, the data's length, the data; over TCP and TLS padded to a multiple
/// of 4 bytes (§12.5), over UDP not. The one encoder of the server's relay and of the client.
/// </summary>
internal static class ChannelData
{
    /// <summary>Channel number and length.</summary>
    public const int HeaderSize = 4;

    /// <summary>The whole message's length for <paramref name="dataLength"/> bytes of data.</summary>
    public static int FrameLength(int dataLength, bool stream) => stream ? (HeaderSize + dataLength + 3) & ~3 : HeaderSize + dataLength;

    /// <summary>
    /// Frames data the caller has already put at <c>frame[4..]</c>: writes the header and clears the padding. Returns
    /// the message's length.
    /// </summary>
    public static int Frame(Span<byte> frame, ushort channel, int dataLength, bool stream)
    {
        BinaryPrimitives.WriteUInt16BigEndian(frame, channel);
        BinaryPrimitives.WriteUInt16BigEndian(frame[2..], (ushort)dataLength);
        int total = FrameLength(dataLength, stream);
        frame[(HeaderSize + dataLength)..total].Clear();
        return total;
    }
}
