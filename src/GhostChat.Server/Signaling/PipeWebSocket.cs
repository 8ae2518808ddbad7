using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using System.Net.WebSockets;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;
using System.Text.Unicode;

namespace GhostChat.Server.Signaling;

/// <summary>
/// The server side of RFC 6455 straight over a Kestrel connection's pipes, for the signaling fast
/// path (<see cref="SignalingConnectionMiddleware"/>). Compared with
/// <see cref="WebSocket.CreateFromStream(Stream, WebSocketCreationOptions)"/> over a stream adapter
/// it holds no buffer of its own (payload is unmasked from the transport's buffers straight into
/// the caller's, and an idle socket waits on the pipe, which holds no buffer either), and it writes
/// several frames with one flush (<see cref="SendTextFramesAsync"/>), so a burst of relayed messages
/// costs one send on the socket. No extensions and no subprotocol are negotiated, so RSV bits are
/// always an error. Anything that breaks the protocol (an unmasked or reserved frame, a bad length,
/// a control frame that is fragmented or longer than 125 bytes, a continuation out of place, a
/// close frame that is malformed) fails the connection with 1002, invalid UTF-8 in a text message
/// with 1007 (RFC 6455 §7.1.7, §8.1), as the framework's WebSocket does; the caller sees a
/// <see cref="WebSocketException"/>. Pings are answered with pongs; pongs are ignored.
/// <para>One receiver at a time (the broker's loop); senders may be concurrent: writes to the
/// transport are serialised by a lock that is only ever contended by a pong or a failing close; on
/// the socket loop a relayed frame is written without it, under the connection's own lock, when no
/// other writer is busy (<see cref="TryWriteTextFrameLocked"/>).</para>
/// </summary>
internal sealed class PipeWebSocket : WebSocket
{
    /// <summary>Frames are flushed at least every this many bytes while a batch is written.</summary>
    internal const int FlushThreshold = 64 * 1024;

    private const int MaxHeaderLength = 14; // 2 + 8 (length) + 4 (mask)
    private const int MaxControlPayload = 125;
    private const byte OpContinuation = 0x0, OpText = 0x1, OpBinary = 0x2, OpClose = 0x8, OpPing = 0x9, OpPong = 0xA;

    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private volatile WebSocketState _state = WebSocketState.Open;
    private WebSocketCloseStatus? _closeStatus;
    private string? _closeDescription;

    // Receive state: only the receiving caller touches these.
    private long _payloadRemaining;   // of the current data frame
    private bool _inFrame;            // a data frame's header is read, its payload (maybe empty) not yet all returned
    private bool _frameFin;
    private uint _mask;               // the frame's masking key, byte 0 in the low bits
    private int _maskOffset;
    private bool _inMessage;          // a data message has started and its FIN frame has not ended yet
    private WebSocketMessageType _messageType;
    private uint _utf8Carry;          // the bytes of an incomplete UTF-8 sequence at the end of the last chunk
    private int _utf8CarryLength;

    private bool _waiting;            // a WaitForInputAsync read is out; EndWaitForInput hands it back

    // Send state: under _writeLock.
    private bool _sendInMessage;

    public PipeWebSocket(IDuplexPipe transport)
    {
        _input = transport.Input;
        _output = transport.Output;
    }

    public override WebSocketCloseStatus? CloseStatus => _closeStatus;

    public override string? CloseStatusDescription => _closeDescription;

    public override WebSocketState State => _state;

    public override string? SubProtocol => null;

    public override void Abort()
    {
        if (_state is WebSocketState.Closed or WebSocketState.Aborted)
        {
            return;
        }
        _state = WebSocketState.Aborted;
        _input.CancelPendingRead();
        _output.CancelPendingFlush();
    }

    public override void Dispose()
    {
        if (_state is not (WebSocketState.Closed or WebSocketState.Aborted))
        {
            _state = WebSocketState.Closed;
        }
    }

    // --- receiving ------------------------------------------------------------------------------

