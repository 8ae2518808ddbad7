using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Threading.Channels;
using GhostChat.Turn.Stun;

namespace GhostChat.Turn.Client;

/// <summary>A STUN/TURN error answer.</summary>
public sealed class TurnException : Exception
{
    /// <summary>Creates the exception for an error code (0 = no answer).</summary>
    public TurnException(int code, string message)
        : base(message) => Code = code;

    /// <summary>Creates the exception without a code.</summary>
    public TurnException()
        : this(0, "TURN request failed")
    {
    }

    /// <summary>Creates the exception without a code.</summary>
    public TurnException(string message)
        : this(0, message)
    {
    }

    /// <summary>Creates the exception without a code.</summary>
    public TurnException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The STUN error code, or 0 when the server did not answer.</summary>
    public int Code { get; }
}

/// <summary>What an Allocate gave.</summary>
/// <param name="Relayed">The relayed transport address peers send to.</param>
/// <param name="Mapped">Our address as the server saw it.</param>
/// <param name="Lifetime">The granted lifetime.</param>
public sealed record TurnAllocation(IPEndPoint Relayed, IPEndPoint Mapped, TimeSpan Lifetime);

/// <summary>Data relayed from a peer.</summary>
/// <param name="Peer">Who sent it.</param>
/// <param name="Data">The payload.</param>
/// <param name="ViaChannel">True when it came as ChannelData, false for a Data indication.</param>
public sealed record TurnData(IPEndPoint Peer, byte[] Data, bool ViaChannel);

/// <summary>How a <see cref="TurnClient"/> reaches its server (RFC 8656 §3.1: the relay itself is always UDP).</summary>
public enum TurnTransport
{
    /// <summary>UDP datagrams; requests are retransmitted (RFC 8489 §6.2.1).</summary>
    Udp,

    /// <summary>One TCP connection; messages are framed by their own length, ChannelData padded to 4 bytes.</summary>
    Tcp,

    /// <summary>TCP with TLS (<c>turns:</c>); framing as over TCP.</summary>
    Tls,
}

/// <summary>
/// A small TURN client over UDP, TCP or TLS (RFC 8656 §7–§12): Binding, Allocate with long-term credentials
/// (401 and 438 handled), Refresh, CreatePermission, ChannelBind, Send indications, ChannelData. The API is the
/// same for every transport. Used by tests, health probes and <c>ghostchat doctor</c>.
/// </summary>
public sealed class TurnClient : IAsyncDisposable
{
    private const int MaxStreamFrame = 65535 + StunConst.HeaderSize + 4;

