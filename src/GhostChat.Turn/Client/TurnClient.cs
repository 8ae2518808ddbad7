using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
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

/// <summary>
/// A small TURN client over UDP (RFC 8656 §7–§12): Binding, Allocate with long-term credentials (401 and
/// 438 handled), Refresh, CreatePermission, ChannelBind, Send indications, ChannelData. Used by tests,
/// health probes and <c>ghostchat doctor</c>.
/// </summary>
public sealed class TurnClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly ConcurrentDictionary<UInt128, TaskCompletionSource<byte[]>> _pending = new();
    private readonly ConcurrentDictionary<ushort, IPEndPoint> _channels = new();
    private readonly Channel<TurnData> _data = Channel.CreateBounded<TurnData>(new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _receiveLoop;
    private string? _username;
    private string? _realm;
    private string? _nonce;
    private byte[]? _key;

    private TurnClient(Socket socket)
    {
        _socket = socket;
        _receiveLoop = Task.Run(ReceiveLoopAsync);
    }

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
        return new TurnClient(socket);
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
        _socket.Send(w.Written);
    }

    /// <summary>Sends ChannelData on a bound channel.</summary>
    public void SendChannel(ushort channel, ReadOnlySpan<byte> data)
    {
        var buffer = new byte[4 + data.Length];
        BinaryPrimitives.WriteUInt16BigEndian(buffer, channel);
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(2), (ushort)data.Length);
        data.CopyTo(buffer.AsSpan(4));
        _socket.Send(buffer);
    }

    /// <summary>Sends raw bytes to the server (tests: malformed input).</summary>
    public void SendRaw(ReadOnlySpan<byte> bytes) => _socket.Send(bytes);

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
            var rto = InitialRto;
            for (int i = 0; i < MaxTries; i++)
            {
                _socket.Send(request);
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
            var packet = buffer.AsSpan(0, n);
            if (StunFraming.LooksLikeChannelData(packet))
            {
                ushort ch = BinaryPrimitives.ReadUInt16BigEndian(packet);
                int len = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
                if (len <= n - 4 && _channels.TryGetValue(ch, out var peer))
                {
                    _data.Writer.TryWrite(new TurnData(peer, packet.Slice(4, len).ToArray(), true));
                }
                continue;
            }
            if (!StunMessage.TryParse(packet, out var m))
            {
                continue;
            }
            if (m.Class == StunClass.Indication && m.Method == StunConst.Data)
            {
                if (m.PeerCount == 1 && StunMessage.TryReadXorAddress(packet, m.Peers[0], out var peer) && m.Data.Present)
                {
                    _data.Writer.TryWrite(new TurnData(peer.ToEndPoint(), m.Data.Of(packet).ToArray(), false));
                }
                continue;
            }
            var id = BinaryPrimitives.ReadUInt128BigEndian(new byte[4].Concat(packet.Slice(8, 12).ToArray()).ToArray());
            if (_pending.TryGetValue(id, out var tcs))
            {
                tcs.TrySetResult(packet.ToArray());
            }
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

    /// <summary>Closes the socket.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
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
