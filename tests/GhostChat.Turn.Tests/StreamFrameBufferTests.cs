using GhostChat.Turn.Stun;

namespace GhostChat.Turn.Tests;

/// <summary>The stream framer's pooled buffer: held only while bytes wait, never losing a partial frame.</summary>
public sealed class StreamFrameBufferTests
{
    [Fact]
    public void Release_AfterEveryFrameHandled_HoldsNothingUntilTheNextRead()
    {
        var frames = new StreamFrameBuffer(64, 1024);
        Assert.Equal(0, frames.Held);
        Write(frames, Stun(8));
        Assert.Equal(StreamFrame.Complete, frames.TryNext(out var frame));
        Assert.Equal(28, frame.Length);
        Assert.True(frames.IsEmpty);
        frames.Release();
        Assert.Equal(0, frames.Held);
        Assert.Equal(StreamFrame.Incomplete, frames.TryNext(out _));

        Write(frames, Stun(4));
        Assert.True(frames.Held >= 64);
        Assert.Equal(StreamFrame.Complete, frames.TryNext(out frame));
        Assert.Equal(24, frame.Length);
    }

    [Fact]
    public void Release_WithAPartialFrameWaiting_KeepsItsBytes()
    {
        var frames = new StreamFrameBuffer(64, 1024);
        var message = Stun(40);
        message[^1] = 0xAB;
        Write(frames, message.AsSpan(0, 30));
        Assert.Equal(StreamFrame.Incomplete, frames.TryNext(out _));
        frames.Release();
        Assert.True(frames.Held > 0);
        Write(frames, message.AsSpan(30));
        Assert.Equal(StreamFrame.Complete, frames.TryNext(out var frame));
        Assert.Equal(message, frame.ToArray());
    }

    [Fact]
    public void FreeSpace_FrameLargerThanTheCap_EmptyAfterGrowingToIt()
    {
        var frames = new StreamFrameBuffer(64, 256);
        Write(frames, Stun(1000).AsSpan(0, 256));
        Assert.Equal(StreamFrame.Incomplete, frames.TryNext(out _));
        Assert.True(frames.FreeSpace().IsEmpty);
        frames.Discard();
        Assert.Equal(0, frames.Held);
    }

    private static void Write(StreamFrameBuffer frames, ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var free = frames.FreeSpace();
            Assert.False(free.IsEmpty);
            int n = Math.Min(free.Length, bytes.Length);
            bytes[..n].CopyTo(free.Span);
            frames.Advance(n);
            bytes = bytes[n..];
        }
    }

    /// <summary>A STUN Binding request header announcing <paramref name="bodyLength"/> bytes of attributes, and those bytes.</summary>
    private static byte[] Stun(int bodyLength)
    {
        var message = new byte[20 + bodyLength];
        message[1] = 0x01;
        message[2] = (byte)(bodyLength >> 8);
        message[3] = (byte)bodyLength;
        return message;
    }
}
