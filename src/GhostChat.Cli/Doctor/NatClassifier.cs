using System.Net;

namespace GhostChat.Cli.Doctor;

/// <summary>How a NAT picks the public address for outgoing packets (RFC 4787 §4.1, RFC 5780 §4.3).</summary>
internal enum NatMapping
{
    /// <summary>Not measured (no second port, or answers missing).</summary>
    Unknown,

    /// <summary>The server saw this machine's own address: no NAT in between.</summary>
    NoNat,

    /// <summary>One public port for every destination: direct connections usually work.</summary>
    EndpointIndependent,

    /// <summary>A new public port per destination address (symmetric-like).</summary>
    AddressDependent,

    /// <summary>A new public port per destination address and port (symmetric NAT).</summary>
    AddressAndPortDependent,
}

/// <summary>Which incoming packets a NAT lets through to a mapping (RFC 4787 §5, RFC 5780 §4.4).</summary>
internal enum NatFiltering
{
    /// <summary>Not measured (no second port, CHANGE-REQUEST refused).</summary>
    Unknown,

    /// <summary>Anyone may send to the mapping once it exists ("full cone").</summary>
    EndpointIndependent,

    /// <summary>Only addresses this machine sent to ("restricted cone").</summary>
    AddressDependent,

    /// <summary>Only the exact addresses and ports this machine sent to ("port-restricted").</summary>
    AddressAndPortDependent,

    /// <summary>With only a second port (no second address): a packet from another port passed, so filtering is
    /// endpoint-independent or address-dependent; the two cannot be told apart.</summary>
    NotPortDependent,
}

/// <summary>The classification and its plain-language explanation.</summary>
internal sealed record NatBehaviour(
    NatMapping Mapping, NatFiltering Filtering, string MappingVerdict, string FilteringVerdict, string? Advice);

/// <summary>
/// What the RFC 5780 tests saw, recorded so the verdict logic runs without a network (unit tests use recorded sets).
/// Test I is Binding to the primary address and port; with an alternate address, test II goes to (alternate address,
/// primary port) and test III to (alternate address, alternate port); with only an alternate port, one Binding goes to
/// (primary address, alternate port). Filtering uses a fresh socket that only ever sent to the primary.
/// </summary>
/// <param name="LocalAddresses">This machine's addresses (to tell "no NAT").</param>
/// <param name="LocalPort">Port of the mapping-test socket.</param>
/// <param name="MappedPrimary">Test I mapped address; null when the primary did not answer.</param>
/// <param name="HasAlternateAddress">The server offered (and answered on) a second IP address.</param>
/// <param name="MappedAlternateAddress">Test II mapped address (alternate address, primary port).</param>
/// <param name="MappedAlternateBoth">Test III mapped address (alternate address, alternate port).</param>
/// <param name="MappedAlternatePort">Port-only test mapped address (primary address, alternate port).</param>
/// <param name="ChangeRefused">The server refused CHANGE-REQUEST (420): filtering cannot be measured.</param>
/// <param name="AnsweredChangeBoth">Filtering test II: an answer came from the other address and port.</param>
/// <param name="AnsweredChangePort">Filtering test III: an answer came from the other port.</param>
internal sealed record NatObservations(
    IReadOnlyCollection<IPAddress> LocalAddresses,
    int LocalPort,
    IPEndPoint? MappedPrimary,
    bool HasAlternateAddress,
    IPEndPoint? MappedAlternateAddress,
    IPEndPoint? MappedAlternateBoth,
    IPEndPoint? MappedAlternatePort,
    bool ChangeRefused,
    bool? AnsweredChangeBoth,
    bool? AnsweredChangePort);

/// <summary>RFC 5780 §4.3–4.4 decision rules on recorded answers.</summary>
internal static class NatClassifier
{
    public static NatBehaviour Classify(NatObservations o)
    {
        ArgumentNullException.ThrowIfNull(o);
        var mapping = ClassifyMapping(o);
        var filtering = ClassifyFiltering(o);
        return new NatBehaviour(mapping, filtering, NatText.MappingVerdict(mapping, o.HasAlternateAddress),
            NatText.FilteringVerdict(filtering, o.ChangeRefused), NatText.Advice(mapping, filtering));
    }

    public static NatMapping ClassifyMapping(NatObservations o)
    {
        if (o.MappedPrimary is not { } m1)
        {
            return NatMapping.Unknown;
        }
        if (m1.Port == o.LocalPort && o.LocalAddresses.Any(a => a.Equals(Canonical(m1.Address))))
        {
            return NatMapping.NoNat;
        }
        if (o.HasAlternateAddress)
        {
            if (o.MappedAlternateAddress is not { } m2)
            {
                return NatMapping.Unknown;
            }
            if (Same(m1, m2))
            {
                return NatMapping.EndpointIndependent;
            }
            if (o.MappedAlternateBoth is not { } m3)
            {
                return NatMapping.Unknown;
            }
            return Same(m2, m3) ? NatMapping.AddressDependent : NatMapping.AddressAndPortDependent;
        }
        if (o.MappedAlternatePort is not { } mp)
        {
            return NatMapping.Unknown;
        }
        return Same(m1, mp) ? NatMapping.EndpointIndependent : NatMapping.AddressAndPortDependent;
    }

