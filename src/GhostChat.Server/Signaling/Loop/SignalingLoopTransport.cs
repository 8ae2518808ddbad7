using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Signaling.Loop;

/// <summary>
/// Kestrel's transport for TCP endpoints, with signaling served outside Kestrel: it accepts each
/// connection itself and puts it on a <see cref="SignalingLoop"/> (one per core); when the first bytes
/// arrive it looks at them without taking them (MSG_PEEK). A complete, clean signaling upgrade
/// (<see cref="SignalingConnectionMiddleware.Classify"/>: the same rule as Kestrel's fast path) is
/// taken off the socket and served on the loop — the broker runs over <see cref="PipeWebSocket"/> on the
/// loop's pipes. Everything else — the web app, the API, TLS (every connection to an HTTPS endpoint), a request head that came in pieces, a
/// connection that says nothing for <see cref="SilentAfter"/> — is handed to Kestrel untouched, as a
/// socket connection made by Kestrel's own <see cref="SocketConnectionContextFactory"/>, where the
/// fast path and the HTTP pipeline judge it as before. Other endpoints (Unix sockets, handles) and
/// other systems use Kestrel's socket transport unchanged.
/// </summary>
internal sealed class SignalingLoopTransport(
    IOptions<SocketTransportOptions> socketOptions,
    ILoggerFactory loggerFactory,
    IServiceProvider services) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    /// <summary>A new connection that sends nothing for this long goes to Kestrel, whose timeouts then apply.</summary>
    internal static readonly TimeSpan SilentAfter = TimeSpan.FromSeconds(2);

    private readonly SocketTransportFactory _sockets = new(socketOptions, loggerFactory);

    /// <summary>Whether this system can run the loop (64-bit Linux).</summary>
    internal static bool Supported => GhostChat.Turn.Server.Udp.LinuxSockets.Supported;

    public bool CanBind(EndPoint endpoint) => _sockets.CanBind(endpoint);

    public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        if (endpoint is IPEndPoint && Supported)
        {
            var listener = Listener.TryBind(endpoint, socketOptions.Value, loggerFactory, services);
            if (listener is not null)
            {
                return listener;
            }
        }
        return await _sockets.BindAsync(endpoint, cancellationToken);
    }

    private sealed class Listener : IConnectionListener
    {
        private static readonly TimeSpan DrainTimeout = PeerSession.CloseTimeout + TimeSpan.FromSeconds(3);
        private static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromMilliseconds(20);
        private static readonly TimeSpan DescriptorRetryDelay = TimeSpan.FromMilliseconds(100);
        private static readonly TimeSpan EpisodeEndsAfter = TimeSpan.FromSeconds(30);

        private readonly Socket _listen;
        private readonly SignalingLoop[] _loops;
        private readonly SocketConnectionContextFactory _kestrel;
        private readonly Channel<Socket> _toKestrel = Channel.CreateUnbounded<Socket>(new UnboundedChannelOptions { SingleReader = true });
        private readonly SignalingConnectionMiddleware _signaling;
        private readonly bool _noDelay;
        private readonly Task _accepting;
        private readonly CancellationTokenSource _unbound = new();
        private readonly DescriptorReserve _reserve = new();
        private readonly SignalingMetrics _metrics;
        private readonly ILogger _logger;
        private readonly Action<object, bool> _ended;
        private bool _outOfDescriptors;
        private long _lastAtLimit;
        private int _nextLoop;
        private int _served;

        private Listener(Socket listen, SocketTransportOptions options, ILoggerFactory loggers, IServiceProvider services, int loops)
        {
            _listen = listen;
            _signaling = services.GetRequiredService<SignalingConnectionMiddleware>();
            _metrics = services.GetRequiredService<SignalingMetrics>();
            _logger = loggers.CreateLogger<SignalingLoopTransport>();
            _noDelay = options.NoDelay;
            _ended = Ended;
            _kestrel = new SocketConnectionContextFactory(
                new SocketConnectionFactoryOptions
                {
                    IOQueueCount = options.IOQueueCount,
                    WaitForDataBeforeAllocatingBuffer = options.WaitForDataBeforeAllocatingBuffer,
                    MaxReadBufferSize = options.MaxReadBufferSize,
                    MaxWriteBufferSize = options.MaxWriteBufferSize,
                    UnsafePreferInlineScheduling = options.UnsafePreferInlineScheduling,
                },
                loggers.CreateLogger("Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets"));
            var created = new List<SignalingLoop>(loops);
            for (var i = 0; i < loops; i++)
            {
                var loop = SignalingLoop.TryCreate(i, OnFirstBytes, ToKestrel, SilentAfter);
                if (loop is not null)
                {
                    created.Add(loop);
                }
            }
            _loops = [.. created];
            EndPoint = listen.LocalEndPoint!;
            _accepting = _loops.Length > 0 ? AcceptLoopAsync() : Task.CompletedTask;
        }

        public EndPoint EndPoint { get; }

        public static Listener? TryBind(EndPoint endpoint, SocketTransportOptions options, ILoggerFactory loggers, IServiceProvider services)
        {
            var listen = options.CreateBoundListenSocket(endpoint);
            listen.Listen(options.Backlog);
            var listener = new Listener(listen, options, loggers, services, Environment.ProcessorCount);
            if (listener._loops.Length == 0)
            {
                listener._kestrel.Dispose();
                listen.Dispose();
                return null;
            }
            return listener;
        }

        private async Task AcceptLoopAsync()
        {
            while (true)
            {
                if (!_reserve.Held && !await WaitForDescriptorsAsync())
                {
                    break; // unbound
                }
                Socket socket;
                try
                {
                    socket = await _listen.AcceptAsync(_unbound.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException || _unbound.IsCancellationRequested)
                {
                    break; // unbound
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.TooManyOpenSockets)
                {
                    // EMFILE/ENFILE although the reserve is held: the rest of the process took the last ones.
                    OutOfDescriptors();
                    continue;
                }
                catch (SocketException)
                {
                    // The client gave up while queued, or the system is out of memory for sockets: the
                    // connection waits in the backlog and this listener goes on, a little later so as
                    // not to spin.
                    await Task.Delay(AcceptRetryDelay, CancellationToken.None);
                    continue;
                }
                if (!DescriptorReserve.OneFree())
                {
                    // This connection took the process's last free descriptor: refuse it (reset, so no
                    // close handshake waits) and stop accepting, the reserve given to the process.
                    Refuse(socket);
                    _metrics.Rejected(RejectionReasons.OutOfDescriptors);
                    OutOfDescriptors();
                    continue;
                }
                if (_outOfDescriptors && Environment.TickCount64 - _lastAtLimit > (long)EpisodeEndsAfter.TotalMilliseconds)
                {
                    _outOfDescriptors = false;
                    Log.DescriptorsFreeAgain(_logger);
                }
                if (socket.LocalEndPoint is IPEndPoint)
                {
                    socket.NoDelay = _noDelay;
                }
                var loop = _loops[(int)((uint)Interlocked.Increment(ref _nextLoop) % (uint)_loops.Length)];
                var connection = new LoopConnection(loop, socket);
                if (!loop.Add(connection))
                {
                    ToKestrel(connection);
                }
            }
            _reserve.Release();
            _toKestrel.Writer.TryComplete();
        }

        private static void Refuse(Socket socket)
        {
            try
            {
                socket.LingerState = new LingerOption(true, 0);
            }
            catch (SocketException)
            {
                // Already reset by the client.
            }
            socket.Dispose();
        }

        /// <summary>
        /// At the descriptor limit: the reserve goes to the process. Logged once for the episode, which
        /// ends when the listener has accepted for <see cref="EpisodeEndsAfter"/> without reaching the
        /// limit again (a flood that holds the limit while a few connections come and go is one episode).
        /// </summary>
        private void OutOfDescriptors()
        {
            _reserve.Release();
            _lastAtLimit = Environment.TickCount64;
            if (!_outOfDescriptors)
            {
                _outOfDescriptors = true;
                Log.OutOfDescriptors(_logger, DescriptorReserve.Size);
            }
        }

        /// <summary>Waits until the reserve can be taken again (connections closed); false once unbound.</summary>
        private async Task<bool> WaitForDescriptorsAsync()
        {
            while (!_reserve.TryTake())
            {
                try
                {
                    await Task.Delay(DescriptorRetryDelay, _unbound.Token);
                }
                catch (OperationCanceledException)
                {
                    return false;
                }
            }
            return !_unbound.IsCancellationRequested;
        }

        /// <summary>On the loop thread: a new socket's first bytes are there. Ours are served on the loop, the rest go to Kestrel.</summary>
        private void OnFirstBytes(LoopConnection connection)
        {
            var n = connection.Peek(SignalingConnectionMiddleware.MaxHeaderBytes);
            if (n == -1)
            {
                connection.WaitForFirstBytes();
                return;
            }
            if (n <= 0)
            {
                connection.Close(abort: false); // gone before saying anything
                return;
            }
            var verdict = _signaling.Classify(new ReadOnlySequence<byte>(connection.Loop.Shared, 0, n), out var request, out var consumed);
            if (verdict != SignalingConnectionMiddleware.ParseVerdict.Ours || _unbound.IsCancellationRequested || !_signaling.PlainEndpoint(EndPoint))
            {
                ToKestrel(connection);
                return;
            }
            if (!connection.Discard((int)consumed))
            {
                connection.Close(abort: true);
                return;
            }
            Interlocked.Increment(ref _served);
            // Not awaited: the session closes the connection itself when it ends (Ended), so an idle
            // socket holds the broker's one state machine and nothing of the upgrade request.
            _ = _signaling.ServeAsync(connection, request!, connection.TakeRemote(), "loop", _ended, connection, CancellationToken.None);
        }

        /// <summary>A session served on the loop has ended: its connection is closed (reset when it ended aborted).</summary>
        private void Ended(object connection, bool aborted)
        {
            ((LoopConnection)connection).Close(aborted);
            Interlocked.Decrement(ref _served);
        }

        private void ToKestrel(LoopConnection connection)
        {
            var socket = connection.DetachToSocket();
            if (socket is not null && !_toKestrel.Writer.TryWrite(socket))
            {
                socket.Dispose(); // unbound meanwhile
            }
        }

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                while (await _toKestrel.Reader.WaitToReadAsync(cancellationToken))
                {
                    if (_toKestrel.Reader.TryRead(out var socket))
                    {
                        return _kestrel.Create(socket);
                    }
                }
            }
            catch (ChannelClosedException)
            {
            }
            return null;
        }

        public async ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            await _unbound.CancelAsync();
            _listen.Dispose();
            await _accepting;
        }

        public async ValueTask DisposeAsync()
        {
            await UnbindAsync();
            // The broker closed every session with 1001 when the application began stopping; give
            // them the close handshake's time, then reset what is left.
            var deadline = DateTime.UtcNow + DrainTimeout;
            while (Volatile.Read(ref _served) > 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50, CancellationToken.None);
            }
            foreach (var loop in _loops)
            {
                foreach (var connection in loop.Connections.ToArray())
                {
                    connection.Close(abort: true);
                }
            }
            while (_toKestrel.Reader.TryRead(out var socket))
            {
                socket.Dispose();
            }
            foreach (var loop in _loops)
            {
                loop.Dispose();
            }
            _kestrel.Dispose();
            _unbound.Dispose();
        }
    }
}
