using System.Diagnostics.Metrics;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using GhostChat.Turn.Auth;
using GhostChat.Turn.Security;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GhostChat.Turn.Server;

/// <summary>
/// The STUN/TURN server (RFC 8489, RFC 8656) over UDP, TCP and, with a certificate, TLS. Start it with
/// <see cref="StartAsync"/>; it owns its sockets and loops until disposed. It only puts the parts together:
/// listeners (<see cref="UdpListener"/>, <see cref="StreamListener"/>) hand each message to the
/// <see cref="RequestHandler"/> or to the client's <see cref="Allocation"/>; the <see cref="AllocationManager"/>
/// owns allocations, quotas and lifetimes; <see cref="TurnMetrics"/> counts.
/// </summary>
public sealed class TurnServer : IAsyncDisposable
{
    /// <summary>The meter every instrument of this library belongs to.</summary>
    public const string MeterName = "GhostChat.Turn";

    private readonly TurnServerOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly TurnMetrics _metrics;
    private readonly AllocationManager _allocations;
    private readonly StunResponder _responder;
    private readonly RequestAuthenticator _authenticator;
    private readonly BindingHandler _binding;
    private readonly CancellationTokenSource _stopping = new();
    private UdpListener? _udp;
    private StreamListener? _streams;
    private X509Certificate2? _certificate;
    private IPAddress _advertised = IPAddress.Loopback;

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
        _time = timeProvider ?? TimeProvider.System;
        _metrics = new TurnMetrics(meterFactory, _logger);
        _allocations = new AllocationManager(options, _metrics, _time, _logger);
        _metrics.Observe(() => _allocations.Count, () => _streams?.Count ?? 0);
        var nonces = new NonceIssuer(_time, options.NonceLifetime);
        _responder = new StunResponder(options, nonces, _logger);
        _authenticator = new RequestAuthenticator(options, nonces, _time, _metrics, _responder);
        _binding = new BindingHandler(_responder);
    }

    /// <summary>Bound UDP endpoints (one per listen address).</summary>
    public IReadOnlyList<IPEndPoint> UdpEndPoints { get; private set; } = [];

    /// <summary>Bound TCP endpoints.</summary>
    public IReadOnlyList<IPEndPoint> TcpEndPoints { get; private set; } = [];

    /// <summary>Bound TLS endpoints (empty without a certificate).</summary>
    public IReadOnlyList<IPEndPoint> TlsEndPoints { get; private set; } = [];

    /// <summary>
    /// The bound STUN-only endpoints (empty when <see cref="TurnServerOptions.AlternatePort"/> is -1): first the first
    /// listen address on the alternate port, then, with an alternate address, that address on the UDP port and on the
    /// alternate port.
    /// </summary>
    public IReadOnlyList<IPEndPoint> AlternateEndPoints { get; private set; } = [];

    /// <summary>The bound alternate STUN port, or -1 when RFC 5780 discovery is off.</summary>
    public int AlternatePort => AlternateEndPoints.Count > 0 ? AlternateEndPoints[0].Port : -1;

    /// <summary>The relayed address clients are told.</summary>
    public IPAddress AdvertisedAddress => _advertised;

    /// <summary>Allocations now open.</summary>
    public int AllocationCount => _allocations.Count;

    /// <summary>Packets relayed since start (both directions).</summary>
    public long RelayedPackets => _metrics.RelayedPackets;

    /// <summary>Packets dropped since start.</summary>
    public long DroppedPackets => _metrics.DroppedPackets;

    /// <summary>Datagrams since start that the kernel handed over coalesced (UDP GRO), split again by the server.</summary>
    public long CoalescedPackets => _metrics.CoalescedPackets;

    /// <summary>Exceptions caught around one packet since start (should stay 0).</summary>
    public long HandlerFaults => _metrics.HandlerFaults;

    /// <summary>True when relay sockets are served in batches by the Linux epoll thread (UdpBatchedIo on, and the kernel takes the calls).</summary>
    public bool RelayBatched => _allocations.RelayBatched;

    /// <summary>Binds every listener and starts the receive loops.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        var listen = _options.ListenAddresses.Count == 0 ? [IPAddress.Any] : _options.ListenAddresses.Select(IPAddress.Parse).ToList();
        var relayBind = _options.RelayAddress is not null ? IPAddress.Parse(_options.RelayAddress)
            : listen.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? IPAddress.Any;
        _advertised = _options.AdvertisedAddress is not null ? IPAddress.Parse(_options.AdvertisedAddress)
            : !relayBind.Equals(IPAddress.Any) && !relayBind.Equals(IPAddress.IPv6Any) ? relayBind : MachineAddresses().FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a)) ?? IPAddress.Loopback;
        var own = MachineAddresses().Concat(listen).Append(relayBind).Append(_advertised).Where(a => !a.Equals(IPAddress.Any) && !a.Equals(IPAddress.IPv6Any)).ToList();
        var policy = new PeerPolicy(
            _options.AllowedPeers.Select(p => IpNetwork.TryParse(p, out var n) ? n : default),
            own,
            _options.DeniedPeers.Select(p => IpNetwork.TryParse(p, out var n) ? n : default));
        if (_options.TlsCertificatePath is not null)
        {
            _certificate = LoadCertificate(_options.TlsCertificatePath, _options.TlsKeyPath);
        }
        _allocations.Start(relayBind, _advertised);
        var handler = new RequestHandler(_options, _allocations, _authenticator, _responder, _binding, policy, _time, _metrics, _logger);
        _udp = new UdpListener(_options, _allocations, handler, _binding, _metrics, _logger, _stopping.Token);
        _streams = new StreamListener(_options, _certificate, _allocations, handler, _metrics, _logger, _stopping.Token);

        var udp = new List<IPEndPoint>();
        var tcp = new List<IPEndPoint>();
        var tls = new List<IPEndPoint>();
        int loops = _options.UdpReceiveLoops > 0 ? _options.UdpReceiveLoops : Environment.ProcessorCount;
        List<Socket> primaryUdp = [];
        foreach (var address in listen)
        {
            if (_options.UdpPort >= 0)
            {
                var (bound, sockets) = _udp.Bind(address, _options.UdpPort, loops);
                udp.Add(bound);
                if (udp.Count == 1)
                {
                    primaryUdp = sockets;
                }
            }
            if (_options.TcpPort >= 0)
            {
                tcp.Add(_streams.Listen(address, _options.TcpPort, tls: false));
            }
            if (_certificate is not null)
            {
                tls.Add(_streams.Listen(address, _options.TlsPort, tls: true));
            }
        }
        UdpEndPoints = udp;
        TcpEndPoints = tcp;
        TlsEndPoints = tls;
        if (_options.AlternatePort >= 0)
        {
            AlternateEndPoints = _udp.StartNatDiscovery(listen[0], udp[0], primaryUdp, _advertised);
        }
        string udpText = string.Join(", ", udp), tcpText = string.Join(", ", tcp), tlsText = string.Join(", ", tls), advertisedText = _advertised.ToString();
        Log.Started(_logger, udpText, tcpText, tlsText, advertisedText);
        return Task.CompletedTask;
    }

    /// <summary>Stops every loop and closes every socket and allocation.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        _streams?.Dispose();
        _udp?.Dispose();
        _allocations.Dispose();
        _metrics.Dispose();
        _certificate?.Dispose();
        _stopping.Dispose();
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
}
