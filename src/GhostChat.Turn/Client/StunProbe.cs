using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using GhostChat.Turn.Stun;

namespace GhostChat.Turn.Client;

/// <summary>What one STUN Binding answer said.</summary>
/// <param name="Mapped">XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS from an old server): our address as the server saw it.</param>
/// <param name="ResponseOrigin">RFC 5780 RESPONSE-ORIGIN: where the server says it answered from, when it said so.</param>
/// <param name="OtherAddress">RFC 5780 OTHER-ADDRESS: the server's alternate address and port, when it has one.</param>
/// <param name="From">Where the answer actually came from.</param>
public sealed record StunBindingResult(IPEndPoint Mapped, IPEndPoint? ResponseOrigin, IPEndPoint? OtherAddress, IPEndPoint From);

/// <summary>
/// STUN Binding over one unconnected UDP socket, so the same local port can ask several server addresses and
/// receive answers from addresses it did not send to: what RFC 5780 NAT mapping and filtering tests need
/// (CHANGE-REQUEST). Used by <c>ghostchat doctor</c> and tests.
/// </summary>
public sealed class StunProbe : IDisposable
{
    private readonly Socket _socket;
    private readonly ConcurrentDictionary<UInt128, TaskCompletionSource<(byte[] Packet, IPEndPoint From)>> _pending = new();
    private readonly CancellationTokenSource _stop = new();
    private int _nonStun;

    private StunProbe(Socket socket)
    {
        _socket = socket;
        _ = Task.Run(ReceiveLoopAsync);
    }

