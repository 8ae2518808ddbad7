using System.Buffers;
using System.Net.WebSockets;
using GhostChat.Turn.Security;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Signaling;

/// <summary>
/// Accepts PeerJS signaling sockets and runs each one: the handshake (key, id, token, limits),
/// registration, and the receive loop that relays messages. Protocol reference:
/// shared/reference/peerjs-protocol.md §2; our deliberate differences are listed in the README.
/// </summary>
internal sealed class SignalingBroker
{
    /// <summary>Texts the official client shows or acts on; the first four are the reference's own.</summary>
    internal static class Messages
    {
        public const string MissingParameters = "No id, token, or key supplied to websocket server";
        public const string InvalidKey = "Invalid key provided";
        public const string ConcurrentLimit = "Server has reached its concurrent user limit";
        public const string InvalidId = "Invalid id: use 1-64 letters or digits, with single spaces, '-' or '_' between them";
        public const string InvalidToken = "Invalid token: use 1-128 printable ASCII characters";
        public const string MalformedTokenBoundId = "Invalid id: ids beginning with 'gc1-' are 'gc1-' and 32 lowercase hex digits (SHA-256 of the token)";
        public const string IdBoundToAnotherToken = "Invalid id: this id belongs to another token (ids beginning with 'gc1-' are made from their token)";
        public const string IdNotIssued = "Invalid id: this server only accepts ids it handed out; ask it for one (GET {key}/id)";
        public const string OriginNotAllowed = "This server does not accept connections from this site (origin not allowed)";
        public const string AtCapacity = "Server is at capacity; try again in a minute";
        public const string TooManySockets = "Too many connections from your network address; close other GhostChat tabs and try again";
        public const string ConnectingTooFast = "Connecting too often from your network address; wait a few seconds and try again";
        public const string Unavailable = "The server cannot accept new connections right now (its shared state is unreachable); try again in a moment";
    }

    internal const WebSocketCloseStatus ReplacedCloseStatus = (WebSocketCloseStatus)4001;
    internal const string ReplacedReason = "replaced by a newer connection";
    internal const WebSocketCloseStatus AliveTimeoutCloseStatus = (WebSocketCloseStatus)4002;

    private readonly IPeerDirectory _directory;
    private readonly IRelayBus _bus;
    private readonly ClientAdmission _admission;
    private readonly PeerIds _ids;
    private readonly OutboundBudget _outbound;
    private readonly SignalingMetrics _metrics;
    private readonly IOptionsMonitor<SignalingOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<SignalingBroker> _logger;

    public SignalingBroker(IPeerDirectory directory, IRelayBus bus, ClientAdmission admission, PeerIds ids, OutboundBudget outbound,
        SignalingMetrics metrics, IOptionsMonitor<SignalingOptions> options, TimeProvider time, ILogger<SignalingBroker> logger)
    {
        _directory = directory;
        _bus = bus;
        _admission = admission;
        _ids = ids;
        _outbound = outbound;
        _metrics = metrics;
        _options = options;
        _time = time;
        _logger = logger;
    }

