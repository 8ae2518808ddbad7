using System.Buffers.Binary;
using System.Net;
using System.Runtime.CompilerServices;

namespace GhostChat.Turn.Stun;

/// <summary>Where an attribute's value sits in the message: offset of the value and its unpadded length.</summary>
internal readonly record struct AttrRef(int Offset, int Length)
{
    public bool Present => Length >= 0 && Offset > 0;

    public ReadOnlySpan<byte> Of(ReadOnlySpan<byte> message) => Present ? message.Slice(Offset, Length) : default;
}

/// <summary>Up to eight attribute references of one kind (XOR-PEER-ADDRESS may repeat).</summary>
[InlineArray(MaxPeers)]
internal struct PeerRefs
{
    public const int MaxPeers = 8;
    private AttrRef _element;
}

/// <summary>Up to eight unknown comprehension-required attribute types, for 420 answers.</summary>
[InlineArray(8)]
internal struct UnknownTypes
{
    private ushort _element;
}

/// <summary>
/// A parsed STUN message: its header and where each attribute the server uses lies. Parsing allocates
/// nothing; values are read from the original buffer through <see cref="AttrRef"/>.
/// </summary>
internal struct StunMessage
{
    public ushort Type;
    public int Method;
    public StunClass Class;
    public int TotalLength;
    public AttrRef Username;
    public AttrRef Realm;
    public AttrRef Nonce;
    public AttrRef Lifetime;
    public AttrRef Data;
    public AttrRef ChannelNumber;
    public AttrRef RequestedTransport;
    public AttrRef RequestedAddressFamily;
    public AttrRef EvenPort;
    public AttrRef ReservationToken;
    public AttrRef DontFragment;
    public AttrRef XorMappedAddress;
    public AttrRef XorRelayedAddress;
    public AttrRef ErrorCode;
    /// <summary>RFC 5780 CHANGE-REQUEST; also listed in <see cref="Unknown"/> so servers without RFC 5780 refuse it with 420.</summary>
    public AttrRef ChangeRequest;
    /// <summary>Offset of the MESSAGE-INTEGRITY attribute header, or 0.</summary>
    public int IntegrityOffset;
    public bool HasFingerprint;
    public PeerRefs Peers;
    public int PeerCount;
    public bool TooManyPeers;
    public UnknownTypes Unknown;
    public int UnknownCount;