    /// <summary>Retransmission timeout of the first try; doubled each time (RFC 8489 §6.2.1). Default 250 ms.</summary>
    public TimeSpan InitialRto { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Datagrams received that were not STUN at all (another service answering on a STUN port).</summary>
    public int NonStunAnswers => Volatile.Read(ref _nonStun);

    /// <summary>The local address of the socket (one local port for every request).</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>Opens a UDP socket on a free port for <paramref name="family"/>.</summary>
    public static StunProbe Open(AddressFamily family = AddressFamily.InterNetwork, IPAddress? localAddress = null)
    {
        var socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.Bind(new IPEndPoint(localAddress ?? (family == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any), 0));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new StunProbe(socket);
    }

    /// <summary>
    /// Sends a Binding request to <paramref name="server"/> (retransmitted until <paramref name="timeout"/>), optionally
    /// with CHANGE-REQUEST. Throws <see cref="TurnException"/> with the code for an error answer, and with code 0 when
    /// nothing answered in time (for filtering tests, no answer is the result: see <see cref="TryBindingAsync"/>).
    /// </summary>
    public async Task<StunBindingResult> BindingAsync(IPEndPoint server, bool changeIp = false, bool changePort = false, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        return await TryBindingAsync(server, changeIp, changePort, timeout, cancellationToken).ConfigureAwait(false)
            ?? throw new TurnException(0, "no STUN answer from " + server);
    }

    /// <summary>As <see cref="BindingAsync"/>, but null when nothing answered in time.</summary>
    public async Task<StunBindingResult?> TryBindingAsync(IPEndPoint server, bool changeIp = false, bool changePort = false, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        if (server.AddressFamily != _socket.AddressFamily)
        {
            throw new ArgumentException("server address family differs from the probe's socket", nameof(server));
        }
        var tid = RandomNumberGenerator.GetBytes(12);
        var buffer = new byte[64];
        var w = new StunWriter(buffer, StunConst.Binding, StunClass.Request, tid);
        if (changeIp || changePort)
        {
            w.AddBytes(StunConst.ChangeRequest, [0, 0, 0, (byte)((changeIp ? StunConst.ChangeIpFlag : 0) | (changePort ? StunConst.ChangePortFlag : 0))]);
        }
        w.AddFingerprint();
        var request = w.Written.ToArray();
        var id = Key(tid);
        var tcs = new TaskCompletionSource<(byte[] Packet, IPEndPoint From)>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = tcs;
        try
        {
            foreach (var wait in RetransmitWaits(InitialRto, timeout ?? TimeSpan.FromSeconds(3)))
            {
                try
                {
                    await _socket.SendToAsync(request, SocketFlags.None, server, cancellationToken).ConfigureAwait(false);
                }
                catch (SocketException)
                {
                    // ICMP unreachable reported on a later send: keep trying until the deadline, as UDP allows.
                }
                try
                {
                    var (packet, from) = await tcs.Task.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
                    return Parse(packet, from);
                }
                catch (TimeoutException)
                {
                    // Retransmit with the next, doubled wait.
                }
            }
            return null;
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>
    /// The wait after each send of one request: <paramref name="initialRto"/>, doubled each time (RFC 8489 §6.2.1),
    /// the last one cut to what is left of <paramref name="timeout"/>. A remainder shorter than a millisecond joins the
    /// wait before it, and no wait is shorter than a millisecond: timer waits round down to whole milliseconds, and a zero wait would end at once and resend in a
    /// tight loop (which once doubled the timeout past <see cref="TimeSpan.MaxValue"/>).
    /// </summary>
    internal static List<TimeSpan> RetransmitWaits(TimeSpan initialRto, TimeSpan timeout)
    {
        var minimum = TimeSpan.FromMilliseconds(1);
        var rto = initialRto < minimum ? minimum : initialRto;
        var waits = new List<TimeSpan>();
        var left = timeout;
        while (left > TimeSpan.Zero)
        {
            var wait = rto < left ? rto : left;
            if (left - wait < minimum)
            {
                wait = left;
            }
            waits.Add(wait < minimum ? minimum : wait);
            left -= wait;
            rto = rto.Ticks > TimeSpan.MaxValue.Ticks / 2 ? TimeSpan.MaxValue : rto * 2;
        }
        return waits;
    }

    private static StunBindingResult Parse(byte[] packet, IPEndPoint from)
    {
        if (!StunMessage.TryParse(packet, out var m) || m.Method != StunConst.Binding)
        {
            throw new TurnException(0, "malformed STUN answer");
        }
        if (m.Class == StunClass.Error)
        {
            int code = m.ErrorCode.Present && m.ErrorCode.Length >= 4 ? ((packet[m.ErrorCode.Offset + 2] & 7) * 100) + packet[m.ErrorCode.Offset + 3] : 0;
            throw new TurnException(code, $"STUN error {code}");
        }
        IPEndPoint? mapped = StunMessage.TryReadXorAddress(packet, m.XorMappedAddress, out var x) ? x.ToEndPoint() : null;
        IPEndPoint? origin = null, other = null;
        // RFC 5780 attributes and the old MAPPED-ADDRESS are comprehension-optional for the parser: walk them here.
        int pos = StunConst.HeaderSize;
        while (pos + 4 <= packet.Length)
        {
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(pos));
            int len = BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(pos + 2));
            if (pos + 4 + len > packet.Length)
            {
                break;
            }
            var value = packet.AsSpan(pos + 4, len);
            switch (type)
            {
                case StunConst.ResponseOrigin: origin ??= ReadPlain(value); break;
                case StunConst.OtherAddress: other ??= ReadPlain(value); break;
                case StunConst.MappedAddress: mapped ??= ReadPlain(value); break;
            }
            pos += 4 + ((len + 3) & ~3);
        }
        return new StunBindingResult(mapped ?? throw new TurnException(0, "Binding answer without a mapped address"), origin, other, from);
    }

    private static IPEndPoint? ReadPlain(ReadOnlySpan<byte> v)
    {
        if (v.Length == 8 && v[1] == StunConst.FamilyV4)
        {
            return new IPEndPoint(new IPAddress(v.Slice(4, 4)), BinaryPrimitives.ReadUInt16BigEndian(v[2..]));
        }
        if (v.Length == 20 && v[1] == StunConst.FamilyV6)
        {
            return new IPEndPoint(new IPAddress(v.Slice(4, 16)), BinaryPrimitives.ReadUInt16BigEndian(v[2..]));
        }
        return null;
    }

    private static UInt128 Key(ReadOnlySpan<byte> tid)
    {
        Span<byte> b = stackalloc byte[16];
        tid.CopyTo(b[4..]);
        return BinaryPrimitives.ReadUInt128BigEndian(b);
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[2048];
        var any = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try
            {
                r = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                continue;
            }
            catch (Exception ex) when (ex is ObjectDisposedException or OperationCanceledException)
            {
                return;
            }
            // Anything that is not a STUN answer to one of our transactions (garbage, another protocol) is ignored.
            if (r.ReceivedBytes < StunConst.HeaderSize || !StunFraming.LooksLikeStun(buffer.AsSpan(0, r.ReceivedBytes)))
            {
                Interlocked.Increment(ref _nonStun);
                continue;
            }
            if (_pending.TryGetValue(Key(buffer.AsSpan(8, 12)), out var tcs))
            {
                tcs.TrySetResult((buffer[..r.ReceivedBytes], (IPEndPoint)r.RemoteEndPoint));
            }
        }
    }

    /// <summary>Closes the socket.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        _stop.Dispose();
    }
}
