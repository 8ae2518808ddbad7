using System.Buffers;

namespace GhostChat.Turn.Stun;

/// <summary>What <see cref="StreamFrameBuffer.TryNext"/> found.</summary>
internal enum StreamFrame
{
    /// <summary>A whole frame.</summary>
    Complete,

    /// <summary>Not a whole frame yet: read more.</summary>
    Incomplete,

    /// <summary>Neither STUN nor ChannelData: a byte stream cannot be resynchronised, so the caller closes it.</summary>
    OutOfSync,
}

/// <summary>
/// STUN and ChannelData over TCP or TLS (RFC 8489 §6.2.2, RFC 8656 §12.5; the framing RFC 4571 gives RTP, done by
/// the messages' own lengths): a STUN message is framed by its header's length, ChannelData by its length padded to
/// 4 bytes. One buffer per connection, used by both the server and the client: bytes are read into
/// <see cref="FreeSpace"/>, whole frames come out of <see cref="TryNext"/>. The buffer is rented from the shared
/// pool when bytes are about to arrive and given back by <see cref="Release"/> once every frame in it has been
/// handled, so an idle connection holds none; it starts at <c>initialSize</c> and grows, doubling, up to its cap
/// (the largest frame the owner accepts). Reading one frame allocates nothing.
/// </summary>
internal sealed class StreamFrameBuffer(int initialSize, int maxSize)
{
    private byte[]? _buffer;
    private int _filled;
    private int _consumed;

    /// <summary>The size of the buffer held now; 0 after <see cref="Release"/> (an idle connection holds nothing).</summary>
    public int Held => _buffer?.Length ?? 0;

    /// <summary>True when no byte waits: every frame read so far has been handed out.</summary>
    public bool IsEmpty => _filled == _consumed;

    /// <summary>
    /// Where the next read goes (the frames handed out so far are dropped first). Empty when the buffer is full at its
    /// cap: the frame being read is larger than the owner accepts, and the caller closes the stream.
    /// </summary>
    public Memory<byte> FreeSpace()
    {
        if (_buffer is null)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(initialSize);
            _filled = _consumed = 0;
        }
        if (_consumed > 0)
        {
            Buffer.BlockCopy(_buffer, _consumed, _buffer, 0, _filled - _consumed);
            _filled -= _consumed;
            _consumed = 0;
        }
        int cap = Math.Max(maxSize, initialSize);
        if (_filled >= Math.Min(_buffer.Length, cap))
        {
            if (_buffer.Length >= cap)
            {
                return Memory<byte>.Empty;
            }
            var larger = ArrayPool<byte>.Shared.Rent(Math.Min(_buffer.Length * 2, cap));
            _buffer.AsSpan(0, _filled).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }
        return _buffer.AsMemory(_filled, Math.Min(_buffer.Length, cap) - _filled);
    }

    /// <summary>Gives the buffer back to the pool when no byte waits in it (else keeps it); the next <see cref="FreeSpace"/> rents again.</summary>
    public void Release()
    {
        if (_buffer is not null && IsEmpty)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
            _filled = _consumed = 0;
        }
    }

    /// <summary>The stream has ended: drops what waits and gives the buffer back.</summary>
    public void Discard()
    {
        _consumed = _filled;
        Release();
    }

    /// <summary>Counts <paramref name="count"/> bytes just read into <see cref="FreeSpace"/>.</summary>
    public void Advance(int count) => _filled += count;

    /// <summary>
    /// The next whole frame, consumed. When there is none yet, <paramref name="frame"/> holds the bytes waiting (for
    /// callers that check a partial frame's header), and nothing is consumed.
    /// </summary>
    public StreamFrame TryNext(out ReadOnlySpan<byte> frame)
    {
        if (_buffer is null)
        {
            frame = default;
            return StreamFrame.Incomplete;
        }
        frame = _buffer.AsSpan(_consumed, _filled - _consumed);
        if (frame.Length < 4)
        {
            return StreamFrame.Incomplete;
        }
        int length = FrameLength(frame);
        if (length < 0)
        {
            return StreamFrame.OutOfSync;
        }
        if (length > frame.Length)
        {
            return StreamFrame.Incomplete;
        }
        frame = frame[..length];
        _consumed += length;
        return StreamFrame.Complete;
    }

    /// <summary>The length of the frame that starts <paramref name="head"/> (at least 4 bytes), or -1 when it is neither kind.</summary>
    public static int FrameLength(ReadOnlySpan<byte> head)
    {
        int length = (head[2] << 8) | head[3];
        return (head[0] & 0xC0) switch
        {
            0x40 => ChannelData.FrameLength(length, stream: true),
            0 => StunConst.HeaderSize + length,
            _ => -1,
        };
    }
}
