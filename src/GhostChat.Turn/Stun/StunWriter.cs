using System.Buffers.Binary;
using System.Text;

namespace GhostChat.Turn.Stun;

/// <summary>
/// Builds one STUN message into a caller's buffer. The buffer region it writes is cleared first, so
/// padding never carries old bytes (CVE-2020-4067). Throws nothing for messages that fit the buffer;
/// callers size buffers for the largest message they build.
/// </summary>
internal ref struct StunWriter
{
    private readonly Span<byte> _buffer;
    private int _pos;

    public StunWriter(Span<byte> buffer, int method, StunClass cls, ReadOnlySpan<byte> transactionId)
    {
        _buffer = buffer;
        buffer[..StunConst.HeaderSize].Clear();
        BinaryPrimitives.WriteUInt16BigEndian(buffer, StunType.Encode(method, cls));
        BinaryPrimitives.WriteUInt32BigEndian(buffer[4..], StunConst.MagicCookie);
        transactionId.CopyTo(buffer[8..20]);
        _pos = StunConst.HeaderSize;
    }

    public readonly int Length => _pos;

    public readonly ReadOnlySpan<byte> Written => _buffer[.._pos];

    private Span<byte> Begin(ushort type, int length)
    {
        int padded = (length + 3) & ~3;
        var slot = _buffer.Slice(_pos, 4 + padded);
        slot.Clear();
        BinaryPrimitives.WriteUInt16BigEndian(slot, type);
        BinaryPrimitives.WriteUInt16BigEndian(slot[2..], (ushort)length);
        _pos += 4 + padded;
        SetLength(_pos);
        return slot.Slice(4, length);
    }

    private readonly void SetLength(int end) => BinaryPrimitives.WriteUInt16BigEndian(_buffer[2..], (ushort)(end - StunConst.HeaderSize));

    public void AddBytes(ushort type, scoped ReadOnlySpan<byte> value) => value.CopyTo(Begin(type, value.Length));

    public void AddString(ushort type, string value)
    {
        int n = Encoding.UTF8.GetByteCount(value);
        Encoding.UTF8.GetBytes(value, Begin(type, n));
    }

    public void AddUInt32(ushort type, uint value) => BinaryPrimitives.WriteUInt32BigEndian(Begin(type, 4), value);

    /// <summary>CHANNEL-NUMBER: the number then 16 reserved bits (RFC 8656 §18.1).</summary>
    public void AddChannelNumber(ushort channel) => BinaryPrimitives.WriteUInt16BigEndian(Begin(StunConst.ChannelNumber, 4), channel);

    /// <summary>REQUESTED-TRANSPORT: protocol then RFFU (RFC 8656 §18.7).</summary>
    public void AddRequestedTransport(byte protocol) => Begin(StunConst.RequestedTransport, 4)[0] = protocol;

    public void AddErrorCode(int code, string? reason = null)
    {
        reason ??= StunError.Reason(code);
        int n = Encoding.UTF8.GetByteCount(reason);
        var v = Begin(StunConst.ErrorCode, 4 + n);
        v[2] = (byte)(code / 100);
        v[3] = (byte)(code % 100);
        Encoding.UTF8.GetBytes(reason, v[4..]);
    }

    public void AddUnknownAttributes(scoped ReadOnlySpan<ushort> types)
    {
        var v = Begin(StunConst.UnknownAttributes, types.Length * 2);
        for (int i = 0; i < types.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(v[(i * 2)..], types[i]);
        }
    }

    /// <summary>XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS, XOR-RELAYED-ADDRESS (RFC 8489 §14.2).</summary>
    public void AddXorAddress(ushort type, PeerKey address)
    {
        var v = Begin(type, address.IsV6 ? 20 : 8);
        WriteXorAddress(v, address, _buffer.Slice(8, 12));
    }

    /// <summary>Writes the XOR'd address value into <paramref name="v"/> (8 or 20 bytes).</summary>
    private static void WriteXorAddress(Span<byte> v, PeerKey address, ReadOnlySpan<byte> transactionId)
    {
        v[0] = 0;
        v[1] = address.IsV6 ? StunConst.FamilyV6 : StunConst.FamilyV4;
        BinaryPrimitives.WriteUInt16BigEndian(v[2..], (ushort)(address.Port ^ (StunConst.MagicCookie >> 16)));
        if (!address.IsV6)
        {
            BinaryPrimitives.WriteUInt32BigEndian(v[4..], (uint)address.Address ^ StunConst.MagicCookie);
            return;
        }
        BinaryPrimitives.WriteUInt128BigEndian(v[4..], address.Address);
        BinaryPrimitives.WriteUInt32BigEndian(v[4..], BinaryPrimitives.ReadUInt32BigEndian(v[4..]) ^ StunConst.MagicCookie);
        for (int i = 0; i < 12; i++)
        {
            v[8 + i] ^= transactionId[i];
        }
    }

    /// <summary>
    /// An attribute whose <paramref name="length"/>-byte value the caller has already put where it belongs, right
    /// after this attribute's header (DATA of a Data indication: the relayed payload, received in place, is not
    /// copied). Writes the header and clears only the padding, so the value is kept.
    /// </summary>
    public void AddPlacedValue(ushort type, int length)
    {
        int padded = (length + 3) & ~3;
        var slot = _buffer.Slice(_pos, 4 + padded);
        BinaryPrimitives.WriteUInt16BigEndian(slot, type);
        BinaryPrimitives.WriteUInt16BigEndian(slot[2..], (ushort)length);
        slot[(4 + length)..].Clear();
        _pos += 4 + padded;
        SetLength(_pos);
    }

    /// <summary>A plain (not XOR'd) address attribute: MAPPED-ADDRESS, RESPONSE-ORIGIN, OTHER-ADDRESS (RFC 8489 §14.1, RFC 5780 §7).</summary>
    public void AddPlainAddress(ushort type, PeerKey address)
    {
        var v = Begin(type, address.IsV6 ? 20 : 8);
        v[1] = address.IsV6 ? StunConst.FamilyV6 : StunConst.FamilyV4;
        BinaryPrimitives.WriteUInt16BigEndian(v[2..], address.Port);
        if (address.IsV6)
        {
            BinaryPrimitives.WriteUInt128BigEndian(v[4..], address.Address);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(v[4..], (uint)address.Address);
        }
    }

    /// <summary>MESSAGE-INTEGRITY over everything so far (RFC 8489 §14.5).</summary>
    public void AddMessageIntegrity(scoped ReadOnlySpan<byte> key)
    {
        int start = _pos;
        var v = Begin(StunConst.MessageIntegrity, 20);
        StunIntegrity.Compute(_buffer[..start], key, v);
    }

    /// <summary>FINGERPRINT, always last (RFC 8489 §14.7).</summary>
    public void AddFingerprint()
    {
        int start = _pos;
        var v = Begin(StunConst.Fingerprint, 4);
        BinaryPrimitives.WriteUInt32BigEndian(v, StunIntegrity.Fingerprint(_buffer[..start]));
    }
}
