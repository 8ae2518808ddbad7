using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Signaling.Cluster;

/// <summary>
/// Redis as an untrusted carrier between nodes that share <see cref="ClusterOptions.ClusterKey"/>.
/// Two keys are derived from it (HKDF-SHA256, distinct labels):
/// <list type="bullet">
/// <item>the token key: Redis holds <c>HMAC-SHA256(token key, id "\n" token)</c>, never a token, so
/// reading Redis does not let anyone reattach as a peer;</item>
/// <item>the message key: every node-to-node message (pub/sub, and queue items) is sealed as
/// <c>version(1) mac(32) instance(8) sequence(8) unix-ms(8) body</c>, the MAC covering the channel
/// or queue name and every byte after the MAC. A message is accepted only with the right MAC, for
/// the channel it arrived on, within <see cref="MessageWindow"/> of the receiver's clock and (on
/// channels) at most once per sender instance and sequence number.</item>
/// </list>
/// </summary>
internal sealed class ClusterTrust
{
    /// <summary>How far a sender's clock may be from the receiver's, and how old a channel message may be.</summary>
    public static readonly TimeSpan MessageWindow = TimeSpan.FromSeconds(30);

    private const byte Version = 1;
    private const int MacLength = 32;
    private const int HeaderLength = 1 + MacLength + 8 + 8 + 8;
    private const int ReplayWindowSize = 1024; // sequence numbers a receiver tolerates out of order

    private readonly byte[] _tokenKey;
    private readonly byte[] _messageKey;
    private readonly TimeProvider _time;
    private readonly ulong _instance = BinaryPrimitives.ReadUInt64BigEndian(RandomNumberGenerator.GetBytes(8));
    private readonly ConcurrentDictionary<ulong, ReplayWindow> _senders = new();
    private long _sequence;
    private long _lastPrune;

