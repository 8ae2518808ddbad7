using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using GhostChat.Turn.Auth;
using GhostChat.Turn.Security;
using GhostChat.Turn.Stun;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GhostChat.Turn.Server;

/// <summary>
/// The STUN/TURN server (RFC 8489, RFC 8656) over UDP, TCP and, with a certificate, TLS. Start it with
/// <see cref="StartAsync"/>; it owns its sockets and loops until disposed.
/// </summary>
public sealed partial class TurnServer : IAsyncDisposable
{
    /// <summary>The meter every instrument of this library belongs to.</summary>
    public const string MeterName = "GhostChat.Turn";

    private const int MaxStreamFrame = 65535 + StunConst.HeaderSize;

    private readonly TurnServerOptions _options;
    private readonly ILogger _logger;
    private readonly NonceIssuer _nonces;
    private readonly ConcurrentDictionary<SocketAddress, Allocation> _udpAllocations = new();
    private readonly ConcurrentDictionary<Allocation, byte> _allAllocations = new();
    private readonly ConcurrentDictionary<string, int> _perUser = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<PeerKey, int> _perSource = new();
    private readonly ConcurrentDictionary<PeerKey, int> _streamsPerSource = new();
    private readonly ConcurrentDictionary<string, RefusalTally> _refusalTallies = new(StringComparer.Ordinal);
    private readonly ChallengeLimiter _challenges;
    private readonly Counter<long> _refusals;
    private readonly Lock _streamGate = new();
    private int _streamCount;
    private readonly List<Socket> _udpSockets = [];
    private readonly List<Socket> _listeners = [];
    private readonly List<Thread> _threads = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _allocateGate = new();
    private readonly Meter _meter;
    private readonly Random _random = new();
    private PeerPolicy _policy = null!;
    private IPAddress _relayBind = IPAddress.Any;
    private IPAddress _advertised = IPAddress.Loopback;
    private X509Certificate2? _certificate;
    private ITimer? _sweeper;
    private int _allocationCount;
    private long _relayedPackets;
    private long _relayedBytes;
    private long _dropped;
    private long _allocationsCreated;
    private long _handlerFaults;