    /// <summary>
    /// Parses and checks framing: header, attribute lengths and padding, FINGERPRINT when present.
    /// Returns false for anything that is not a well-formed STUN message; never throws.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> packet, out StunMessage message)
    {
        message = default;
        if (!StunFraming.LooksLikeStun(packet))
        {
            return false;
        }
        int length = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
        if ((length & 3) != 0 || StunConst.HeaderSize + length != packet.Length)
        {
            return false;
        }
        message.Type = BinaryPrimitives.ReadUInt16BigEndian(packet);
        message.Method = StunType.Method(message.Type);
        message.Class = StunType.Class(message.Type);
        message.TotalLength = packet.Length;

        int pos = StunConst.HeaderSize;
        bool afterIntegrity = false;
        while (pos < packet.Length)
        {
            if (pos + 4 > packet.Length)
            {
                return false;
            }
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(packet[pos..]);
            int len = BinaryPrimitives.ReadUInt16BigEndian(packet[(pos + 2)..]);
            int valueOffset = pos + 4;
            int next = valueOffset + ((len + 3) & ~3);
            if (next > packet.Length)
            {
                return false;
            }
            var attr = new AttrRef(valueOffset, len);
            if (message.HasFingerprint)
            {
                return false; // FINGERPRINT must be last.
            }
            if (type == StunConst.Fingerprint)
            {
                if (len != 4 || StunIntegrity.Fingerprint(packet[..pos]) != BinaryPrimitives.ReadUInt32BigEndian(packet[valueOffset..]))
                {
                    return false;
                }
                message.HasFingerprint = true;
            }
            else if (afterIntegrity)
            {
                // RFC 8489 §14.5: attributes after MESSAGE-INTEGRITY (except FINGERPRINT) are ignored.
            }
            else
            {
                switch (type)
                {
                    case StunConst.MessageIntegrity:
                        if (len != 20)
                        {
                            return false;
                        }
                        message.IntegrityOffset = pos;
                        afterIntegrity = true;
                        break;
                    case StunConst.MessageIntegritySha256:
                        afterIntegrity = true;
                        break;
                    case StunConst.Username: SetOnce(ref message.Username, attr); break;
                    case StunConst.Realm: SetOnce(ref message.Realm, attr); break;
                    case StunConst.Nonce: SetOnce(ref message.Nonce, attr); break;
                    case StunConst.Lifetime: SetOnce(ref message.Lifetime, attr); break;
                    case StunConst.DataAttr: SetOnce(ref message.Data, attr); break;
                    case StunConst.ChannelNumber: SetOnce(ref message.ChannelNumber, attr); break;
                    case StunConst.RequestedTransport: SetOnce(ref message.RequestedTransport, attr); break;
                    case StunConst.RequestedAddressFamily: SetOnce(ref message.RequestedAddressFamily, attr); break;
                    case StunConst.EvenPort: SetOnce(ref message.EvenPort, attr); break;
                    case StunConst.ReservationToken: SetOnce(ref message.ReservationToken, attr); break;
                    case StunConst.DontFragment: SetOnce(ref message.DontFragment, attr); break;
                    case StunConst.XorMappedAddress: SetOnce(ref message.XorMappedAddress, attr); break;
                    case StunConst.XorRelayedAddress: SetOnce(ref message.XorRelayedAddress, attr); break;
                    case StunConst.ErrorCode: SetOnce(ref message.ErrorCode, attr); break;
                    case StunConst.XorPeerAddress:
                        if (message.PeerCount < PeerRefs.MaxPeers)
                        {
                            message.Peers[message.PeerCount++] = attr;
                        }
                        else
                        {
                            message.TooManyPeers = true;
                        }
                        break;
                    case StunConst.MappedAddress:
                    case StunConst.UnknownAttributes:
                    case StunConst.PasswordAlgorithm:
                    case StunConst.UserHash:
                    case StunConst.Priority:
                    case StunConst.UseCandidate:
                        break;
                    case StunConst.ChangeRequest:
                        SetOnce(ref message.ChangeRequest, attr);
                        if (message.UnknownCount < 8)
                        {
                            message.Unknown[message.UnknownCount++] = type;
                        }
                        break;
                    default:
                        if (type < 0x8000 && message.UnknownCount < 8)
                        {
                            message.Unknown[message.UnknownCount++] = type;
                        }
                        break;
                }
            }
            pos = next;
        }
        return true;
    }

    private static void SetOnce(ref AttrRef slot, AttrRef value)
    {
        if (!slot.Present)
        {
            slot = value;
        }
    }

    /// <summary>The 96-bit transaction id.</summary>
    public static ReadOnlySpan<byte> TransactionId(ReadOnlySpan<byte> packet) => packet.Slice(8, 12);

    /// <summary>A 32-bit big-endian value attribute (LIFETIME, CHANNEL-NUMBER's first half…); -1 when absent or malformed.</summary>
    public static long ReadUInt32(ReadOnlySpan<byte> packet, AttrRef attr) =>
        attr.Present && attr.Length == 4 ? BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(attr.Offset, 4)) : -1;

    /// <summary>Decodes an XOR-*-ADDRESS attribute (RFC 8489 §14.2) into <paramref name="peer"/>.</summary>
    public static bool TryReadXorAddress(ReadOnlySpan<byte> packet, AttrRef attr, out PeerKey peer)
    {
        peer = default;
        if (!attr.Present || attr.Length < 8)
        {
            return false;
        }
        var v = packet.Slice(attr.Offset, attr.Length);
        ushort port = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(v[2..]) ^ (StunConst.MagicCookie >> 16));
        if (v[1] == StunConst.FamilyV4 && attr.Length == 8)
        {
            uint a = BinaryPrimitives.ReadUInt32BigEndian(v[4..]) ^ StunConst.MagicCookie;
            peer = PeerKey.FromV4(a, port);
            return true;
        }
        if (v[1] == StunConst.FamilyV6 && attr.Length == 20)
        {
            Span<byte> addr = stackalloc byte[16];
            v.Slice(4, 16).CopyTo(addr);
            BinaryPrimitives.WriteUInt32BigEndian(addr, BinaryPrimitives.ReadUInt32BigEndian(addr) ^ StunConst.MagicCookie);
            var tid = TransactionId(packet);
            for (int i = 0; i < 12; i++)
            {
                addr[4 + i] ^= tid[i];
            }
            peer = PeerKey.FromV6(addr, port);
            return true;
        }
        return false;
    }

    /// <summary>Reads an attribute as UTF-8 text (USERNAME, REALM, NONCE).</summary>
    public static string ReadString(ReadOnlySpan<byte> packet, AttrRef attr) =>
        attr.Present ? System.Text.Encoding.UTF8.GetString(packet.Slice(attr.Offset, attr.Length)) : "";
}