    public ClusterTrust(IOptions<ClusterOptions> options, TimeProvider time)
    {
        var key = options.Value.ResolveClusterKey(out var error) ?? throw new InvalidOperationException(error);
        var secret = Encoding.UTF8.GetBytes(key);
        _tokenKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, 32, info: "ghostchat cluster token v1"u8.ToArray());
        _messageKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, 32, info: "ghostchat cluster message v1"u8.ToArray());
        _time = time;
    }

    /// <summary>What Redis stores instead of <paramref name="token"/> (bound to the id: a hash is no use under another id).</summary>
    public string HashToken(string id, string token)
    {
        Span<byte> mac = stackalloc byte[MacLength];
        HMACSHA256.HashData(_tokenKey, Encoding.UTF8.GetBytes(id + "\n" + token), mac);
        return Convert.ToBase64String(mac);
    }

    /// <summary>Seals <paramref name="body"/> for <paramref name="channel"/> (a channel or queue key name).</summary>
    public byte[] Seal(string channel, ReadOnlySpan<byte> body)
    {
        var bytes = new byte[HeaderLength + body.Length];
        bytes[0] = Version;
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(1 + MacLength), _instance);
        BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(1 + MacLength + 8), Interlocked.Increment(ref _sequence));
        BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(1 + MacLength + 16), _time.GetUtcNow().ToUnixTimeMilliseconds());
        body.CopyTo(bytes.AsSpan(HeaderLength));
        ComputeMac(channel, bytes, bytes.AsSpan(1, MacLength));
        return bytes;
    }

    /// <summary>
    /// Checks a sealed message that arrived on <paramref name="channel"/>: its MAC, that it is at most
    /// <paramref name="maxAge"/> old (and not from the future beyond <see cref="MessageWindow"/>), and
    /// with <paramref name="once"/> that it was not accepted before. <paramref name="body"/> is what was sealed.
    /// </summary>
    public ClusterDrop Open(string channel, byte[] message, TimeSpan maxAge, bool once, out ArraySegment<byte> body)
    {
        body = default;
        if (message.Length < HeaderLength || message[0] != Version)
        {
            return ClusterDrop.Unauthenticated;
        }
        Span<byte> expected = stackalloc byte[MacLength];
        ComputeMac(channel, message, expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, message.AsSpan(1, MacLength)))
        {
            return ClusterDrop.Unauthenticated;
        }
        var instance = BinaryPrimitives.ReadUInt64BigEndian(message.AsSpan(1 + MacLength));
        var sequence = BinaryPrimitives.ReadInt64BigEndian(message.AsSpan(1 + MacLength + 8));
        var sentAt = BinaryPrimitives.ReadInt64BigEndian(message.AsSpan(1 + MacLength + 16));
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (sentAt > now + (long)MessageWindow.TotalMilliseconds || sentAt < now - (long)maxAge.TotalMilliseconds)
        {
            return ClusterDrop.Stale;
        }
        if (once && !FirstTime(instance, sequence, now))
        {
            return ClusterDrop.Replayed;
        }
        body = new ArraySegment<byte>(message, HeaderLength, message.Length - HeaderLength);
        return ClusterDrop.None;
    }

    private void ComputeMac(string channel, byte[] message, Span<byte> destination)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _messageKey);
        hmac.AppendData(Encoding.UTF8.GetBytes(channel));
        hmac.AppendData([0]);
        hmac.AppendData(message.AsSpan(0, 1));
        hmac.AppendData(message.AsSpan(1 + MacLength));
        hmac.GetHashAndReset(destination);
    }

    private bool FirstTime(ulong instance, long sequence, long now)
    {
        // A sender unseen for two windows can only send stale messages: its window can go.
        var lastPrune = Interlocked.Read(ref _lastPrune);
        if (now - lastPrune > MessageWindow.TotalMilliseconds && Interlocked.CompareExchange(ref _lastPrune, now, lastPrune) == lastPrune)
        {
            foreach (var (id, window) in _senders)
            {
                if (Interlocked.Read(ref window.LastSeen) < now - 2 * (long)MessageWindow.TotalMilliseconds)
                {
                    _senders.TryRemove(new KeyValuePair<ulong, ReplayWindow>(id, window));
                }
            }
        }
        var sender = _senders.GetOrAdd(instance, static _ => new ReplayWindow());
        Interlocked.Exchange(ref sender.LastSeen, now);
        return sender.Accept(sequence);
    }

    /// <summary>The sequence numbers seen from one sender, as a sliding bitmap (RFC 6479's idea).</summary>
    private sealed class ReplayWindow
    {
        public long LastSeen;
        private readonly ulong[] _bits = new ulong[ReplayWindowSize / 64];
        private readonly Lock _lock = new();
        private long _highest;

        public bool Accept(long sequence)
        {
            lock (_lock)
            {
                if (sequence <= 0 || sequence <= _highest - ReplayWindowSize)
                {
                    return false;
                }
                if (sequence > _highest)
                {
                    if (sequence - _highest >= ReplayWindowSize)
                    {
                        Array.Clear(_bits);
                    }
                    else
                    {
                        for (var s = _highest + 1; s <= sequence; s++)
                        {
                            _bits[(s % ReplayWindowSize) >> 6] &= ~(1UL << (int)(s & 63));
                        }
                    }
                    _highest = sequence;
                }
                ref var word = ref _bits[(sequence % ReplayWindowSize) >> 6];
                var bit = 1UL << (int)(sequence & 63);
                if ((word & bit) != 0)
                {
                    return false;
                }
                word |= bit;
                return true;
            }
        }
    }
}

/// <summary>Why a message from Redis was dropped (a metric tag; never the content).</summary>
internal enum ClusterDrop
{
    None,
    /// <summary>No or a wrong MAC (a forgery, another cluster key, or another channel's message).</summary>
    Unauthenticated,
    /// <summary>Older than allowed, or from too far in the future.</summary>
    Stale,
    /// <summary>Seen before.</summary>
    Replayed,
    /// <summary>Larger than any message a node sends.</summary>
    Oversize,
    /// <summary>Authentic, but not a message this version understands.</summary>
    Malformed,
    /// <summary>A relayed frame that is not a well-formed frame of the type and destination it claims.</summary>
    BadFrame,
}