    public override async Task<WebSocketReceiveResult> ReceiveAsync(ArraySegment<byte> buffer, CancellationToken cancellationToken)
    {
        var result = await ReceiveAsync(buffer.AsMemory(), cancellationToken);
        return result.MessageType == WebSocketMessageType.Close
            ? new WebSocketReceiveResult(0, WebSocketMessageType.Close, true, _closeStatus, _closeDescription)
            : new WebSocketReceiveResult(result.Count, result.MessageType, result.EndOfMessage);
    }

    /// <summary>
    /// As <see cref="WebSocket.ReceiveAsync(Memory{byte}, CancellationToken)"/>. A zero-byte read waits
    /// for the next frame (or the next payload bytes of this one) without taking payload: it returns
    /// Count 0 and EndOfMessage true only for an empty final frame.
    /// </summary>
    public override async ValueTask<ValueWebSocketReceiveResult> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (_state is not (WebSocketState.Open or WebSocketState.CloseSent))
        {
            throw new WebSocketException(WebSocketError.InvalidState, $"Cannot receive in state {_state}.");
        }
        try
        {
            if (!_inFrame)
            {
                if (!await ReadDataHeaderAsync(cancellationToken))
                {
                    return new ValueWebSocketReceiveResult(0, WebSocketMessageType.Close, true);
                }
                if (_payloadRemaining == 0)
                {
                    return await EndChunkAsync(ReadOnlyMemory<byte>.Empty);
                }
                if (buffer.IsEmpty)
                {
                    return new ValueWebSocketReceiveResult(0, _messageType, false);
                }
            }

            var result = await _input.ReadAsync(cancellationToken);
            var data = result.Buffer;
            if (result.IsCanceled)
            {
                throw new OperationCanceledException("The socket was aborted.");
            }
            if (data.IsEmpty)
            {
                throw Premature();
            }
            if (buffer.IsEmpty)
            {
                _input.AdvanceTo(data.Start); // payload is there; take none of it
                return new ValueWebSocketReceiveResult(0, _messageType, false);
            }
            var count = (int)Math.Min(Math.Min(data.Length, _payloadRemaining), buffer.Length);
            data.Slice(0, count).CopyTo(buffer.Span);
            _input.AdvanceTo(data.GetPosition(count));
            Unmask(buffer.Span[..count], _mask, ref _maskOffset);
            _payloadRemaining -= count;
            return await EndChunkAsync(buffer[..count]);
        }
        catch (OperationCanceledException)
        {
            Abort();
            throw;
        }
    }

    /// <summary>
    /// Waits until the client sends something, taking nothing: the returned read is the pipe's own,
    /// so a caller that awaits it directly holds no state machine of this class while the socket is
    /// idle (an idle peer's await chain is one level shorter, about 470 bytes less per peer). Pass
    /// the result to <see cref="EndWaitForInput"/>; then <see cref="ReceiveAsync(Memory{byte}, CancellationToken)"/>
    /// reads the frame from bytes already there. Completes at once (with nothing to hand back) in
    /// the middle of a frame or when the socket cannot receive, for ReceiveAsync to tell.
    /// </summary>
    internal ValueTask<ReadResult> WaitForInputAsync(CancellationToken cancellationToken)
    {
        if (_inFrame || _state is not (WebSocketState.Open or WebSocketState.CloseSent))
        {
            _waiting = false;
            return default;
        }
        _waiting = true;
        return _input.ReadAsync(cancellationToken);
    }

    /// <summary>
    /// The fast path after <see cref="WaitForInputAsync"/>: when what arrived starts with one whole
    /// unfragmented text or binary message of at most <paramref name="maxBytes"/> bytes (valid UTF-8
    /// for text), takes it from the pipe in one step — unmasked into <paramref name="buffer"/>,
    /// rented from the shared pool (the caller returns it) — and hands the read back. Otherwise
    /// (a control frame, a fragment, a message still arriving, too large, invalid, closing) it takes
    /// nothing and returns false: <see cref="EndWaitForInput"/> and <see cref="ReceiveAsync(Memory{byte}, CancellationToken)"/>
    /// then go the general way, which handles and reports each of those cases.
    /// </summary>
    internal bool TryTakeMessage(ReadResult waited, int maxBytes, [NotNullWhen(true)] out byte[]? buffer, out int count)
    {
        buffer = null;
        count = 0;
        if (!_waiting || waited.IsCanceled || _inMessage || _state != WebSocketState.Open)
        {
            return false;
        }
        var data = waited.Buffer;
        if (FrameHeader.TryParse(data, out var header) != HeaderParse.Complete || !header.Fin
            || header.Opcode is not (OpText or OpBinary) || header.PayloadLength > maxBytes
            || data.Length - header.HeaderLength < header.PayloadLength)
        {
            return false;
        }
        count = (int)header.PayloadLength;
        buffer = ArrayPool<byte>.Shared.Rent(Math.Max(count, 16));
        var payload = buffer.AsSpan(0, count);
        data.Slice(header.HeaderLength, count).CopyTo(payload);
        var offset = 0;
        Unmask(payload, header.Mask, ref offset);
        if (header.Opcode == OpText && !Utf8.IsValid(payload))
        {
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = null;
            count = 0;
            return false; // ReceiveAsync reads it again and fails the socket, as for any invalid text
        }
        _waiting = false;
        _messageType = header.Opcode == OpText ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
        _utf8CarryLength = 0;
        _input.AdvanceTo(data.GetPosition(header.HeaderLength + count));
        return true;
    }

    /// <summary>Ends <see cref="WaitForInputAsync"/>: nothing consumed, nothing examined, so the next read returns the same bytes at once.</summary>
    internal void EndWaitForInput(ReadResult result)
    {
        if (!_waiting)
        {
            return;
        }
        _waiting = false;
        _input.AdvanceTo(result.Buffer.Start);
        if (result.IsCanceled)
        {
            Abort();
            throw new OperationCanceledException("The socket was aborted.");
        }
    }

    /// <summary>Accounts for a chunk of payload just returned: end of frame, end of message, UTF-8.</summary>
    private async ValueTask<ValueWebSocketReceiveResult> EndChunkAsync(ReadOnlyMemory<byte> chunk)
    {
        var endOfMessage = false;
        if (_payloadRemaining == 0)
        {
            _inFrame = false;
            endOfMessage = _frameFin;
            _inMessage = !_frameFin;
        }
        if (_messageType == WebSocketMessageType.Text && !ValidateUtf8(chunk.Span, endOfMessage))
        {
            await FailAsync(WebSocketCloseStatus.InvalidPayloadData, "invalid UTF-8 in a text message");
        }
        return new ValueWebSocketReceiveResult(chunk.Length, _messageType, endOfMessage);
    }

    /// <summary>
    /// Reads frame headers until a data frame's, answering pings and skipping pongs on the way.
    /// False when a close frame arrived (the close status is recorded).
    /// </summary>
    private async ValueTask<bool> ReadDataHeaderAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await _input.ReadAsync(cancellationToken);
            if (result.IsCanceled)
            {
                throw new OperationCanceledException("The socket was aborted.");
            }
            var data = result.Buffer;
            var parse = FrameHeader.TryParse(data, out var header);
            if (parse == HeaderParse.Invalid)
            {
                _input.AdvanceTo(data.Start, data.End);
                await FailAsync(WebSocketCloseStatus.ProtocolError, "malformed frame header");
            }
            var isControl = header.Opcode >= OpClose;
            if (parse == HeaderParse.NeedMore || (isControl && data.Length < header.HeaderLength + header.PayloadLength))
            {
                if (result.IsCompleted)
                {
                    _input.AdvanceTo(data.End);
                    throw Premature();
                }
                _input.AdvanceTo(data.Start, data.End); // wait for the rest of the header (or control frame)
                continue;
            }

            if (isControl)
            {
                var control = new byte[header.PayloadLength];
                data.Slice(header.HeaderLength, header.PayloadLength).CopyTo(control);
                _input.AdvanceTo(data.GetPosition(header.HeaderLength + header.PayloadLength));
                var offset = 0;
                Unmask(control, header.Mask, ref offset);
                switch (header.Opcode)
                {
                    case OpPing:
                        await SendControlAsync(OpPong, control, cancellationToken);
                        continue;
                    case OpPong:
                        continue;
                    default:
                        await ReceivedCloseAsync(control);
                        return false;
                }
            }

            _input.AdvanceTo(data.GetPosition(header.HeaderLength));
            if (header.Opcode == OpContinuation ? !_inMessage : _inMessage)
            {
                await FailAsync(WebSocketCloseStatus.ProtocolError, _inMessage ? "a new message before the last one ended" : "a continuation frame outside a message");
            }
            if (header.Opcode != OpContinuation)
            {
                _messageType = header.Opcode == OpText ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
                _utf8CarryLength = 0;
            }
            _inMessage = true;
            _inFrame = true;
            _frameFin = header.Fin;
            _payloadRemaining = header.PayloadLength;
            _mask = header.Mask;
            _maskOffset = 0;
            return true;
        }
    }

    private async ValueTask ReceivedCloseAsync(byte[] payload)
    {
        if (payload.Length == 1)
        {
            await FailAsync(WebSocketCloseStatus.ProtocolError, "a close frame with a one-byte body");
        }
        if (payload.Length >= 2)
        {
            var code = BinaryPrimitives.ReadUInt16BigEndian(payload);
            if (!IsValidCloseCode(code) || !Utf8.IsValid(payload.AsSpan(2)))
            {
                await FailAsync(WebSocketCloseStatus.ProtocolError, "an invalid close code or reason");
            }
            _closeStatus = (WebSocketCloseStatus)code;
            _closeDescription = Encoding.UTF8.GetString(payload, 2, payload.Length - 2);
        }
        else
        {
            _closeStatus = WebSocketCloseStatus.Empty;
            _closeDescription = null;
        }
        _state = _state == WebSocketState.CloseSent ? WebSocketState.Closed : WebSocketState.CloseReceived;
    }

    private static bool IsValidCloseCode(int code)
        => code is (>= 1000 and <= 1003) or (>= 1007 and <= 1014) or (>= 3000 and <= 4999);

    /// <summary>Fails the connection (RFC 6455 §7.1.7): a close frame with <paramref name="status"/>, then an exception.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private async ValueTask FailAsync(WebSocketCloseStatus status, string reason)
    {
        if (_state is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            try
            {
                using var timeout = new CancellationTokenSource(PeerSession.CloseTimeout);
                await SendCloseFrameAsync(status, null, timeout.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException or InvalidOperationException)
            {
                // The peer broke the protocol and may be gone too; the connection ends either way.
            }
        }
        _closeStatus ??= status;
        _state = WebSocketState.Aborted;
        throw new WebSocketException(WebSocketError.Faulted, "The client broke the WebSocket protocol: " + reason + ".");
    }

    private static WebSocketException Premature()
        => new(WebSocketError.ConnectionClosedPrematurely, "The client closed the connection without a close frame.");

    // --- sending --------------------------------------------------------------------------------

    public override Task SendAsync(ArraySegment<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken)
        => SendAsync(buffer.AsMemory(), messageType, endOfMessage, cancellationToken).AsTask();

    public override async ValueTask SendAsync(ReadOnlyMemory<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken)
    {
        if (messageType == WebSocketMessageType.Close)
        {
            throw new ArgumentException("Use CloseOutputAsync to send a close frame.", nameof(messageType));
        }
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            ThrowIfCannotSend();
            var opcode = _sendInMessage ? OpContinuation : messageType == WebSocketMessageType.Text ? OpText : OpBinary;
            WriteFrame(_output, opcode, endOfMessage, buffer.Span);
            _sendInMessage = !endOfMessage;
            await FlushAsync(cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Writes <paramref name="first"/> and then every frame in <paramref name="more"/> (each a whole
    /// text message) and flushes once, or every <see cref="FlushThreshold"/> bytes for a long batch.
    /// </summary>
    internal async ValueTask SendTextFramesAsync(byte[] first, Queue<byte[]>? more, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            ThrowIfCannotSend();
            if (_sendInMessage)
            {
                throw new InvalidOperationException("A fragmented message is being sent.");
            }
            WriteFrame(_output, OpText, true, first);
            var unflushed = first.Length;
            if (more is not null)
            {
                foreach (var frame in more)
                {
                    if (unflushed >= FlushThreshold)
                    {
                        await FlushAsync(cancellationToken);
                        ThrowIfCannotSend();
                        unflushed = 0;
                    }
                    WriteFrame(_output, OpText, true, frame);
                    unflushed += frame.Length;
                }
            }
            await FlushAsync(cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// The lock of a socket-loop connection's writer, null on other transports. A
    /// <see cref="PeerSession"/> on the loop takes it as its own, so that its send state and the
    /// write of a relayed frame take one lock (<see cref="TryWriteTextFrameLocked"/>).
    /// </summary>
    internal Lock? SendGate => (_output as Loop.LoopWriter)?.Gate;

    /// <summary>
    /// On the socket loop, under <see cref="SendGate"/> (held by the caller, whose sending it also
    /// guards): writes <paramref name="frame"/> as one text frame straight into the connection's
    /// buffer and flushes it in the same hold of the lock — no write lock: another writer (a pong, a
    /// close) is either between GetSpan and its flush, and then this returns
    /// <see cref="LoopWrite.NotNow"/> with nothing written, or not writing, and then the frames
    /// follow each other whole. <see cref="LoopWrite.Pending"/>: written, and
    /// <paramref name="pending"/> completes once the kernel has taken it (or throws as the other
    /// sends do). Throws when the flush fails at once.
    /// </summary>
    internal LoopWrite TryWriteTextFrameLocked(scoped in RelayFrame frame, CancellationToken cancellationToken, out ValueTask pending)
    {
        pending = default;
        if (_output is not Loop.LoopWriter writer || !writer.CanWriteNowLocked || _sendInMessage
            || _state is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            return LoopWrite.NotNow;
        }
        var size = TextFrameSize(frame);
        WriteTextFrame(writer.WriteLocked(size), frame);
        writer.AdvanceLocked(size);
        var flush = writer.FlushLocked(cancellationToken);
        if (flush.IsCompleted)
        {
            CheckFlush(flush.GetAwaiter().GetResult());
            return LoopWrite.Done;
        }
        pending = FinishFlushAsync(flush, releaseWriteLock: false);
        return LoopWrite.Pending;
    }

    /// <summary>Bytes of <paramref name="frame"/> as one unmasked text frame, header included.</summary>
    private static int TextFrameSize(scoped in RelayFrame frame) => HeaderLength(frame.Length) + frame.Length;

    /// <summary>Writes <paramref name="frame"/> as one unmasked text frame at the start of <paramref name="span"/>.</summary>
    private static void WriteTextFrame(Span<byte> span, scoped in RelayFrame frame)
    {
        var headerLength = HeaderLength(frame.Length);
        WriteHeader(span, OpText, fin: true, frame.Length, headerLength);
        frame.WriteTo(span.Slice(headerLength, frame.Length));
    }

    /// <summary>
    /// Writes <paramref name="frame"/> as one text frame straight into the transport's buffer (no
    /// copy of it in between) and starts the flush; <paramref name="sent"/> completes once it is
    /// flushed (at once on the socket loop's threads, which send after their batch). False, with
    /// nothing written, when another writer (a pong, a close) holds the transport right now: the
    /// caller then sends the frame's bytes the general way. Throws as <see cref="SendTextFramesAsync"/>
    /// when the socket cannot send.
    /// </summary>
    internal bool TryStartTextFrame(scoped in RelayFrame frame, CancellationToken cancellationToken, out ValueTask sent)
    {
        sent = default;
        if (!_writeLock.Wait(0))
        {
            return false;
        }
        ValueTask<FlushResult> flush;
        try
        {
            ThrowIfCannotSend();
            if (_sendInMessage)
            {
                throw new InvalidOperationException("A fragmented message is being sent.");
            }
            var size = TextFrameSize(frame);
            WriteTextFrame(_output.GetSpan(size), frame);
            _output.Advance(size);
            flush = _output.FlushAsync(cancellationToken);
        }
        catch
        {
            _writeLock.Release();
            throw;
        }
        if (!flush.IsCompleted)
        {
            sent = FinishFlushAsync(flush, releaseWriteLock: true);
            return true;
        }
        try
        {
            CheckFlush(flush.GetAwaiter().GetResult());
        }
        catch (OperationCanceledException)
        {
            Abort();
            throw;
        }
        finally
        {
            _writeLock.Release();
        }
        return true;
    }

    /// <summary>Completes a flush that did not finish at once (as <see cref="FlushAsync"/> ends); <paramref name="releaseWriteLock"/>: the write lock was taken for it.</summary>
    private async ValueTask FinishFlushAsync(ValueTask<FlushResult> flush, bool releaseWriteLock)
    {
        try
        {
            CheckFlush(await flush);
        }
        catch (OperationCanceledException)
        {
            Abort();
            throw;
        }
        finally
        {
            if (releaseWriteLock)
            {
                _writeLock.Release();
            }
        }
    }

    public override Task CloseOutputAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken)
        => SendCloseFrameAsync(closeStatus, statusDescription, cancellationToken).AsTask();

    public override async Task CloseAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken)
    {
        await CloseOutputAsync(closeStatus, statusDescription, cancellationToken);
        var scratch = new byte[256];
        while (_state == WebSocketState.CloseSent)
        {
            await ReceiveAsync(scratch.AsMemory(), cancellationToken);
        }
    }

    private async ValueTask SendCloseFrameAsync(WebSocketCloseStatus status, string? description, CancellationToken cancellationToken)
    {
        var body = new byte[2 + (description is null ? 0 : Encoding.UTF8.GetByteCount(description))];
        if (body.Length > 2 + 123)
        {
            throw new ArgumentException("A close reason is at most 123 bytes of UTF-8.", nameof(description));
        }
        BinaryPrimitives.WriteUInt16BigEndian(body, (ushort)status);
        if (description is not null)
        {
            Encoding.UTF8.GetBytes(description, body.AsSpan(2));
        }
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            if (_state is not (WebSocketState.Open or WebSocketState.CloseReceived))
            {
                throw new WebSocketException(WebSocketError.InvalidState, $"Cannot close in state {_state}.");
            }
            _state = _state == WebSocketState.CloseReceived ? WebSocketState.Closed : WebSocketState.CloseSent;
            WriteFrame(_output, OpClose, true, body);
            await FlushAsync(cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async ValueTask SendControlAsync(byte opcode, byte[] payload, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            if (_state is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                WriteFrame(_output, opcode, true, payload);
                await FlushAsync(cancellationToken);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private void ThrowIfCannotSend()
    {
        if (_state is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            throw new WebSocketException(WebSocketError.InvalidState, $"Cannot send in state {_state}.");
        }
    }

    private async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        FlushResult result;
        try
        {
            result = await _output.FlushAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Abort();
            throw;
        }
        CheckFlush(result);
    }

    private void CheckFlush(FlushResult result)
    {
        if (result.IsCanceled)
        {
            throw new OperationCanceledException("The socket was aborted.");
        }
        if (result.IsCompleted)
        {
            _state = WebSocketState.Aborted;
            throw Premature();
        }
    }

    /// <summary>Writes one unmasked (server) frame into <paramref name="output"/>, without flushing.</summary>
    internal static void WriteFrame(PipeWriter output, byte opcode, bool fin, ReadOnlySpan<byte> payload)
    {
        var headerLength = HeaderLength(payload.Length);
        var span = output.GetSpan(headerLength + Math.Min(payload.Length, 4096));
        WriteHeader(span, opcode, fin, payload.Length, headerLength);
        var inline = Math.Min(payload.Length, span.Length - headerLength);
        payload[..inline].CopyTo(span[headerLength..]);
        output.Advance(headerLength + inline);
        if (inline < payload.Length)
        {
            output.Write(payload[inline..]);
        }
    }

    private static int HeaderLength(int payloadLength) => payloadLength < 126 ? 2 : payloadLength <= ushort.MaxValue ? 4 : 10;

    private static void WriteHeader(Span<byte> span, byte opcode, bool fin, int payloadLength, int headerLength)
    {
        span[0] = (byte)((fin ? 0x80 : 0) | opcode);
        if (headerLength == 2)
        {
            span[1] = (byte)payloadLength;
        }
        else if (headerLength == 4)
        {
            span[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(span[2..], (ushort)payloadLength);
        }
        else
        {
            span[1] = 127;
            BinaryPrimitives.WriteUInt64BigEndian(span[2..], (ulong)payloadLength);
        }
    }

    // --- helpers --------------------------------------------------------------------------------

    /// <summary>XORs <paramref name="data"/> with the masking key, starting at key byte <paramref name="offset"/>.</summary>
    internal static void Unmask(Span<byte> data, uint mask, ref int offset)
    {
        if (data.IsEmpty)
        {
            return;
        }
        var rotated = BitOperations.RotateRight(mask, offset * 8); // byte 0 of the rotated key applies to data[0]
        var i = 0;
        if (BitConverter.IsLittleEndian)
        {
            var wide = rotated | ((ulong)rotated << 32);
            ref var start = ref MemoryMarshal.GetReference(data);
            if (Vector256.IsHardwareAccelerated && data.Length >= Vector256<byte>.Count)
            {
                var key = Vector256.Create(rotated).AsByte();
                for (; i + Vector256<byte>.Count <= data.Length; i += Vector256<byte>.Count)
                {
                    ref var at = ref Unsafe.Add(ref start, i);
                    Vector256.StoreUnsafe(Vector256.LoadUnsafe(ref at) ^ key, ref at);
                }
            }
            for (; i + 8 <= data.Length; i += 8)
            {
                ref var at = ref Unsafe.Add(ref start, i);
                Unsafe.WriteUnaligned(ref at, Unsafe.ReadUnaligned<ulong>(ref at) ^ wide);
            }
        }
        for (; i < data.Length; i++)
        {
            data[i] ^= (byte)(rotated >> ((i & 3) * 8));
        }
        offset = (offset + data.Length) & 3;
    }

    /// <summary>
    /// Checks that <paramref name="chunk"/> continues valid UTF-8 (a sequence may be split between
    /// chunks); with <paramref name="final"/> nothing may be left incomplete.
    /// </summary>
    internal bool ValidateUtf8(ReadOnlySpan<byte> chunk, bool final)
    {
        if (_utf8CarryLength > 0)
        {
            Span<byte> sequence = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(sequence, _utf8Carry);
            var needed = SequenceLength(sequence[0]);
            var take = Math.Min(needed - _utf8CarryLength, chunk.Length);
            chunk[..take].CopyTo(sequence[_utf8CarryLength..]);
            if (_utf8CarryLength + take < needed)
            {
                _utf8CarryLength += take;
                _utf8Carry = BinaryPrimitives.ReadUInt32LittleEndian(sequence);
                return !final;
            }
            _utf8CarryLength = 0;
            if (!Utf8.IsValid(sequence[..needed]))
            {
                return false;
            }
            chunk = chunk[take..];
        }
        var tail = IncompleteTail(chunk);
        if (tail > 0)
        {
            if (final || !Utf8.IsValid(chunk[..^tail]))
            {
                return false;
            }
            Span<byte> carry = stackalloc byte[4];
            carry.Clear();
            chunk[^tail..].CopyTo(carry);
            _utf8Carry = BinaryPrimitives.ReadUInt32LittleEndian(carry);
            _utf8CarryLength = tail;
            return true;
        }
        return Utf8.IsValid(chunk);
    }

    private static int SequenceLength(byte lead) => lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;

    /// <summary>Bytes at the end of <paramref name="data"/> that start a multi-byte sequence which is not complete yet.</summary>
    private static int IncompleteTail(ReadOnlySpan<byte> data)
    {
        for (var k = 1; k <= Math.Min(3, data.Length); k++)
        {
            var b = data[^k];
            if ((b & 0xC0) == 0x80)
            {
                continue; // a continuation byte: look further back for its lead
            }
            return b >= 0xC0 && SequenceLength(b) > k ? k : 0;
        }
        return 0;
    }

    private enum HeaderParse
    {
        NeedMore,
        Complete,
        Invalid,
    }

    /// <summary>A client frame's header (RFC 6455 §5.2).</summary>
    private readonly struct FrameHeader
    {
        public bool Fin { get; init; }
        public byte Opcode { get; init; }
        public int HeaderLength { get; init; }
        public long PayloadLength { get; init; }
        public uint Mask { get; init; }

        public static HeaderParse TryParse(ReadOnlySequence<byte> data, out FrameHeader header)
        {
            header = default;
            Span<byte> bytes = stackalloc byte[MaxHeaderLength];
            var available = (int)Math.Min(data.Length, MaxHeaderLength);
            if (available < 2)
            {
                return HeaderParse.NeedMore;
            }
            data.Slice(0, available).CopyTo(bytes);
            var fin = (bytes[0] & 0x80) != 0;
            var opcode = (byte)(bytes[0] & 0x0F);
            if ((bytes[0] & 0x70) != 0 // RSV1-3: no extension was negotiated
                || opcode is not (OpContinuation or OpText or OpBinary or OpClose or OpPing or OpPong)
                || (bytes[1] & 0x80) == 0) // a client must mask every frame
            {
                return HeaderParse.Invalid;
            }
            long length = bytes[1] & 0x7F;
            var at = 2;
            if (length == 126)
            {
                if (available < 4)
                {
                    return HeaderParse.NeedMore;
                }
                length = BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]);
                at = 4;
            }
            else if (length == 127)
            {
                if (available < 10)
                {
                    return HeaderParse.NeedMore;
                }
                var wide = BinaryPrimitives.ReadUInt64BigEndian(bytes[2..]);
                if (wide > long.MaxValue)
                {
                    return HeaderParse.Invalid; // the most significant bit must be 0
                }
                length = (long)wide;
                at = 10;
            }
            if (opcode >= OpClose && (!fin || length > MaxControlPayload))
            {
                return HeaderParse.Invalid; // control frames are never fragmented and at most 125 bytes
            }
            if (available < at + 4)
            {
                return HeaderParse.NeedMore;
            }
            header = new FrameHeader
            {
                Fin = fin,
                Opcode = opcode,
                HeaderLength = at + 4,
                PayloadLength = length,
                Mask = BinaryPrimitives.ReadUInt32LittleEndian(bytes[at..]),
            };
            return HeaderParse.Complete;
        }
    }
}

/// <summary>What <see cref="PipeWebSocket.TryWriteTextFrameLocked"/> did.</summary>
internal enum LoopWrite
{
    /// <summary>Nothing written: not on the socket loop, or another writer is busy; send the general way.</summary>
    NotNow,

    /// <summary>Written and sent (or corked to be sent after the loop's batch).</summary>
    Done,

    /// <summary>Written; its flush waits for room in the kernel's buffer.</summary>
    Pending,
}