/// <summary>
/// A transport address as a value: the IP in 128 bits (IPv4 kept as IPv4, never mapped) and the port.
/// Used as the key for permissions, channels and ACL checks without allocating.
/// </summary>
internal readonly record struct PeerKey(UInt128 Address, ushort Port, bool IsV6)
{
    public static PeerKey FromV4(uint address, ushort port) => new(address, port, false);

    public static PeerKey FromV6(ReadOnlySpan<byte> address, ushort port)
    {
        var value = BinaryPrimitives.ReadUInt128BigEndian(address);
        // Canonicalise IPv4-mapped IPv6 (::ffff:a.b.c.d) to IPv4 before anything looks at it.
        if ((value >> 32) == 0xFFFF)
        {
            return new PeerKey((uint)value, port, false);
        }
        return new PeerKey(value, port, true);
    }

    /// <summary>The same address with port 0: the key of a permission (RFC 8656 §9: IP only).</summary>
    public PeerKey IpOnly => this with { Port = 0 };

    /// <summary>
    /// The address block one client is counted by for quotas and rate limits: an IPv4 address, or an IPv6 /64
    /// (one subscriber usually holds a whole /64, and can pick any address in it).
    /// </summary>
    public PeerKey SourceBucket => IsV6 ? new PeerKey(Address & ~(UInt128)ulong.MaxValue, 0, true) : IpOnly;

    public static PeerKey FromEndPoint(IPEndPoint endPoint)
    {
        Span<byte> bytes = stackalloc byte[16];
        var ip = endPoint.Address;
        if (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            ip.TryWriteBytes(bytes, out _);
            return FromV4(BinaryPrimitives.ReadUInt32BigEndian(bytes), (ushort)endPoint.Port);
        }
        ip.TryWriteBytes(bytes, out _);
        return FromV6(bytes, (ushort)endPoint.Port);
    }

    /// <summary>Reads a Linux/Windows sockaddr_in / sockaddr_in6 held by <see cref="SocketAddress"/>.</summary>
    public static PeerKey FromSocketAddress(SocketAddress address) =>
        FromSockAddr(address.Buffer.Span, address.Family == System.Net.Sockets.AddressFamily.InterNetwork);

    /// <summary>Reads a raw sockaddr_in (<paramref name="v4"/>) or sockaddr_in6: port at 2, address at 4 or 8.</summary>
    public static PeerKey FromSockAddr(ReadOnlySpan<byte> buffer, bool v4)
    {
        ushort port = BinaryPrimitives.ReadUInt16BigEndian(buffer[2..]);
        if (v4)
        {
            return FromV4(BinaryPrimitives.ReadUInt32BigEndian(buffer[4..]), port);
        }
        return FromV6(buffer.Slice(8, 16), port);
    }

    public IPAddress ToIPAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        if (!IsV6)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)Address);
            return new IPAddress(bytes[..4]);
        }
        BinaryPrimitives.WriteUInt128BigEndian(bytes, Address);
        return new IPAddress(bytes);
    }

    public IPEndPoint ToEndPoint() => new(ToIPAddress(), Port);

    /// <summary>Writes this address into a sockaddr for <paramref name="family"/> (IPv4 into IPv6 as mapped).</summary>
    public SocketAddress ToSocketAddress(System.Net.Sockets.AddressFamily family)
    {
        var ep = ToEndPoint();
        if (family == System.Net.Sockets.AddressFamily.InterNetworkV6 && !IsV6)
        {
            ep = new IPEndPoint(ep.Address.MapToIPv6(), ep.Port);
        }
        return ep.Serialize();
    }

    public override string ToString() => ToEndPoint().ToString();
}
