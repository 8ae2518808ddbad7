using System.Buffers.Binary;
using System.Security.Cryptography;

namespace GhostChat.Turn.Auth;

/// <summary>
/// Stateless nonces: 8 bytes of issue time (Unix milliseconds) and 10 bytes of HMAC-SHA256 over it under a
/// per-process key, hex-encoded. A nonce we did not make, or one older than the lifetime, is stale (438).
/// </summary>
internal sealed class NonceIssuer
{
    private const int MacBytes = 10;
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly TimeProvider _time;
    private readonly TimeSpan _lifetime;

    public NonceIssuer(TimeProvider time, TimeSpan lifetime)
    {
        _time = time;
        _lifetime = lifetime;
    }

    public string Issue()
    {
        Span<byte> raw = stackalloc byte[8 + MacBytes];
        BinaryPrimitives.WriteInt64BigEndian(raw, _time.GetUtcNow().ToUnixTimeMilliseconds());
        Sign(raw[..8], raw[8..]);
        return Convert.ToHexStringLower(raw);
    }

    /// <summary>True when <paramref name="nonce"/> is ours and younger than the lifetime.</summary>
    public bool IsFresh(ReadOnlySpan<byte> nonce)
    {
        Span<byte> raw = stackalloc byte[8 + MacBytes];
        if (nonce.Length != raw.Length * 2)
        {
            return false;
        }
        for (int i = 0; i < raw.Length; i++)
        {
            int hi = Hex(nonce[2 * i]), lo = Hex(nonce[(2 * i) + 1]);
            if (hi < 0 || lo < 0)
            {
                return false;
            }
            raw[i] = (byte)((hi << 4) | lo);
        }
        Span<byte> mac = stackalloc byte[MacBytes];
        Sign(raw[..8], mac);
        if (!CryptographicOperations.FixedTimeEquals(mac, raw[8..]))
        {
            return false;
        }
        long issued = BinaryPrimitives.ReadInt64BigEndian(raw);
        long age = _time.GetUtcNow().ToUnixTimeMilliseconds() - issued;
        return age >= -1000 && age <= (long)_lifetime.TotalMilliseconds;
    }

    private static int Hex(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        _ => -1,
    };

    private void Sign(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        Span<byte> full = stackalloc byte[32];
        HMACSHA256.HashData(_key, data, full);
        full[..destination.Length].CopyTo(destination);
    }
}