    /// <summary>A WebSocket upgrade that came through the HTTP pipeline.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        var query = context.Request.Query;
        var handshake = new SignalingHandshake(
            query["key"].LastOrDefault(), query["id"].LastOrDefault(), query["token"].LastOrDefault(),
            context.Request.Headers.Origin.ToString(), context.Connection.RemoteIpAddress);
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        await RunAsync(handshake, socket, "http", context.RequestAborted);
    }

    /// <summary>Runs one accepted signaling socket to its end, whichever way it was upgraded.</summary>
    /// <remarks>
    /// Admission and the handshake checks run here, synchronously; the session's life is one async
    /// method, <see cref="RunSessionAsync"/>, whose state keeps the session and not the handshake (its
    /// strings and address): an idle socket's whole await chain is that one state machine, awaiting
    /// the transport's read. When the session has ended (unregistered, closed, drained) the socket is
    /// disposed and <paramref name="ended"/>, if given, is called with <paramref name="endedState"/>
    /// and whether the socket ended aborted, before the returned task completes: the caller that
    /// owns the connection closes it there, so it need not await this task (which would keep one
    /// more state machine per idle socket).
    /// </remarks>
    internal Task RunAsync(SignalingHandshake handshake, WebSocket socket, string path, CancellationToken aborted,
        Action<object, bool>? ended = null, object? endedState = null)
    {
        var options = _options.CurrentValue;
        var clientKey = ClientAdmission.AddressKey(handshake.RemoteAddress);
        var session = new PeerSession(socket, clientKey, _time.GetTimestamp(),
            options.Limits.MaxOutboundFramesPerSocket, options.Limits.MaxOutboundBytesPerSocket, _outbound);
        _metrics.Accepted(path);

        var admission = _admission.TryAdmit(clientKey);
        var refusal = admission switch
        {
            AdmissionResult.Admitted => Check(handshake, options),
            AdmissionResult.AtCapacity => (RejectionReasons.AtCapacity, Messages.AtCapacity),
            AdmissionResult.TooManySocketsFromAddress => (RejectionReasons.TooManySocketsFromAddress, Messages.TooManySockets),
            _ => (RejectionReasons.ConnectingTooFast, Messages.ConnectingTooFast),
        };
        var admitted = admission == AdmissionResult.Admitted;
        if (refusal is { } refused)
        {
            Refuse(session, refused);
            return EndAsync(session, socket, admitted, ended, endedState);
        }
        session.Id = handshake.Id!;
        session.Token = handshake.Token!;
        return RunSessionAsync(session, socket, admitted, options.Limits, ended, endedState, aborted);
    }

    /// <summary>
    /// Registration, then the receive loop that relays messages, then the end (<see cref="EndAsync"/>).
    /// The loop is inline, not a method of its own: an idle socket holds this one state machine.
    /// </summary>
    private async Task RunSessionAsync(PeerSession session, WebSocket socket, bool admitted, SignalingLimits limits,
        Action<object, bool>? ended, object? endedState, CancellationToken aborted)
    {
        try
        {
            if (!await RegisterAsync(session, aborted))
            {
                return;
            }

            var rate = new TokenBucket(limits.MessageBurst, _time.GetTimestamp());
            var malformed = 0;
            var overRate = 0;
            while (true)
            {
                // Wait for the next frame without holding a buffer: idle sockets cost no receive memory. On
                // the fast path the wait is the pipe's own read, awaited here, so an idle socket's await
                // chain is this method alone; a whole message that is there is then taken in one step, and
                // anything else goes the general way: the zero-byte receive parses the header from bytes
                // that are there, and the message is read chunk by chunk.
                byte[]? buffer = null;
                try
                {
                    var count = 0;
                    var tooLarge = false;
                    if (socket is PipeWebSocket waiting)
                    {
                        // No token: a registration per idle socket costs 144 bytes. A closing session
                        // aborts its socket when the close timeout passes, which ends this wait too.
                        // (What is used after an await is a field of this state machine, held by every
                        // idle socket: the socket is cast again rather than kept as a second reference.)
                        var waited = await waiting.WaitForInputAsync(CancellationToken.None);
                        var lean = (PipeWebSocket)socket;
                        if (!lean.TryTakeMessage(waited, limits.MaxFrameBytes, out buffer, out count))
                        {
                            lean.EndWaitForInput(waited);
                        }
                    }
                    if (buffer is null)
                    {
                        var probe = await socket.ReceiveAsync(Memory<byte>.Empty, session.Lifetime);
                        if (probe.MessageType == WebSocketMessageType.Close)
                        {
                            return;
                        }
                        buffer = ArrayPool<byte>.Shared.Rent(Math.Min(4096, limits.MaxFrameBytes));
                        var end = probe.EndOfMessage; // true only for an empty message: the zero-byte probe consumed no payload
                        while (!end)
                        {
                            if (count == buffer.Length)
                            {
                                if (buffer.Length >= limits.MaxFrameBytes)
                                {
                                    tooLarge = true; // keep reading, discarding, until the message ends
                                    count = 0;
                                }
                                else
                                {
                                    var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, limits.MaxFrameBytes));
                                    buffer.AsSpan(0, count).CopyTo(bigger);
                                    ArrayPool<byte>.Shared.Return(buffer);
                                    buffer = bigger;
                                }
                            }
                            var read = await socket.ReceiveAsync(buffer.AsMemory(count, Math.Min(buffer.Length, limits.MaxFrameBytes) - count), session.Lifetime);
                            if (read.MessageType == WebSocketMessageType.Close)
                            {
                                return;
                            }
                            count += read.Count;
                            end = read.EndOfMessage;
                        }
                    }

                    session.LastSeen = _time.GetTimestamp(); // any frame counts as liveness, even one we then drop

                    if (!rate.TryTake(_time.GetTimestamp(), _time.TimestampFrequency, limits.MessagesPerSecond, limits.MessageBurst))
                    {
                        _metrics.Rejected(RejectionReasons.MessageRate);
                        if (++overRate >= limits.OverRateFramesBeforeClose)
                        {
                            Log.ClosedForAbuse(_logger, "message rate limit exceeded");
                            session.Close(WebSocketCloseStatus.PolicyViolation, "message rate limit exceeded");
                            return;
                        }
                        continue;
                    }

                    RelayMessage? relay = null;
                    var leave = false;
                    var kind = tooLarge ? MalformedKind.TooLarge : Interpret(session, buffer.AsSpan(0, count), limits.MaxJsonDepth, out relay, out leave);
                    if (kind != MalformedKind.None)
                    {
                        _metrics.Malformed(kind);
                        Log.MalformedFrame(_logger, kind, session.Id);
                        if (++malformed >= limits.MalformedFramesBeforeClose)
                        {
                            _metrics.Rejected(RejectionReasons.MalformedAbuse);
                            Log.ClosedForAbuse(_logger, "too many malformed frames");
                            session.Close(WebSocketCloseStatus.PolicyViolation, "too many malformed frames");
                            return;
                        }
                        continue;
                    }
                    if (leave)
                    {
                        // LEAVE without dst: the client is done with its id (the reference keeps the socket open, unregistered).
                        await _directory.UnregisterAsync(session, CancellationToken.None);
                        session.Close(WebSocketCloseStatus.NormalClosure, "left");
                        return;
                    }
                    if (relay is { } message)
                    {
                        var type = message.Type; // not the message: it would be a field of this state machine
                        if (await _bus.RelayAsync(message, session.Lifetime) == RelayOutcome.Delivered)
                        {
                            _metrics.Relayed(type);
                        }
                    }
                }
                finally
                {
                    if (buffer is not null)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                    }
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            Log.SocketError(_logger, ex);
        }
        finally
        {
            await EndAsync(session, socket, admitted, ended, endedState);
        }
    }

    /// <summary>Registers the session's id and says OPEN. False when the session is to end (refused, id taken; the close is under way).</summary>
    private async ValueTask<bool> RegisterAsync(PeerSession session, CancellationToken aborted)
    {
        RegistrationResult registration;
        try
        {
            registration = await _directory.RegisterAsync(session, aborted);
        }
        catch (SignalingUnavailableException)
        {
            session.Id = null;
            Refuse(session, (RejectionReasons.BackendUnavailable, Messages.Unavailable));
            return false;
        }
        switch (registration.Outcome)
        {
            case RegistrationOutcome.IdTaken:
                _metrics.Rejected(RejectionReasons.IdTaken);
                session.TrySend(SignalingFrames.IdTaken);
                session.Id = null; // never unregister someone else's id on our way out
                session.Close(WebSocketCloseStatus.NormalClosure, null);
                return false;
            case RegistrationOutcome.LimitReached:
                session.Id = null;
                Refuse(session, (RejectionReasons.ConcurrentLimit, Messages.ConcurrentLimit));
                return false;
            case RegistrationOutcome.Reattached:
                // Fix: the reference sends no OPEN here and keeps the old socket (client never fires 'open').
                // The replaced socket may live on another node; the directory tells that node to close it.
                registration.Replaced?.Close(ReplacedCloseStatus, ReplacedReason);
                Log.Reattached(_logger, session.Id!);
                break;
            default:
                Log.Registered(_logger, session.Id!);
                break;
        }
        session.TrySend(SignalingFrames.Open);
        await _bus.PeerOnlineAsync(session, aborted);
        return true;
    }

    /// <summary>
    /// The end of every session, refused or not: its id unregistered, its admission released, our
    /// close frame sent and the client's awaited (<see cref="DrainUntilCloseAsync"/>); then the session
    /// and the socket are disposed and the owner is told (<see cref="RunAsync"/>).
    /// </summary>
    private async Task EndAsync(PeerSession session, WebSocket socket, bool admitted, Action<object, bool>? ended, object? endedState)
    {
        try
        {
            if (session.Id is { } id && await _directory.UnregisterAsync(session, CancellationToken.None))
            {
                Log.Disconnected(_logger, id);
            }
            if (admitted)
            {
                _admission.Release(session.ClientKey);
            }
            session.Close(WebSocketCloseStatus.NormalClosure, null);
            await session.Closed;
            await DrainUntilCloseAsync(socket, session.Lifetime);
        }
        finally
        {
            session.Dispose();
            var abortedSocket = socket.State == WebSocketState.Aborted;
            socket.Dispose();
            ended?.Invoke(endedState!, abortedSocket);
        }
    }

    /// <summary>
    /// After our close frame, read and discard until the client's close frame (or the close timeout):
    /// closing the TCP connection over unread client frames makes the kernel send RST, and the
    /// client would lose our close frame and its reason (it would see 1006).
    /// </summary>
    private static async Task DrainUntilCloseAsync(WebSocket socket, CancellationToken closing)
    {
        if (socket.State != WebSocketState.CloseSent)
        {
            return;
        }
        var scratch = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            while (socket.State == WebSocketState.CloseSent)
            {
                var result = await socket.ReceiveAsync(scratch.AsMemory(), closing);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away or the close timeout passed.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>Checks origin, parameters, key, id and token. Null when the socket may register.</summary>
    private (string Reason, string Message)? Check(SignalingHandshake handshake, SignalingOptions options)
    {
        var origin = handshake.Origin;
        if (options.AllowedOrigins.Count > 0 && origin.Length > 0 && !options.AllowedOrigins.Contains(origin, StringComparer.OrdinalIgnoreCase))
        {
            return (RejectionReasons.OriginNotAllowed, Messages.OriginNotAllowed);
        }

        var (key, id, token) = (handshake.Key, handshake.Id, handshake.Token);
        if (string.IsNullOrEmpty(key) || string.IsNullOrEmpty(id) || string.IsNullOrEmpty(token))
        {
            return (RejectionReasons.MissingParameters, Messages.MissingParameters);
        }
        if (!string.Equals(key, options.Key, StringComparison.Ordinal))
        {
            return (RejectionReasons.InvalidKey, Messages.InvalidKey);
        }
        if (!PeerIds.IsValidId(id))
        {
            return (RejectionReasons.InvalidId, Messages.InvalidId);
        }
        if (!PeerIds.IsValidToken(token))
        {
            return (RejectionReasons.InvalidToken, Messages.InvalidToken);
        }
        // Token-bound ids (room hosts' and members'): only the token they were made from may hold one,
        // whether or not it is held now, so nobody can take a room's id while its host is away.
        // Checked here, before the directory, so every node of a cluster agrees without shared state.
        if (PeerIds.IsTokenBound(id))
        {
            if (!PeerIds.IsWellFormedTokenBound(id))
            {
                return (RejectionReasons.InvalidId, Messages.MalformedTokenBoundId);
            }
            return PeerIds.IsBoundTo(id, token) ? null : (RejectionReasons.IdBoundToAnotherToken, Messages.IdBoundToAnotherToken);
        }
        if (options.ServerGeneratedIdsOnly && !_ids.WasIssuedHere(id))
        {
            return (RejectionReasons.UnknownId, Messages.IdNotIssued.Replace("{key}", options.Key, StringComparison.Ordinal));
        }
        return null;
    }

    /// <summary>Handshake refusals: an ERROR the official client treats as fatal, then a normal close (the reference closes without a status code, which .NET cannot send).</summary>
    private void Refuse(PeerSession session, (string Reason, string Message) refusal)
    {
        _metrics.Rejected(refusal.Reason);
        Log.Refused(_logger, refusal.Reason);
        session.TrySend(SignalingFrames.Error(refusal.Message));
        session.Close(WebSocketCloseStatus.NormalClosure, null);
    }

    /// <summary>Parses a frame and decides what to do with it. Returns the malformed kind, or None.</summary>
    private MalformedKind Interpret(PeerSession session, ReadOnlySpan<byte> utf8, int maxDepth, out RelayMessage? relay, out bool leave)
    {
        relay = null;
        leave = false;
        var kind = SignalingFrames.TryParse(utf8, maxDepth, out var frame);
        if (kind != MalformedKind.None)
        {
            return kind;
        }

        switch (frame.Type)
        {
            case MessageType.Heartbeat:
                return MalformedKind.None; // liveness already noted
            case MessageType.Offer or MessageType.Answer or MessageType.Candidate or MessageType.Leave or MessageType.Expire:
                if (frame.DstIsNullOrEmpty)
                {
                    leave = frame.Type == MessageType.Leave;
                    if (!leave)
                    {
                        _metrics.Ignored();
                    }
                    return MalformedKind.None;
                }
                if (SignalingFrames.TryRelay(frame.Type, session.Id!, frame, out var direct) && _directory.FindLocal(frame.DstUtf8) is { } local)
                {
                    // Connected to this node (where every bus delivers first): the frame goes straight
                    // into its socket's outgoing buffer, found and built without a string or an array.
                    if (LocalDelivery.Deliver(local, direct, _metrics, _logger) == RelayOutcome.Delivered)
                    {
                        _metrics.Relayed(frame.Type);
                    }
                    return MalformedKind.None;
                }
                var queueable = frame.Type is MessageType.Offer or MessageType.Answer or MessageType.Candidate;
                var built = SignalingFrames.BuildRelay(frame.Type, session.Id!, frame);
                relay = new RelayMessage(frame.Type, session.Id!, frame.Dst!, queueable, built);
                return MalformedKind.None;
            default:
                _metrics.Ignored(); // unknown or missing type: ignored, the socket keeps working (as the reference)
                return MalformedKind.None;
        }
    }
}

/// <summary>
/// What the broker needs from a WebSocket upgrade request. Query values follow URLSearchParams:
/// '+' is a space and the last of repeated parameters wins.
/// </summary>
internal sealed record SignalingHandshake(string? Key, string? Id, string? Token, string Origin, System.Net.IPAddress? RemoteAddress);
