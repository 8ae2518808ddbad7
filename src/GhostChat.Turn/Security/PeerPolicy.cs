using System.Net;
using System.Net.Sockets;
using GhostChat.Turn.Stun;

namespace GhostChat.Turn.Security;

/// <summary>An address block: a prefix and its length, IPv4 or IPv6.</summary>
public readonly record struct IpNetwork(IPAddress Prefix, int PrefixLength)
{
    /// <summary>Parses "a.b.c.d/n", "x::/n" or a bare address (a /32 or /128).</summary>
    public static bool TryParse(string text, out IpNetwork network)
    {
        network = default;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash < 0 ? text : text[..slash];
        if (!IPAddress.TryParse(addressText.Trim(), out var address))
        {
            return false;
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        int max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        int length = max;
        if (slash >= 0 && (!int.TryParse(text[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out length) || length > max))
        {
            return false;
        }
        network = new IpNetwork(address, length);
        return true;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Prefix}/{PrefixLength}";
}

/// <summary>
/// Which peers a client may reach through the relay. Applied to every request that names a peer
/// (CreatePermission, ChannelBind, Send) after canonicalising IPv4-mapped IPv6 to IPv4. Denies by
/// default everything that is not a global unicast address, and the server's own addresses; an
/// explicit allow list (tests, labs) beats the deny rules, except for unspecified addresses.
/// </summary>
internal sealed class PeerPolicy
{
    /// <summary>IANA special-purpose and non-global IPv4 blocks (RFC 6890 and successors).</summary>
    public static readonly string[] DeniedV4 =
    [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.31.196.0/24", "192.52.193.0/24", "192.88.99.0/24", "192.168.0.0/16",
        "192.175.48.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    ];

    /// <summary>Non-global IPv6 blocks, NAT64 and transition prefixes that can embed an internal IPv4 address.</summary>
    public static readonly string[] DeniedV6 =
    [
        "::/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
        "2002::/16", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    ];

    private readonly Range[] _denied;
    private readonly Range[] _allowed;
    private readonly HashSet<PeerKey> _own;

    public PeerPolicy(IEnumerable<IpNetwork> allowed, IEnumerable<IPAddress> ownAddresses, IEnumerable<IpNetwork>? extraDenied = null)
    {
        _denied = DeniedV4.Concat(DeniedV6).Select(Parse).Concat((extraDenied ?? []).Select(ToRange)).ToArray();
        _allowed = allowed.Select(ToRange).ToArray();
        _own = ownAddresses.Select(a => PeerKey.FromEndPoint(new IPEndPoint(a, 0))).ToHashSet();
    }

    /// <summary>True when a client may relay to <paramref name="peer"/>.</summary>
    public bool IsAllowed(PeerKey peer)
    {
        var ip = peer.IpOnly;
        if (ip.Address == 0)
        {
            return false; // 0.0.0.0 and :: are never a peer (CVE-2020-26262).
        }
        foreach (var r in _allowed)
        {
            if (r.Contains(ip))
            {
                return true;
            }
        }
        if (_own.Contains(ip))
        {
            return false;
        }
        foreach (var r in _denied)
        {
            if (r.Contains(ip))
            {
                return false;
            }
        }
        return true;
    }

    private static Range Parse(string text) => IpNetwork.TryParse(text, out var n) ? ToRange(n) : throw new FormatException(text);

    private static Range ToRange(IpNetwork n)
    {
        var key = PeerKey.FromEndPoint(new IPEndPoint(n.Prefix, 0));
        int bits = key.IsV6 ? 128 : 32;
        int shift = bits - n.PrefixLength;
        UInt128 mask = shift >= 128 ? UInt128.Zero : (UInt128.MaxValue << shift);
        if (!key.IsV6)
        {
            mask &= 0xFFFFFFFF;
        }
        return new Range(key.Address & mask, mask, key.IsV6);
    }

    private readonly record struct Range(UInt128 Network, UInt128 Mask, bool IsV6)
    {
        public bool Contains(PeerKey ip) => ip.IsV6 == IsV6 && (ip.Address & Mask) == Network;
    }
}
