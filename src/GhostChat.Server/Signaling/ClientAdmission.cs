using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using GhostChat.Turn.Security;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Signaling;

internal enum AdmissionResult
{
    Admitted,
    AtCapacity,
    TooManySocketsFromAddress,
    ConnectingTooFast,
}

/// <summary>
/// Per-address and global socket limits. An address is an IPv4 address or an IPv6 /64 (one
/// subscriber usually holds a whole /64), with IPv4-mapped IPv6 turned into IPv4 first.
/// </summary>
internal sealed class ClientAdmission
{
    private readonly ConcurrentDictionary<string, AddressState> _addresses = new(StringComparer.Ordinal);
    private readonly IOptionsMonitor<SignalingOptions> _options;
    private readonly TimeProvider _time;
    private int _sockets;

    public ClientAdmission(IOptionsMonitor<SignalingOptions> options, TimeProvider time)
    {
        _options = options;
        _time = time;
    }

    public int OpenSockets => Volatile.Read(ref _sockets);

    public static string AddressKey(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            Span<byte> bytes = stackalloc byte[16];
            address.TryWriteBytes(bytes, out _);
            bytes[8..].Clear();
            return new IPAddress(bytes).ToString() + "/64";
        }
        return address.ToString();
    }

    /// <summary>Admits a new socket or says which limit refuses it. Admitted sockets must be <see cref="Release"/>d.</summary>
    public AdmissionResult TryAdmit(string key)
    {
        var limits = _options.CurrentValue.Limits;
        if (Interlocked.Increment(ref _sockets) > limits.MaxSockets)
        {
            Interlocked.Decrement(ref _sockets);
            return AdmissionResult.AtCapacity;
        }

        var now = _time.GetTimestamp();
        while (true)
        {
            var state = _addresses.GetOrAdd(key, static (_, arg) => new AddressState(arg.Burst, arg.Now), (Burst: limits.ConnectBurstPerIp, Now: now));
            lock (state)
            {
                if (state.Removed)
                {
                    continue; // pruned between GetOrAdd and lock: take the fresh one
                }
                if (state.Sockets >= limits.MaxSocketsPerIp)
                {
                    Interlocked.Decrement(ref _sockets);
                    return AdmissionResult.TooManySocketsFromAddress;
                }
                if (!state.Connects.TryTake(now, _time.TimestampFrequency, limits.ConnectsPerSecondPerIp, limits.ConnectBurstPerIp))
                {
                    Interlocked.Decrement(ref _sockets);
                    return AdmissionResult.ConnectingTooFast;
                }
                state.Sockets++;
                return AdmissionResult.Admitted;
            }
        }
    }

    public void Release(string key)
    {
        Interlocked.Decrement(ref _sockets);
        if (_addresses.TryGetValue(key, out var state))
        {
            lock (state)
            {
                state.Sockets--;
            }
        }
    }

    /// <summary>Forgets addresses with no socket and a full connect bucket, so the table stays small.</summary>
    public void Prune()
    {
        var limits = _options.CurrentValue.Limits;
        var now = _time.GetTimestamp();
        foreach (var (key, state) in _addresses)
        {
            lock (state)
            {
                if (state.Sockets == 0 && state.Connects.IsFullAt(now, _time.TimestampFrequency, limits.ConnectsPerSecondPerIp, limits.ConnectBurstPerIp))
                {
                    state.Removed = true;
                    _addresses.TryRemove(new KeyValuePair<string, AddressState>(key, state));
                }
            }
        }
    }

    private sealed class AddressState(int burst, long now)
    {
        public TokenBucket Connects = new(burst, now);
        public int Sockets;
        public bool Removed;
    }
}