    /// <summary>Creates a server; nothing is bound until <see cref="StartAsync"/>.</summary>
    public TurnServer(TurnServerOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid TURN options:" + Environment.NewLine + string.Join(Environment.NewLine, errors), nameof(options));
        }
        _options = options;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("GhostChat.Turn.Server");
        Time = timeProvider ?? TimeProvider.System;
        _nonces = new NonceIssuer(Time, options.NonceLifetime);
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _meter.CreateObservableUpDownCounter("ghostchat.turn.allocations.active", () => Volatile.Read(ref _allocationCount), description: "Allocations now open.");
        _meter.CreateObservableCounter("ghostchat.turn.allocations.created", () => Interlocked.Read(ref _allocationsCreated), description: "Allocations made since start.");
        _meter.CreateObservableCounter("ghostchat.turn.relayed.packets", () => Interlocked.Read(ref _relayedPackets), description: "Packets relayed, both directions.");
        _meter.CreateObservableCounter("ghostchat.turn.relayed.bytes", () => Interlocked.Read(ref _relayedBytes), unit: "By", description: "Payload bytes relayed, both directions.");
        _meter.CreateObservableCounter("ghostchat.turn.dropped.packets", () => Interlocked.Read(ref _dropped), description: "Packets dropped: no permission, rate limit, malformed.");
        _meter.CreateObservableUpDownCounter("ghostchat.turn.connections.active", () => Volatile.Read(ref _streamCount), description: "TCP and TLS connections now open.");
        _refusals = _meter.CreateCounter<long>("ghostchat.turn.refusals", description: "Requests, connections and sends refused by an abuse limit, by reason.");
        _challenges = new ChallengeLimiter(options.UnauthorizedPerSecondPerSource, Time);
    }

    internal TimeProvider Time { get; }

    internal long NowTicks => Time.GetUtcNow().UtcTicks;

    /// <summary>Bound UDP endpoints (one per listen address).</summary>
    public IReadOnlyList<IPEndPoint> UdpEndPoints { get; private set; } = [];

    /// <summary>Bound TCP endpoints.</summary>
    public IReadOnlyList<IPEndPoint> TcpEndPoints { get; private set; } = [];

    /// <summary>Bound TLS endpoints (empty without a certificate).</summary>
    public IReadOnlyList<IPEndPoint> TlsEndPoints { get; private set; } = [];

    /// <summary>The relayed address clients are told.</summary>
    public IPAddress AdvertisedAddress => _advertised;

    /// <summary>Allocations now open.</summary>
    public int AllocationCount => Volatile.Read(ref _allocationCount);

    /// <summary>Packets relayed since start (both directions).</summary>
    public long RelayedPackets => Interlocked.Read(ref _relayedPackets);

    /// <summary>Packets dropped since start.</summary>
    public long DroppedPackets => Interlocked.Read(ref _dropped);

    /// <summary>Exceptions caught around one packet since start (should stay 0).</summary>
    public long HandlerFaults => Interlocked.Read(ref _handlerFaults);

    /// <summary>Binds every listener and starts the receive loops.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        var listen = _options.ListenAddresses.Count == 0 ? [IPAddress.Any] : _options.ListenAddresses.Select(IPAddress.Parse).ToList();
        _relayBind = _options.RelayAddress is not null ? IPAddress.Parse(_options.RelayAddress)
            : listen.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? IPAddress.Any;
        _advertised = _options.AdvertisedAddress is not null ? IPAddress.Parse(_options.AdvertisedAddress)
            : !_relayBind.Equals(IPAddress.Any) && !_relayBind.Equals(IPAddress.IPv6Any) ? _relayBind : MachineAddresses().FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a)) ?? IPAddress.Loopback;
        var own = MachineAddresses().Concat(listen).Append(_relayBind).Append(_advertised).Where(a => !a.Equals(IPAddress.Any) && !a.Equals(IPAddress.IPv6Any)).ToList();
        _policy = new PeerPolicy(
            _options.AllowedPeers.Select(p => IpNetwork.TryParse(p, out var n) ? n : default),
            own,
            _options.DeniedPeers.Select(p => IpNetwork.TryParse(p, out var n) ? n : default));
        if (_options.TlsCertificatePath is not null)
        {
            _certificate = LoadCertificate(_options.TlsCertificatePath, _options.TlsKeyPath);
        }

        var udp = new List<IPEndPoint>();
        var tcp = new List<IPEndPoint>();
        var tls = new List<IPEndPoint>();
        int loops = _options.UdpReceiveLoops > 0 ? _options.UdpReceiveLoops : Environment.ProcessorCount;
        List<Socket> primaryUdp = [];
        foreach (var address in listen)
        {
            if (_options.UdpPort >= 0)
            {
                int before = _udpSockets.Count;
                udp.Add(BindUdp(address, _options.UdpPort, loops));
                if (udp.Count == 1)
                {
                    primaryUdp = _udpSockets.GetRange(before, _udpSockets.Count - before);
                }
            }
            if (_options.TcpPort >= 0)
            {
                tcp.Add(Listen(address, _options.TcpPort, tls: false));
            }
            if (_certificate is not null)
            {
                tls.Add(Listen(address, _options.TlsPort, tls: true));
            }
        }
        UdpEndPoints = udp;
        TcpEndPoints = tcp;
        TlsEndPoints = tls;
        if (_options.AlternatePort >= 0)
        {
            StartNatDiscovery(listen[0], udp[0], primaryUdp);
        }
        _sweeper = Time.CreateTimer(_ => Sweep(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        string udpText = string.Join(", ", udp), tcpText = string.Join(", ", tcp), tlsText = string.Join(", ", tls), advertisedText = _advertised.ToString();
        Log.Started(_logger, udpText, tcpText, tlsText, advertisedText);
        return Task.CompletedTask;
    }

    private static X509Certificate2 LoadCertificate(string certPath, string? keyPath)
    {
        var cert = X509Certificate2.CreateFromPemFile(certPath, keyPath);
        // SslStream on Linux wants a certificate whose key is not ephemeral.
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pkcs12), null);
    }

    private static List<IPAddress> MachineAddresses()
    {
        try
        {
            return NetworkInterface.GetAllNetworkInterfaces().SelectMany(i => i.GetIPProperties().UnicastAddresses).Select(u => u.Address).ToList();
        }
        catch (NetworkInformationException)
        {
            return [];
        }
    }

    private IPEndPoint BindUdp(IPAddress address, int port, int loops)
    {
        IPEndPoint? bound = null;
        if (loops > 1 && port != 0 && OperatingSystem.IsLinux())
        {
            // SO_REUSEPORT would let us share a port another server (coturn sets it too) already holds and split its
            // traffic silently: probe with a plain bind first so a taken port fails loudly.
            using var probe = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            probe.Bind(new IPEndPoint(address, port));
        }
        for (int i = 0; i < loops; i++)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            if (address.AddressFamily == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = address.Equals(IPAddress.IPv6Any);
            }
            if (loops > 1 && OperatingSystem.IsLinux())
            {
                // SO_REUSEPORT (15): the kernel spreads clients over the sockets by their 4-tuple.
                socket.SetRawSocketOption(1, 15, BitConverter.GetBytes(1));
            }
            socket.ReceiveBufferSize = 4 * 1024 * 1024;
            socket.SendBufferSize = 4 * 1024 * 1024;
            socket.Bind(bound ?? new IPEndPoint(address, port));
            bound ??= (IPEndPoint)socket.LocalEndPoint!;
            _udpSockets.Add(socket);
            var thread = new Thread(() => UdpLoop(socket)) { IsBackground = true, Name = "turn-udp-" + i };
            _threads.Add(thread);
            thread.Start();
            if (!OperatingSystem.IsLinux())
            {
                break;
            }
        }
        return bound!;
    }

    private IPEndPoint Listen(IPAddress address, int port, bool tls)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        socket.NoDelay = true;
        socket.Bind(new IPEndPoint(address, port));
        socket.Listen(512);
        _listeners.Add(socket);
        _ = AcceptLoopAsync(socket, tls);
        return (IPEndPoint)socket.LocalEndPoint!;
    }

    private void UdpLoop(Socket socket, bool bindingOnly = false)
    {
        // One MTU-sized buffer per loop; oversize datagrams are truncated by the kernel and dropped.
        var buffer = new byte[_options.MaxPayloadSize + 128];
        var from = new SocketAddress(socket.AddressFamily);
        while (!_stopping.IsCancellationRequested)
        {
            int n;
            try
            {
                n = socket.ReceiveFrom(buffer, SocketFlags.None, from);
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.MessageSize or SocketError.ConnectionReset)
            {
                CountDropped();
                continue;
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                return;
            }
            try
            {
                if (bindingOnly)
                {
                    HandleBindingOnlyUdp(socket, buffer.AsSpan(0, n), from);
                }
                else
                {
                    HandleUdp(socket, buffer.AsSpan(0, n), from);
                }
            }
            catch (Exception ex)
            {
                HandlerFault(ex);
            }
        }
    }

    private void HandleUdp(Socket socket, ReadOnlySpan<byte> packet, SocketAddress from)
    {
        if (StunFraming.LooksLikeChannelData(packet))
        {
            if (_udpAllocations.TryGetValue(from, out var allocation))
            {
                allocation.RelayChannelData(packet);
            }
            else
            {
                CountDropped();
            }
            return;
        }
        if (!StunMessage.TryParse(packet, out var message))
        {
            CountDropped();
            return;
        }
        if (message.Class == StunClass.Indication)
        {
            if (message.Method == StunConst.Send && _udpAllocations.TryGetValue(from, out var allocation))
            {
                HandleSend(packet, ref message, allocation);
            }
            return;
        }
        if (message.Class != StunClass.Request)
        {
            return;
        }
        _udpAllocations.TryGetValue(from, out var existing);
        ClientLink link = existing?.Link ?? new UdpLink(socket, Clone(from));
        HandleRequest(packet, ref message, link, existing);
    }

    private static SocketAddress Clone(SocketAddress address)
    {
        var copy = new SocketAddress(address.Family, address.Size);
        address.Buffer.Span[..address.Size].CopyTo(copy.Buffer.Span);
        return copy;
    }

    private async Task AcceptLoopAsync(Socket listener, bool tls)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                if (_stopping.IsCancellationRequested)
                {
                    return;
                }
                continue;
            }
            if (!TryAdmit(client, out var source))
            {
                continue;
            }
            _ = ServeStreamAsync(client, tls, source);
        }
    }

    /// <summary>The connection caps, in total and per source: a connection beyond them is closed at once.</summary>
    private bool TryAdmit(Socket client, out PeerKey source)
    {
        source = client.RemoteEndPoint is IPEndPoint remote ? PeerKey.FromEndPoint(remote).SourceBucket : default;
        string? refusal = null;
        lock (_streamGate)
        {
            if (_streamCount >= _options.MaxStreamConnections)
            {
                refusal = Refusal.ConnectionCap;
            }
            else if (_streamsPerSource.GetValueOrDefault(source) >= _options.MaxStreamConnectionsPerSource)
            {
                refusal = Refusal.SourceConnectionCap;
            }
            else
            {
                _streamCount++;
                _streamsPerSource[source] = _streamsPerSource.GetValueOrDefault(source) + 1;
            }
        }
        if (refusal is null)
        {
            return true;
        }
        Refuse(refusal);
        try
        {
            // A reset, not a FIN: no TIME_WAIT kept for a connection refused on arrival.
            client.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
        }
        client.Dispose();
        return false;
    }

    private void Release(PeerKey source)
    {
        lock (_streamGate)
        {
            _streamCount--;
            Decrement(_streamsPerSource, source);
        }
    }

    /// <summary>Serves one admitted connection; its place under the caps is given back however it ends.</summary>
    private async Task ServeStreamAsync(Socket socket, bool tls, PeerKey source)
    {
        try
        {
            await ServeConnectionAsync(socket, tls).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Reset before serving began.
            socket.Dispose();
        }
        finally
        {
            Release(source);
        }
    }

    private async Task ServeConnectionAsync(Socket socket, bool tls)
    {
        socket.NoDelay = true;
        var remote = (IPEndPoint)socket.RemoteEndPoint!;
        if (remote.Address.IsIPv4MappedToIPv6)
        {
            remote = new IPEndPoint(remote.Address.MapToIPv4(), remote.Port);
        }
        Stream stream = new NetworkStream(socket, ownsSocket: true);
        StreamLink? link = null;
        // Per-connection frame buffer: capped at the largest STUN message.
        var buffer = new byte[4096];
        // The TLS handshake and the first STUN message must come within the first-message deadline; after that
        // only a complete, well-formed STUN message re-arms the idle deadline (bytes that make none do not), and a
        // connection that holds an allocation has none (the allocation's lifetime bounds it).
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        idle.CancelAfter(_options.StreamFirstMessageTimeout);
        bool heard = false;
        try
        {
            if (tls)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate }, idle.Token).ConfigureAwait(false);
            }
            link = new StreamLink(stream, remote, this, idle, _options.StreamSendQueueBytes, _options.StreamWriteTimeout);
            int filled = 0;
            while (!_stopping.IsCancellationRequested)
            {
                if (filled == buffer.Length)
                {
                    if (buffer.Length >= MaxStreamFrame + 4)
                    {
                        return;
                    }
                    Array.Resize(ref buffer, Math.Min(buffer.Length * 2, MaxStreamFrame + 4));
                }
                int n = await stream.ReadAsync(buffer.AsMemory(filled), idle.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    return;
                }
                filled += n;
                int consumed = 0;
                while (filled - consumed >= 4)
                {
                    var rest = buffer.AsSpan(consumed, filled - consumed);
                    int frame;
                    int length = (rest[2] << 8) | rest[3];
                    if ((rest[0] & 0xC0) == 0x40)
                    {
                        frame = (4 + length + 3) & ~3;
                    }
                    else if ((rest[0] & 0xC0) == 0)
                    {
                        frame = StunConst.HeaderSize + length;
                    }
                    else
                    {
                        return; // Neither STUN nor ChannelData: the stream is out of sync.
                    }
                    if (frame > rest.Length)
                    {
                        break;
                    }
                    try
                    {
                        if (HandleStreamFrame(rest[..frame], link))
                        {
                            heard = true;
                            link.ArmIdle(link.Allocation is null ? _options.UnallocatedStreamTimeout : Timeout.InfiniteTimeSpan);
                        }
                    }
                    catch (Exception ex)
                    {
                        HandlerFault(ex);
                    }
                    consumed += frame;
                }
                if (consumed > 0)
                {
                    Buffer.BlockCopy(buffer, consumed, buffer, 0, filled - consumed);
                    filled -= consumed;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException or System.Security.Authentication.AuthenticationException)
        {
            if (idle.IsCancellationRequested && !_stopping.IsCancellationRequested)
            {
                Refuse(heard ? Refusal.IdleTimeout : Refusal.FirstMessageTimeout);
            }
            string reason = ex.GetType().Name;
            Log.StreamClosed(_logger, reason);
        }
        finally
        {
            link?.Close();
            if (link?.Allocation is { } allocation)
            {
                Remove(allocation);
            }
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Handles one frame; true when it was well-formed STUN or ChannelData on this connection's allocation.</summary>
    private bool HandleStreamFrame(ReadOnlySpan<byte> frame, StreamLink link)
    {
        if ((frame[0] & 0xC0) == 0x40)
        {
            if (link.Allocation is { } allocation)
            {
                allocation.RelayChannelData(frame);
                return true;
            }
            return false;
        }
        if (!StunMessage.TryParse(frame, out var message))
        {
            CountDropped();
            return false;
        }
        if (message.Class == StunClass.Indication)
        {
            if (message.Method == StunConst.Send && link.Allocation is { } allocation)
            {
                HandleSend(frame, ref message, allocation);
            }
            return true;
        }
        if (message.Class == StunClass.Request)
        {
            HandleRequest(frame, ref message, link, link.Allocation);
            return true;
        }
        return false;
    }

    internal void CountRelayed(int bytes)
    {
        Interlocked.Increment(ref _relayedPackets);
        Interlocked.Add(ref _relayedBytes, bytes);
    }

    internal void CountDropped() => Interlocked.Increment(ref _dropped);

    internal void HandlerFault(Exception ex)
    {
        Interlocked.Increment(ref _handlerFaults);
        string typeName = ex.GetType().Name;
        Log.HandlerFault(_logger, typeName, ex);
    }

    private void Sweep()
    {
        try
        {
            long now = NowTicks;
            foreach (var allocation in _allAllocations.Keys)
            {
                if (allocation.ExpiresTicks <= now)
                {
                    Remove(allocation);
                }
                else
                {
                    allocation.Sweep(now);
                }
            }
        }
        catch (Exception ex)
        {
            HandlerFault(ex);
        }
    }

    private void Remove(Allocation allocation)
    {
        if (!_allAllocations.TryRemove(allocation, out _))
        {
            return;
        }
        if (allocation.Link is UdpLink udp)
        {
            _udpAllocations.TryRemove(new KeyValuePair<SocketAddress, Allocation>(udp.Address, allocation));
        }
        else if (allocation.Link is StreamLink stream && stream.Allocation == allocation)
        {
            stream.Allocation = null;
            // Without its allocation the connection is an idle one again.
            stream.ArmIdle(_options.UnallocatedStreamTimeout);
        }
        lock (_allocateGate)
        {
            Decrement(_perUser, allocation.User);
            Decrement(_perSource, allocation.Link.Remote.SourceBucket);
        }
        Interlocked.Decrement(ref _allocationCount);
        allocation.Close();
        Log.AllocationClosed(_logger);
    }

    private static void Decrement<TKey>(ConcurrentDictionary<TKey, int> counts, TKey key)
        where TKey : notnull
    {
        int left = counts.GetValueOrDefault(key) - 1;
        if (left <= 0)
        {
            counts.TryRemove(key, out _);
        }
        else
        {
            counts[key] = left;
        }
    }

    /// <summary>
    /// Counts a refusal by an abuse limit (metric <c>ghostchat.turn.refusals</c>, tag <c>reason</c>) and logs it at
    /// Information at most every 10 s per reason, with the count since: no addresses, no users.
    /// </summary>
    internal void Refuse(string reason)
    {
        _refusals.Add(1, new KeyValuePair<string, object?>("reason", reason));
        var tally = _refusalTallies.GetOrAdd(reason, static _ => new RefusalTally());
        long count = Interlocked.Increment(ref tally.Count);
        long now = Environment.TickCount64;
        long last = Volatile.Read(ref tally.LastLog);
        if ((last == 0 || now - last >= 10_000) && Interlocked.CompareExchange(ref tally.LastLog, now, last) == last)
        {
            long since = count - Interlocked.Exchange(ref tally.Logged, count);
            Log.AbuseLimit(_logger, reason, since);
        }
    }

    private sealed class RefusalTally
    {
        public long Count;
        public long Logged;
        public long LastLog;
    }

    /// <summary>Stops every loop and closes every socket and allocation.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        _sweeper?.Dispose();
        foreach (var s in _udpSockets.Concat(_listeners))
        {
            s.Dispose();
        }
        foreach (var a in _allAllocations.Keys)
        {
            Remove(a);
        }
        foreach (var t in _threads)
        {
            t.Join(TimeSpan.FromSeconds(5));
        }
        _meter.Dispose();
        _certificate?.Dispose();
        _stopping.Dispose();
    }
}
