using System.Net;
using GhostChat.Turn.Security;

namespace GhostChat.Turn.Server;

/// <summary>
/// Settings of the embedded STUN/TURN server. Every default is safe for a public server; bind from
/// configuration section <c>GhostChat:Turn</c> in GhostChat.Server.
/// </summary>
public sealed class TurnServerOptions
{
    /// <summary>Hosts start the server only when true. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Addresses to listen on for UDP and TCP. Default <c>0.0.0.0</c>.</summary>
    public List<string> ListenAddresses { get; set; } = [];

    /// <summary>UDP port; 0 picks a free port, -1 turns UDP off. Default 3478.</summary>
    public int UdpPort { get; set; } = 3478;

    /// <summary>TCP port; 0 picks a free port, -1 turns TCP off. Default 3478.</summary>
    public int TcpPort { get; set; } = 3478;

    /// <summary>
    /// A second UDP port that answers STUN Binding only, for NAT behaviour discovery (RFC 5780): Binding answers then
    /// carry RESPONSE-ORIGIN and OTHER-ADDRESS, and CHANGE-REQUEST (answer from the other port) is honoured.
    /// -1 = off, 0 = a free port. Default -1: RFC 5780 answers are larger than the request and CHANGE-REQUEST makes
    /// the server answer from an address the request did not go to, which helps reflection and amplification
    /// attacks; coturn ships it off too. Only the first listen address gets it.
    /// </summary>
    public int AlternatePort { get; set; } = -1;

    /// <summary>
    /// A second IP address of this machine (same family as the first listen address, which must then be a specific
    /// address, not 0.0.0.0) for RFC 5780's change-IP tests; needs <see cref="AlternatePort"/>. Default none.
    /// </summary>
    public string? AlternateAddress { get; set; }

    /// <summary>TLS port, used only when <see cref="TlsCertificatePath"/> is set; 0 picks a free port. Default 5349.</summary>
    public int TlsPort { get; set; } = 5349;

    /// <summary>PEM certificate (chain) for TURN over TLS. Default none (no TLS listener).</summary>
    public string? TlsCertificatePath { get; set; }

    /// <summary>PEM private key for <see cref="TlsCertificatePath"/>; default: the key in the certificate file.</summary>
    public string? TlsKeyPath { get; set; }

    /// <summary>Long-term credential realm. Default "ghostchat".</summary>
    public string Realm { get; set; } = "ghostchat";

    /// <summary>TURN REST API shared secrets; each is tried in turn so secrets can be rotated. Default none (hosts make one).</summary>
    public List<string> Secrets { get; set; } = [];

    /// <summary>How far in the future a REST username's expiry may be. Default 24 h.</summary>
    public TimeSpan MaxCredentialLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How long a nonce stays valid before the answer is 438 Stale Nonce. Default 600 s.</summary>
    public TimeSpan NonceLifetime { get; set; } = TimeSpan.FromSeconds(600);

    /// <summary>Allocation lifetime when the client asks for none (RFC 8656: 600 s).</summary>
    public TimeSpan DefaultAllocationLifetime { get; set; } = TimeSpan.FromSeconds(600);

    /// <summary>Longest allocation lifetime granted. Default 3600 s.</summary>
    public TimeSpan MaxAllocationLifetime { get; set; } = TimeSpan.FromSeconds(3600);