    private readonly Socket _socket;
    private readonly Stream? _stream;
    private readonly Lock _writeLock = new();
    private readonly ConcurrentDictionary<UInt128, TaskCompletionSource<byte[]>> _pending = new();
    private readonly ConcurrentDictionary<ushort, IPEndPoint> _channels = new();
    private readonly Channel<TurnData> _data = Channel.CreateBounded<TurnData>(new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _receiveLoop;
    private string? _username;
    private string? _realm;
    private string? _nonce;
    private byte[]? _key;
    private volatile bool _closed;

    private TurnClient(Socket socket, Stream? stream, TurnTransport transport)
    {
        _socket = socket;
        _stream = stream;
        Transport = transport;
        RemoteEndPoint = (IPEndPoint)socket.RemoteEndPoint!;
        _receiveLoop = stream is null ? Task.Run(ReceiveLoopAsync) : Task.Run(StreamReceiveLoopAsync);
    }

    /// <summary>The transport to the server.</summary>
    public TurnTransport Transport { get; }

    /// <summary>The server's address.</summary>
    public IPEndPoint RemoteEndPoint { get; }

    /// <summary>True once a TCP/TLS server closed the connection (requests then fail at once).</summary>
    public bool IsClosed => _closed;

    /// <summary>Retransmission timeout of the first try; doubled each time (RFC 8489 §6.2.1).</summary>
    public TimeSpan InitialRto { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Tries per request before giving up.</summary>
    public int MaxTries { get; set; } = 6;

    /// <summary>How many 438 Stale Nonce answers this client has seen (and retried past).</summary>
    public int StaleNonceAnswers { get; private set; }

    /// <summary>The local address of the client socket.</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>Opens a UDP socket towards <paramref name="server"/>.</summary>
    public static TurnClient ConnectUdp(IPEndPoint server, IPAddress? localAddress = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(localAddress ?? (server.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any), 0));
        socket.Connect(server);
        return new TurnClient(socket, null, TurnTransport.Udp);
    }

    /// <summary>Opens a TCP connection to <paramref name="server"/> (RFC 8656 §3.1 framing).</summary>
    public static Task<TurnClient> ConnectTcpAsync(IPEndPoint server, CancellationToken cancellationToken = default) =>
        ConnectAsync(TurnTransport.Tcp, server, null, null, cancellationToken);

    /// <summary>
    /// Opens a TLS connection to <paramref name="server"/>. <paramref name="targetHost"/> is sent as SNI and checked
    /// against the certificate (default: the IP address as text); <paramref name="certificateValidation"/> replaces the
    /// system's chain and name check (tests with self-signed certificates, or a pinned certificate).
    /// </summary>
    public static Task<TurnClient> ConnectTlsAsync(IPEndPoint server, string? targetHost = null, RemoteCertificateValidationCallback? certificateValidation = null, CancellationToken cancellationToken = default) =>
        ConnectAsync(TurnTransport.Tls, server, targetHost, certificateValidation, cancellationToken);

    /// <summary>Opens a client over any transport; <paramref name="targetHost"/> and <paramref name="certificateValidation"/> apply to TLS only.</summary>
    public static async Task<TurnClient> ConnectAsync(TurnTransport transport, IPEndPoint server, string? targetHost = null, RemoteCertificateValidationCallback? certificateValidation = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        if (transport == TurnTransport.Udp)
        {
            return ConnectUdp(server);
        }
        var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? stream = null;
        try
        {
            await socket.ConnectAsync(server, cancellationToken).ConfigureAwait(false);
            stream = new NetworkStream(socket, ownsSocket: true);
            if (transport == TurnTransport.Tls)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                var options = new SslClientAuthenticationOptions
                {
                    TargetHost = targetHost ?? server.Address.ToString(),
                    RemoteCertificateValidationCallback = certificateValidation,
                };
                await ssl.AuthenticateAsClientAsync(options, cancellationToken).ConfigureAwait(false);
            }
            return new TurnClient(socket, stream, transport);
        }
        catch
        {
            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
            socket.Dispose();
            throw;
        }
    }

    /// <summary>STUN Binding: our server-reflexive address.</summary>
    public async Task<IPEndPoint> BindingAsync(CancellationToken cancellationToken = default)
    {
        var response = await TransactAsync(StunConst.Binding, _ => { }, authenticate: false, cancellationToken).ConfigureAwait(false);
        return ReadAddress(response, StunConst.XorMappedAddress) ?? throw new TurnException(0, "Binding response without XOR-MAPPED-ADDRESS");
    }

    /// <summary>Allocates a UDP relay with long-term credentials (REST or static).</summary>
    public async Task<TurnAllocation> AllocateAsync(string username, string password, TimeSpan? lifetime = null, CancellationToken cancellationToken = default)
    {
        _username = username;
        _key = null;
        var pwd = password;
        var response = await TransactAsync(StunConst.Allocate, (w) =>
        {
            w.Raw(StunConst.RequestedTransport, [StunConst.TransportUdp, 0, 0, 0]);
            if (lifetime is { } l)
            {
                w.UInt32(StunConst.Lifetime, (uint)l.TotalSeconds);
            }
        }, authenticate: true, cancellationToken, pwd).ConfigureAwait(false);
        var relayed = ReadAddress(response, StunConst.XorRelayedAddress) ?? throw new TurnException(0, "no XOR-RELAYED-ADDRESS");
        var mapped = ReadAddress(response, StunConst.XorMappedAddress) ?? relayed;
        _ = StunMessage.TryParse(response, out var m);
        return new TurnAllocation(relayed, mapped, TimeSpan.FromSeconds(Math.Max(0, StunMessage.ReadUInt32(response, m.Lifetime))));
    }

