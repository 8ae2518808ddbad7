using System.Buffers.Binary;

namespace GhostChat.Turn.Stun;

/// <summary>STUN/TURN wire constants (RFC 8489 §5, §14, §18; RFC 8656 §17, §18).</summary>
internal static class StunConst
{
    public const uint MagicCookie = 0x2112A442;
    public const int HeaderSize = 20;
    public const uint FingerprintXor = 0x5354554E;

    // Methods.
    public const int Binding = 0x001;
    public const int Allocate = 0x003;
    public const int Refresh = 0x004;
    public const int Send = 0x006;
    public const int Data = 0x007;
    public const int CreatePermission = 0x008;
    public const int ChannelBind = 0x009;

    // Attributes.
    public const ushort MappedAddress = 0x0001;
    public const ushort ChangeRequest = 0x0003;
    public const ushort Username = 0x0006;
    public const ushort MessageIntegrity = 0x0008;
    public const ushort ErrorCode = 0x0009;
    public const ushort UnknownAttributes = 0x000A;
    public const ushort ChannelNumber = 0x000C;
    public const ushort Lifetime = 0x000D;
    public const ushort XorPeerAddress = 0x0012;
    public const ushort DataAttr = 0x0013;
    public const ushort Realm = 0x0014;
    public const ushort Nonce = 0x0015;
    public const ushort XorRelayedAddress = 0x0016;
    public const ushort RequestedAddressFamily = 0x0017;
    public const ushort EvenPort = 0x0018;
    public const ushort RequestedTransport = 0x0019;
    public const ushort DontFragment = 0x001A;
    public const ushort MessageIntegritySha256 = 0x001C;
    public const ushort PasswordAlgorithm = 0x001D;
    public const ushort UserHash = 0x001E;
    public const ushort XorMappedAddress = 0x0020;
    public const ushort ReservationToken = 0x0022;
    public const ushort Priority = 0x0024;
    public const ushort UseCandidate = 0x0025;
    public const ushort PasswordAlgorithms = 0x8002;
    public const ushort AlternateDomain = 0x8003;
    public const ushort Software = 0x8022;
    public const ushort AlternateServer = 0x8023;
    public const ushort Fingerprint = 0x8028;
    public const ushort IceControlled = 0x8029;
    public const ushort IceControlling = 0x802A;
    public const ushort ResponseOrigin = 0x802B;
    public const ushort OtherAddress = 0x802C;

    public const byte FamilyV4 = 0x01;
    public const byte FamilyV6 = 0x02;
    public const byte TransportUdp = 17;

    /// <summary>CHANGE-REQUEST flags (RFC 5780 §7.2).</summary>
    public const byte ChangeIpFlag = 0x04;
    public const byte ChangePortFlag = 0x02;

    public const ushort MinChannel = 0x4000;
    public const ushort MaxChannel = 0x4FFF;
}

/// <summary>STUN message classes (RFC 8489 §5).</summary>
internal enum StunClass
{
    Request = 0,
    Indication = 1,
    Success = 2,
    Error = 3,
}

/// <summary>Error codes used by the server (RFC 8489 §14.8, RFC 8656 §18).</summary>
internal static class StunError
{
    public const int BadRequest = 400;
    public const int Unauthorized = 401;
    public const int Forbidden = 403;
    public const int UnknownAttribute = 420;
    public const int AllocationMismatch = 437;
    public const int StaleNonce = 438;
    public const int AddressFamilyNotSupported = 440;
    public const int WrongCredentials = 441;
    public const int UnsupportedTransport = 442;
    public const int PeerAddressFamilyMismatch = 443;
    public const int AllocationQuotaReached = 486;
    public const int ServerError = 500;
    public const int InsufficientCapacity = 508;

    public static string Reason(int code) => code switch
    {
        BadRequest => "Bad Request",
        Unauthorized => "Unauthorized",
        Forbidden => "Forbidden",
        UnknownAttribute => "Unknown Attribute",
        AllocationMismatch => "Allocation Mismatch",
        StaleNonce => "Stale Nonce",
        AddressFamilyNotSupported => "Address Family not Supported",
        WrongCredentials => "Wrong Credentials",
        UnsupportedTransport => "Unsupported Transport Protocol",
        PeerAddressFamilyMismatch => "Peer Address Family Mismatch",
        AllocationQuotaReached => "Allocation Quota Reached",
        InsufficientCapacity => "Insufficient Capacity",
        _ => "Server Error",
    };
}

/// <summary>Message type encoding helpers (RFC 8489 §5, figure 3).</summary>
internal static class StunType
{
    public static ushort Encode(int method, StunClass cls)
    {
        int c = (int)cls;
        return (ushort)((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) | ((c & 1) << 4) | ((c & 2) << 7));
    }

    public static int Method(ushort type) => (type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2);

    public static StunClass Class(ushort type) => (StunClass)(((type >> 4) & 1) | ((type >> 7) & 2));
}

/// <summary>Is this datagram a STUN message, ChannelData, or neither (RFC 8656 §12 demultiplexing).</summary>
internal static class StunFraming
{
    /// <summary>True when the first bits and the magic cookie say STUN.</summary>
    public static bool LooksLikeStun(ReadOnlySpan<byte> packet) =>
        packet.Length >= StunConst.HeaderSize && (packet[0] & 0xC0) == 0 && BinaryPrimitives.ReadUInt32BigEndian(packet[4..]) == StunConst.MagicCookie;

    /// <summary>True when the first two bits are 01 (channel numbers 0x4000–0x7FFF).</summary>
    public static bool LooksLikeChannelData(ReadOnlySpan<byte> packet) => packet.Length >= 4 && (packet[0] & 0xC0) == 0x40;
}