    /// <summary>Permission lifetime (RFC 8656: 300 s).</summary>
    public TimeSpan PermissionLifetime { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>Channel binding lifetime (RFC 8656: 600 s).</summary>
    public TimeSpan ChannelLifetime { get; set; } = TimeSpan.FromSeconds(600);

    /// <summary>
    /// Highest channel number accepted in ChannelBind. RFC 8656 allows 0x4000–0x4FFF; RFC 5766 allowed up to
    /// 0x7FFE and coturn 4.6.1's clients pick numbers up to 0x7FFF, so the default 0x7FFF keeps them working.
    /// Set 0x4FFF for the strict RFC 8656 range.
    /// </summary>
    public int MaxChannelNumber { get; set; } = 0x7FFF;

    /// <summary>
    /// A TCP or TLS connection without an allocation is closed when it sends no complete, well-formed STUN message
    /// for this long (bytes that do not make one do not count). Default 30 s.
    /// </summary>
    public TimeSpan UnallocatedStreamTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A TCP or TLS connection must finish its TLS handshake and send its first well-formed STUN message within this time. Default 10 s.</summary>
    public TimeSpan StreamFirstMessageTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Open TCP and TLS connections in total; beyond, new connections are closed at once. Default 4096.</summary>
    public int MaxStreamConnections { get; set; } = 4096;

    /// <summary>Open TCP and TLS connections per source (an IPv4 address or an IPv6 /64). Default 64.</summary>
    public int MaxStreamConnectionsPerSource { get; set; } = 64;

    /// <summary>
    /// Bytes waiting to be written to one TCP or TLS client; relayed data beyond it is dropped, so a client that
    /// reads slowly never holds up the relay. Default 256 KiB.
    /// </summary>
    public int StreamSendQueueBytes { get; set; } = 256 * 1024;

    /// <summary>A TCP or TLS client that takes longer than this to accept one write is disconnected. Default 10 s.</summary>
    public TimeSpan StreamWriteTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Lowest relay port. Default 49152.</summary>
    public int RelayMinPort { get; set; } = 49152;

    /// <summary>Highest relay port. Default 65535.</summary>
    public int RelayMaxPort { get; set; } = 65535;

    /// <summary>Address relay sockets bind to. Default: the first listen address, or 0.0.0.0.</summary>
    public string? RelayAddress { get; set; }

    /// <summary>
    /// Public address told to clients in XOR-RELAYED-ADDRESS (behind 1:1 NAT, e.g. a cloud VM). Default: the
    /// relay address when specific, otherwise the first non-loopback IPv4 address of the machine.
    /// </summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>Peers allowed despite the deny rules ("127.0.0.1/32" for tests and labs). Default none.</summary>
    public List<string> AllowedPeers { get; set; } = [];

    /// <summary>Extra peer blocks to deny on top of the built-in list. Default none.</summary>
    public List<string> DeniedPeers { get; set; } = [];

    /// <summary>
    /// Concurrent allocations per REST user (486 beyond). Default 64, as many as one source may hold: `/api/ice` gives
    /// one client address one user, so everyone behind one NAT shares it, and one page in a full group room holds
    /// about 2·11 allocations, more while those of links cut by the network run out.
    /// </summary>
    public int MaxAllocationsPerUser { get; set; } = 64;

    /// <summary>
    /// Concurrent allocations per source (an IPv4 address or an IPv6 /64), whatever the credentials (486 beyond).
    /// Default 64.
    /// </summary>
    public int MaxAllocationsPerSource { get; set; } = 64;

    /// <summary>Concurrent allocations in total (486 beyond). Default 10000.</summary>
    public int MaxAllocations { get; set; } = 10000;

    /// <summary>Permissions per allocation (508 beyond). Default 10.</summary>
    public int MaxPermissionsPerAllocation { get; set; } = 10;

    /// <summary>Channels per allocation (508 beyond). Default 32.</summary>
    public int MaxChannelsPerAllocation { get; set; } = 32;

    /// <summary>Relayed bytes per second per allocation, both directions; excess is dropped. 0 = unlimited. Default 10 MB/s.</summary>
    public long MaxBytesPerSecondPerAllocation { get; set; } = 10_000_000;

    /// <summary>
    /// 401 and 438 answers per second per source (an IPv4 address or an IPv6 /64); beyond, such requests are
    /// dropped unanswered. Default 200.
    /// </summary>
    public int UnauthorizedPerSecondPerSource { get; set; } = 200;

    /// <summary>UDP sockets (SO_REUSEPORT) and receive loops per listen address; 0 = one per CPU. Default 0.</summary>
    public int UdpReceiveLoops { get; set; }

    /// <summary>
    /// Linux: UDP is read and written in batches (recvmmsg/sendmmsg) by dedicated threads, relay sockets served by
    /// one epoll thread; false (or another OS, or a kernel that refuses the calls) uses portable socket calls, one
    /// datagram each. Default true.
    /// </summary>
    public bool UdpBatchedIo { get; set; } = true;

    /// <summary>Datagrams per recvmmsg/sendmmsg call on the batched path (1–256). Default 32.</summary>
    public int UdpBatchSize { get; set; } = 32;

    /// <summary>
    /// Batched path: ChannelData that clients send towards peers is gathered per received batch and sent with one
    /// sendmmsg per relay socket (GSO for a run to one peer); false sends each datagram with its own sendto as it is
    /// read. Default true.
    /// </summary>
    public bool UdpBatchedPeerSends { get; set; } = true;

    /// <summary>
    /// Batched path: UDP sockets get Linux UDP GRO, so the kernel may hand over a burst of one sender's datagrams
    /// (coalesced by the network card's GRO, or sent with GSO) as one message, which the server splits again: one trip
    /// through the stack per burst. Where the kernel does not offer it, datagrams come one by one. Default true.
    /// </summary>
    public bool UdpGro { get; set; } = true;

    /// <summary>Largest relayed payload; larger datagrams are dropped. Default 4096.</summary>
    public int MaxPayloadSize { get; set; } = 4096;

    /// <summary>SOFTWARE attribute value; none by default (hides the version).</summary>
    public string? Software { get; set; }

    /// <summary>The largest frame on a TCP/TLS connection: a STUN header and 65535 bytes, padded.</summary>
    internal const int MaxStreamFrameBytes = 65535 + 20 + 4;

    /// <summary>Every problem with these options, empty when they are valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        foreach (var a in ListenAddresses)
        {
            if (!IPAddress.TryParse(a, out _))
            {
                errors.Add($"GhostChat:Turn:ListenAddresses: '{a}' is not an IP address.");
            }
        }
        CheckPort(errors, nameof(UdpPort), UdpPort, allowOff: true);
        CheckPort(errors, nameof(TcpPort), TcpPort, allowOff: true);
        CheckPort(errors, nameof(TlsPort), TlsPort, allowOff: false);
        CheckPort(errors, nameof(AlternatePort), AlternatePort, allowOff: true);
        if (AlternatePort >= 0 && UdpPort < 0)
        {
            errors.Add("GhostChat:Turn:AlternatePort needs UDP (UdpPort is -1).");
        }
        if (AlternatePort > 0 && AlternatePort == UdpPort)
        {
            errors.Add("GhostChat:Turn:AlternatePort must differ from UdpPort.");
        }
        if (AlternateAddress is not null)
        {
            var first = ListenAddresses.Count > 0 && IPAddress.TryParse(ListenAddresses[0], out var f) ? f : IPAddress.Any;
            if (!IPAddress.TryParse(AlternateAddress, out var alt) || alt.Equals(IPAddress.Any) || alt.Equals(IPAddress.IPv6Any))
            {
                errors.Add($"GhostChat:Turn:AlternateAddress: '{AlternateAddress}' is not a specific IP address.");
            }
            else if (AlternatePort < 0)
            {
                errors.Add("GhostChat:Turn:AlternateAddress needs AlternatePort (RFC 5780 changes address and port).");
            }
            else if (first.Equals(IPAddress.Any) || first.Equals(IPAddress.IPv6Any))
            {
                errors.Add("GhostChat:Turn:AlternateAddress needs a specific first ListenAddresses entry (not 0.0.0.0 or ::).");
            }
            else if (first.AddressFamily != alt.AddressFamily || first.Equals(alt))
            {
                errors.Add("GhostChat:Turn:AlternateAddress must be another address of the same family as the first listen address.");
            }
        }
        if (UdpPort < 0 && TcpPort < 0 && TlsCertificatePath is null)
        {
            errors.Add("GhostChat:Turn: UdpPort and TcpPort are both off and no TLS certificate is set; set Enabled=false instead.");
        }
        if (TlsCertificatePath is not null && !File.Exists(TlsCertificatePath))
        {
            errors.Add($"GhostChat:Turn:TlsCertificatePath: file '{TlsCertificatePath}' does not exist.");
        }
        if (TlsKeyPath is not null && !File.Exists(TlsKeyPath))
        {
            errors.Add($"GhostChat:Turn:TlsKeyPath: file '{TlsKeyPath}' does not exist.");
        }
        if (string.IsNullOrWhiteSpace(Realm) || Realm.Length > 127)
        {
            errors.Add("GhostChat:Turn:Realm must be 1–127 characters.");
        }
        if (Secrets.Count == 0)
        {
            errors.Add("GhostChat:Turn:Secrets: at least one REST secret is required.");
        }
        foreach (var s in Secrets)
        {
            if (string.IsNullOrEmpty(s) || s.Length < 16)
            {
                errors.Add("GhostChat:Turn:Secrets: every secret must be at least 16 characters.");
                break;
            }
        }
        CheckSpan(errors, nameof(MaxCredentialLifetime), MaxCredentialLifetime);
        CheckSpan(errors, nameof(NonceLifetime), NonceLifetime);
        CheckSpan(errors, nameof(DefaultAllocationLifetime), DefaultAllocationLifetime);
        CheckSpan(errors, nameof(MaxAllocationLifetime), MaxAllocationLifetime);
        CheckSpan(errors, nameof(PermissionLifetime), PermissionLifetime);
        CheckSpan(errors, nameof(ChannelLifetime), ChannelLifetime);
        if (MaxAllocationLifetime < DefaultAllocationLifetime)
        {
            errors.Add("GhostChat:Turn:MaxAllocationLifetime must not be shorter than DefaultAllocationLifetime.");
        }
        if (RelayMinPort is < 1024 or > 65535 || RelayMaxPort is < 1024 or > 65535 || RelayMinPort > RelayMaxPort)
        {
            errors.Add("GhostChat:Turn:RelayMinPort/RelayMaxPort must be a range within 1024–65535.");
        }
        if (RelayAddress is not null && !IPAddress.TryParse(RelayAddress, out _))
        {
            errors.Add($"GhostChat:Turn:RelayAddress: '{RelayAddress}' is not an IP address.");
        }
        if (AdvertisedAddress is not null && (!IPAddress.TryParse(AdvertisedAddress, out var adv) || adv.Equals(IPAddress.Any) || adv.Equals(IPAddress.IPv6Any)))
        {
            errors.Add($"GhostChat:Turn:AdvertisedAddress: '{AdvertisedAddress}' is not a specific IP address.");
        }
        foreach (var p in AllowedPeers.Concat(DeniedPeers))
        {
            if (!IpNetwork.TryParse(p, out _))
            {
                errors.Add($"GhostChat:Turn: peer rule '{p}' is not an address or CIDR block.");
            }
        }
        if (MaxAllocationsPerUser < 1 || MaxAllocationsPerSource < 1 || MaxAllocations < 1 || MaxPermissionsPerAllocation < 1 || MaxChannelsPerAllocation < 1)
        {
            errors.Add("GhostChat:Turn: allocation, permission and channel quotas must be at least 1.");
        }
        if (UnallocatedStreamTimeout <= TimeSpan.Zero || StreamFirstMessageTimeout <= TimeSpan.Zero || StreamWriteTimeout <= TimeSpan.Zero)
        {
            errors.Add("GhostChat:Turn: UnallocatedStreamTimeout, StreamFirstMessageTimeout and StreamWriteTimeout must be positive.");
        }
        if (MaxStreamConnections < 1 || MaxStreamConnectionsPerSource < 1)
        {
            errors.Add("GhostChat:Turn: MaxStreamConnections and MaxStreamConnectionsPerSource must be at least 1.");
        }
        if (StreamSendQueueBytes < MaxStreamFrameBytes)
        {
            errors.Add($"GhostChat:Turn:StreamSendQueueBytes must be at least {MaxStreamFrameBytes} (one largest frame).");
        }
        if (UdpBatchSize is < 1 or > 256)
        {
            errors.Add("GhostChat:Turn:UdpBatchSize must be 1–256.");
        }
        if (MaxBytesPerSecondPerAllocation < 0 || UnauthorizedPerSecondPerSource < 1 || UdpReceiveLoops < 0)
        {
            errors.Add("GhostChat:Turn: MaxBytesPerSecondPerAllocation ≥ 0, UnauthorizedPerSecondPerSource ≥ 1, UdpReceiveLoops ≥ 0.");
        }
        if (MaxChannelNumber is < 0x4FFF or > 0x7FFF)
        {
            errors.Add("GhostChat:Turn:MaxChannelNumber must be within 0x4FFF–0x7FFF (20479–32767).");
        }
        if (MaxPayloadSize is < 576 or > 65507)
        {
            errors.Add("GhostChat:Turn:MaxPayloadSize must be within 576–65507.");
        }
        return errors;
    }

    private static void CheckPort(List<string> errors, string name, int port, bool allowOff)
    {
        if (port > 65535 || port < (allowOff ? -1 : 0))
        {
            errors.Add($"GhostChat:Turn:{name} must be 0–65535{(allowOff ? " or -1 (off)" : "")}.");
        }
    }

    private static void CheckSpan(List<string> errors, string name, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            errors.Add($"GhostChat:Turn:{name} must be positive.");
        }
    }
}