    /// <summary>Refreshes the allocation; <see cref="TimeSpan.Zero"/> deletes it. Returns the granted lifetime.</summary>
    public async Task<TimeSpan> RefreshAsync(TimeSpan lifetime, CancellationToken cancellationToken = default)
    {
        var response = await TransactAsync(StunConst.Refresh, w => w.UInt32(StunConst.Lifetime, (uint)lifetime.TotalSeconds), authenticate: true, cancellationToken).ConfigureAwait(false);
        _ = StunMessage.TryParse(response, out var m);
        return TimeSpan.FromSeconds(Math.Max(0, StunMessage.ReadUInt32(response, m.Lifetime)));
    }

    /// <summary>Installs permissions for the peers' IP addresses.</summary>
    public Task CreatePermissionAsync(IPEndPoint peer, CancellationToken cancellationToken = default) => CreatePermissionAsync([peer], cancellationToken);

    /// <summary>Installs permissions for several peers in one request.</summary>
    public async Task CreatePermissionAsync(IReadOnlyList<IPEndPoint> peers, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(peers);
        await TransactAsync(StunConst.CreatePermission, w =>
        {
            foreach (var p in peers)
            {
                var key = RawKey(p);
                w.Xor(StunConst.XorPeerAddress, key);
            }
        }, authenticate: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Binds <paramref name="channel"/> to <paramref name="peer"/>.</summary>
    public async Task ChannelBindAsync(ushort channel, IPEndPoint peer, CancellationToken cancellationToken = default)
    {
        var key = RawKey(peer);
        await TransactAsync(StunConst.ChannelBind, w =>
        {
            w.Raw(StunConst.ChannelNumber, [(byte)(channel >> 8), (byte)channel, 0, 0]);
            w.Xor(StunConst.XorPeerAddress, key);
        }, authenticate: true, cancellationToken).ConfigureAwait(false);
        _channels[channel] = peer;
    }

    /// <summary>Sends a Send indication to <paramref name="peer"/>.</summary>
    public void Send(IPEndPoint peer, ReadOnlySpan<byte> data)
    {
        var buffer = new byte[StunConst.HeaderSize + 24 + 4 + data.Length + 8];
        var w = new StunWriter(buffer, StunConst.Send, StunClass.Indication, RandomNumberGenerator.GetBytes(12));
        w.AddXorAddress(StunConst.XorPeerAddress, RawKey(peer));
        w.AddBytes(StunConst.DataAttr, data);
        Write(w.Written);
    }

    /// <summary>Sends ChannelData on a bound channel (padded to a multiple of 4 bytes over TCP/TLS, RFC 8656 §12.5).</summary>
    public void SendChannel(ushort channel, ReadOnlySpan<byte> data)
    {
        bool stream = _stream is not null;
        var buffer = new byte[ChannelData.FrameLength(data.Length, stream)];
        data.CopyTo(buffer.AsSpan(ChannelData.HeaderSize));
        ChannelData.Frame(buffer, channel, data.Length, stream);
        Write(buffer);
    }

    /// <summary>Sends raw bytes to the server (tests: malformed input).</summary>
    public void SendRaw(ReadOnlySpan<byte> bytes) => Write(bytes);

    private void Write(ReadOnlySpan<byte> bytes)
    {
        if (_stream is null)
        {
            _socket.Send(bytes);
            return;
        }
        if (_closed)
        {
            throw new TurnException(0, "the server closed the connection");
        }
        try
        {
            lock (_writeLock)
            {
                _stream.Write(bytes);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException)
        {
            throw new TurnException("the connection to the server failed", ex);
        }
    }

    /// <summary>Waits for the next relayed payload.</summary>
    public ValueTask<TurnData> ReceiveAsync(CancellationToken cancellationToken = default) => _data.Reader.ReadAsync(cancellationToken);

    /// <summary>A message builder step list, so requests can be rebuilt with credentials.</summary>
    public sealed class RequestBuilder
    {
        internal List<(ushort Type, byte[]? Raw, PeerKey Xor)> Steps { get; } = [];

        internal void Raw(ushort type, byte[] value) => Steps.Add((type, value, default));

        internal void UInt32(ushort type, uint value) => Raw(type, [(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]);

        internal void Xor(ushort type, PeerKey peer) => Steps.Add((type, null, peer));
    }

    private async Task<byte[]> TransactAsync(int method, Action<RequestBuilder> build, bool authenticate, CancellationToken cancellationToken, string? password = null)
    {
        var builder = new RequestBuilder();
        build(builder);
        for (int attempt = 0; attempt < 4; attempt++)
        {
            var tid = RandomNumberGenerator.GetBytes(12);
            var buffer = new byte[2048];
            var w = new StunWriter(buffer, method, StunClass.Request, tid);
            foreach (var (type, raw, xor) in builder.Steps)
            {
                if (raw is null)
                {
                    w.AddXorAddress(type, xor);
                }
                else
                {
                    w.AddBytes(type, raw);
                }
            }
            if (authenticate && _key is not null)
            {
                w.AddString(StunConst.Username, _username!);
                w.AddString(StunConst.Realm, _realm!);
                w.AddString(StunConst.Nonce, _nonce!);
                w.AddMessageIntegrity(_key);
            }
            w.AddFingerprint();
            var request = w.Written.ToArray();
            var response = await RoundTripAsync(request, tid, cancellationToken).ConfigureAwait(false);
            if (!StunMessage.TryParse(response, out var m))
            {
                throw new TurnException(0, "malformed response");
            }
            if (m.Class == StunClass.Success)
            {
                return response;
            }
            int code = ReadErrorCode(response, m);
            if (authenticate && (code == 401 || code == 438) && m.Realm.Present && m.Nonce.Present && attempt < 3)
            {
                _realm = StunMessage.ReadString(response, m.Realm);
                _nonce = StunMessage.ReadString(response, m.Nonce);
                if (code == 438)
                {
                    StaleNonceAnswers++;
                }
                if (code == 401)
                {
                    if (password is null || _username is null || (_key is not null && attempt > 0))
                    {
                        throw new TurnException(code, "401 Unauthorized");
                    }
                    _key = StunIntegrity.LongTermKey(_username, _realm, password);
                }
                continue;
            }
            throw new TurnException(code, $"error {code}");
        }
        throw new TurnException(401, "authentication did not converge");
    }

    private async Task<byte[]> RoundTripAsync(byte[] request, byte[] tid, CancellationToken cancellationToken)
    {
        var id = BinaryPrimitives.ReadUInt128BigEndian(new byte[4].Concat(tid).ToArray());
        var tcs = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = tcs;
        try
        {
            if (_stream is not null)
            {
                // Reliable transport: one send, then wait as long as all UDP retransmissions would (RFC 8489 §6.2.2).
                Write(request);
                var total = InitialRto * ((1 << MaxTries) - 1);
                try
                {
                    return await tcs.Task.WaitAsync(total, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    throw new TurnException(0, "no answer from the TURN server");
                }
            }
            var rto = InitialRto;
            for (int i = 0; i < MaxTries; i++)
            {
                Write(request);
                try
                {
                    return await tcs.Task.WaitAsync(rto, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    rto *= 2;
                }
            }
            throw new TurnException(0, "no answer from the TURN server");
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[65536];
        while (!_stop.IsCancellationRequested)
        {
            int n;
            try
            {
                n = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                continue;
            }
            catch (Exception ex) when (ex is ObjectDisposedException or OperationCanceledException)
            {
                return;
            }
            HandlePacket(buffer.AsSpan(0, n));
        }
    }

    private async Task StreamReceiveLoopAsync()
    {
        var frames = new StreamFrameBuffer(4096, MaxStreamFrame);
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var free = frames.FreeSpace();
                if (free.IsEmpty)
                {
                    return;
                }
                int n = await _stream!.ReadAsync(free, _stop.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    return;
                }
                frames.Advance(n);
                if (!HandleFrames(frames))
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        finally
        {
            _closed = true;
            foreach (var pending in _pending.Values)
            {
                pending.TrySetException(new TurnException(0, "the server closed the connection"));
            }
        }
    }

    /// <summary>Handles every whole frame read so far; false when the stream is out of sync.</summary>
    private bool HandleFrames(StreamFrameBuffer frames)
    {
        while (true)
        {
            var result = frames.TryNext(out var frame);
            // Out of sync (neither STUN nor ChannelData on a channel we bound: an HTTP server, a TLS alert, garbage): a
            // stream cannot be resynchronised, so close it and fail what waits. A partial frame's header is checked too.
            if (result == StreamFrame.OutOfSync
                || (frame.Length >= 4 && StunFraming.LooksLikeChannelData(frame) && !_channels.ContainsKey(BinaryPrimitives.ReadUInt16BigEndian(frame)))
                || ((frame.Length >= 8) && (frame[0] & 0xC0) == 0 && BinaryPrimitives.ReadUInt32BigEndian(frame[4..]) != StunConst.MagicCookie))
            {
                return false;
            }
            if (result == StreamFrame.Incomplete)
            {
                return true;
            }
            HandlePacket(frame);
        }
    }

    private void HandlePacket(ReadOnlySpan<byte> packet)
    {
        int n = packet.Length;
        if (StunFraming.LooksLikeChannelData(packet))
        {
            ushort ch = BinaryPrimitives.ReadUInt16BigEndian(packet);
            int len = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
            if (len <= n - 4 && _channels.TryGetValue(ch, out var peer))
            {
                _data.Writer.TryWrite(new TurnData(peer, packet.Slice(4, len).ToArray(), true));
            }
            return;
        }
        if (!StunMessage.TryParse(packet, out var m))
        {
            return;
        }
        if (m.Class == StunClass.Indication && m.Method == StunConst.Data)
        {
            if (m.PeerCount == 1 && StunMessage.TryReadXorAddress(packet, m.Peers[0], out var peer) && m.Data.Present)
            {
                _data.Writer.TryWrite(new TurnData(peer.ToEndPoint(), m.Data.Of(packet).ToArray(), false));
            }
            return;
        }
        var id = BinaryPrimitives.ReadUInt128BigEndian(new byte[4].Concat(packet.Slice(8, 12).ToArray()).ToArray());
        if (_pending.TryGetValue(id, out var tcs))
        {
            tcs.TrySetResult(packet.ToArray());
        }
    }

    private static int ReadErrorCode(byte[] response, StunMessage m)
    {
        if (!m.ErrorCode.Present || m.ErrorCode.Length < 4)
        {
            return 0;
        }
        var v = response.AsSpan(m.ErrorCode.Offset);
        return ((v[2] & 7) * 100) + v[3];
    }

    private static IPEndPoint? ReadAddress(byte[] response, ushort type)
    {
        if (!StunMessage.TryParse(response, out var m))
        {
            return null;
        }
        var attr = type switch
        {
            StunConst.XorRelayedAddress => m.XorRelayedAddress,
            _ => m.XorMappedAddress,
        };
        return StunMessage.TryReadXorAddress(response, attr, out var key) ? key.ToEndPoint() : null;
    }

    /// <summary>Encodes the peer exactly as given (IPv4-mapped IPv6 stays IPv6 on the wire) so tests can try every spelling.</summary>
    private static PeerKey RawKey(IPEndPoint peer)
    {
        if (peer.AddressFamily == AddressFamily.InterNetwork)
        {
            return PeerKey.FromEndPoint(peer);
        }
        Span<byte> bytes = stackalloc byte[16];
        peer.Address.TryWriteBytes(bytes, out _);
        return new PeerKey(BinaryPrimitives.ReadUInt128BigEndian(bytes), (ushort)peer.Port, true);
    }

    /// <summary>Closes the socket (and the TCP/TLS stream).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_stream is not null)
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
        _socket.Dispose();
        try
        {
            await _receiveLoop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }
}
