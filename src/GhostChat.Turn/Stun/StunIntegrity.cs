// RFC 8489 mandates MD5 for the long-term key and HMAC-SHA1 for MESSAGE-INTEGRITY.
#pragma warning disable CA5350, CA5351
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace GhostChat.Turn.Stun;

/// <summary>MESSAGE-INTEGRITY (HMAC-SHA1), FINGERPRINT (CRC-32) and the long-term key (RFC 8489 §9.2, §14.5, §14.7).</summary>
internal static class StunIntegrity
{
    private static readonly uint[] CrcTable = BuildCrcTable();

    /// <summary>key = MD5(username ":" realm ":" password) for long-term credentials.</summary>
    public static byte[] LongTermKey(string username, string realm, string password)
    {
        var text = username + ":" + realm + ":" + password;
        return MD5.HashData(Encoding.UTF8.GetBytes(text));
    }

    /// <summary>
    /// Checks a MESSAGE-INTEGRITY attribute found at <paramref name="miOffset"/> (the attribute header) of
    /// <paramref name="message"/>. The length field is taken as if the message ended after the attribute.
    /// </summary>
    public static bool Verify(ReadOnlySpan<byte> message, int miOffset, ReadOnlySpan<byte> key)
    {
        if (miOffset < StunConst.HeaderSize || miOffset + 24 > message.Length)
        {
            return false;
        }
        Span<byte> header = stackalloc byte[StunConst.HeaderSize];
        message[..StunConst.HeaderSize].CopyTo(header);
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)(miOffset + 24 - StunConst.HeaderSize));
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA1, key);
        hmac.AppendData(header);
        hmac.AppendData(message[StunConst.HeaderSize..miOffset]);
        Span<byte> mac = stackalloc byte[20];
        hmac.GetHashAndReset(mac);
        return CryptographicOperations.FixedTimeEquals(mac, message.Slice(miOffset + 4, 20));
    }

    /// <summary>HMAC-SHA1 over <paramref name="covered"/> (header length already adjusted by the writer).</summary>
    public static void Compute(ReadOnlySpan<byte> covered, ReadOnlySpan<byte> key, Span<byte> destination) =>
        HMACSHA1.HashData(key, covered, destination);

    /// <summary>CRC-32 (ISO HDLC, as in zlib) XOR 0x5354554E.</summary>
    public static uint Fingerprint(ReadOnlySpan<byte> covered) => Crc32(covered) ^ StunConst.FingerprintXor;

    /// <summary>Plain CRC-32 (reflected polynomial 0xEDB88320).</summary>
    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (var b in data)
        {
            crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }
        return ~crc;
    }

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            }
            table[i] = c;
        }
        return table;
    }
}