    public static NatFiltering ClassifyFiltering(NatObservations o)
    {
        if (o.ChangeRefused || o.MappedPrimary is null)
        {
            return NatFiltering.Unknown;
        }
        if (o.HasAlternateAddress)
        {
            if (o.AnsweredChangeBoth == true)
            {
                return NatFiltering.EndpointIndependent;
            }
            return o.AnsweredChangePort switch
            {
                true => NatFiltering.AddressDependent,
                false when o.AnsweredChangeBoth == false => NatFiltering.AddressAndPortDependent,
                _ => NatFiltering.Unknown,
            };
        }
        return o.AnsweredChangePort switch
        {
            true => NatFiltering.NotPortDependent,
            false => NatFiltering.AddressAndPortDependent,
            _ => NatFiltering.Unknown,
        };
    }

    private static bool Same(IPEndPoint a, IPEndPoint b) => a.Port == b.Port && Canonical(a.Address).Equals(Canonical(b.Address));

    private static IPAddress Canonical(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;
}

/// <summary>The words for NAT results.</summary>
internal static class NatText
{
    public static string Id(NatMapping m) => m switch
    {
        NatMapping.NoNat => "no-nat",
        NatMapping.EndpointIndependent => "endpoint-independent",
        NatMapping.AddressDependent => "address-dependent",
        NatMapping.AddressAndPortDependent => "address-and-port-dependent",
        _ => "unknown",
    };

    public static string Id(NatFiltering f) => f switch
    {
        NatFiltering.EndpointIndependent => "endpoint-independent",
        NatFiltering.AddressDependent => "address-dependent",
        NatFiltering.AddressAndPortDependent => "address-and-port-dependent",
        NatFiltering.NotPortDependent => "not-port-dependent",
        _ => "unknown",
    };

    public static string MappingVerdict(NatMapping m, bool hasAlternateAddress) => m switch
    {
        NatMapping.NoNat => "No NAT: the server sees this machine's own address. Direct connections work wherever the firewall lets them.",
        NatMapping.EndpointIndependent => hasAlternateAddress
            ? "Endpoint-independent mapping: your NAT keeps one public port for every destination. Direct peer-to-peer "
                + "connections usually work."
            : "Endpoint-independent mapping (measured across two ports of one server): your NAT keeps one public port per "
                + "destination port. Direct peer-to-peer connections usually work.",
        NatMapping.AddressDependent => "Address-dependent mapping: your NAT picks a new public port for each destination "
            + "address. Direct connections often fail; a TURN relay will be used.",
        NatMapping.AddressAndPortDependent => "Address- and port-dependent mapping (symmetric NAT): your NAT picks a new "
            + "public port for every destination. Direct connections to peers behind a similar NAT fail; a TURN relay is needed.",
        _ => "Mapping behaviour could not be measured (a STUN answer was missing).",
    };

    public static string FilteringVerdict(NatFiltering f, bool changeRefused) => f switch
    {
        NatFiltering.EndpointIndependent => "Endpoint-independent filtering: once you have sent a packet out, anyone may "
            + "answer on that port.",
        NatFiltering.AddressDependent => "Address-dependent filtering: only addresses you have sent to may answer.",
        NatFiltering.AddressAndPortDependent => "Address- and port-dependent filtering: only the exact address and port you "
            + "sent to may answer (port-restricted). Direct connections need both sides to send at once, which ICE does.",
        NatFiltering.NotPortDependent => "Filtering is not port-dependent: an answer from the server's other port got "
            + "through (endpoint-independent or address-dependent; telling them apart needs a second server address).",
        _ => changeRefused
            ? "Filtering behaviour could not be measured: the server refused CHANGE-REQUEST."
            : "Filtering behaviour could not be measured.",
    };

    public static string? Advice(NatMapping m, NatFiltering f) => m switch
    {
        NatMapping.AddressDependent or NatMapping.AddressAndPortDependent =>
            "Keep a TURN relay reachable for users on this network (UDP, and TCP/TLS 443 for strict networks).",
        _ when f == NatFiltering.AddressAndPortDependent => "Direct connections depend on ICE's simultaneous checks; with a "
            + "symmetric NAT on the other side they fall back to TURN.",
        _ => null,
    };
}
