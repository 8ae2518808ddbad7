using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace GhostChat.Turn.Server;

/// <summary>
/// The counters of one TURN server (meter <see cref="TurnServer.MeterName"/>): relayed and dropped packets, refusals by
/// an abuse limit, faults around one packet. Each part of the server counts into it; the gauges (allocations and
/// connections open) are read from their owners through <see cref="Observe"/>. Counting allocates nothing.
/// </summary>
internal sealed class TurnMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly ILogger _logger;
    private readonly Counter<long> _refusals;
    private readonly ConcurrentDictionary<string, RefusalTally> _refusalTallies = new(StringComparer.Ordinal);
    private long _relayedPackets;
    private long _relayedBytes;
    private long _dropped;
    private long _coalesced;
    private long _allocationsCreated;
    private long _handlerFaults;

    public TurnMetrics(IMeterFactory? meterFactory, ILogger logger)
    {
        _logger = logger;
        _meter = meterFactory?.Create(TurnServer.MeterName) ?? new Meter(TurnServer.MeterName);
        _meter.CreateObservableCounter("ghostchat.turn.allocations.created", () => Interlocked.Read(ref _allocationsCreated), description: "Allocations made since start.");
        _meter.CreateObservableCounter("ghostchat.turn.relayed.packets", () => Interlocked.Read(ref _relayedPackets), description: "Packets relayed, both directions.");
        _meter.CreateObservableCounter("ghostchat.turn.relayed.bytes", () => Interlocked.Read(ref _relayedBytes), unit: "By", description: "Payload bytes relayed, both directions.");
        _meter.CreateObservableCounter("ghostchat.turn.dropped.packets", () => Interlocked.Read(ref _dropped), description: "Packets dropped: no permission, rate limit, malformed.");
        _meter.CreateObservableCounter("ghostchat.turn.udp.coalesced", () => Interlocked.Read(ref _coalesced), description: "Datagrams that arrived coalesced (UDP GRO): the kernel handed a burst from one sender over in one message.");
        _refusals = _meter.CreateCounter<long>("ghostchat.turn.refusals", description: "Requests, connections and sends refused by an abuse limit, by reason.");
    }

    public long RelayedPackets => Interlocked.Read(ref _relayedPackets);

    public long DroppedPackets => Interlocked.Read(ref _dropped);

    public long HandlerFaults => Interlocked.Read(ref _handlerFaults);

    /// <summary>The gauges, fed by their owners: allocations open (the allocation manager), connections open (the stream listener).</summary>
    public void Observe(Func<int> allocations, Func<int> connections)
    {
        _meter.CreateObservableUpDownCounter("ghostchat.turn.allocations.active", allocations, description: "Allocations now open.");
        _meter.CreateObservableUpDownCounter("ghostchat.turn.connections.active", connections, description: "TCP and TLS connections now open.");
    }

    public void CountRelayed(int bytes)
    {
        Interlocked.Increment(ref _relayedPackets);
        Interlocked.Add(ref _relayedBytes, bytes);
    }

    /// <summary>A batch of <paramref name="packets"/> relayed packets carrying <paramref name="bytes"/> payload bytes.</summary>
    public void CountRelayed(int packets, long bytes)
    {
        if (packets > 0)
        {
            Interlocked.Add(ref _relayedPackets, packets);
            Interlocked.Add(ref _relayedBytes, bytes);
        }
    }

    public void CountDropped() => Interlocked.Increment(ref _dropped);

    public void CountDropped(int packets)
    {
        if (packets > 0)
        {
            Interlocked.Add(ref _dropped, packets);
        }
    }

    public long CoalescedPackets => Interlocked.Read(ref _coalesced);

    /// <summary>Datagrams that arrived coalesced (GRO) in one socket's turn.</summary>
    public void CountCoalesced(long packets)
    {
        if (packets > 0)
        {
            Interlocked.Add(ref _coalesced, packets);
        }
    }

    public void CountAllocationCreated() => Interlocked.Increment(ref _allocationsCreated);

    /// <summary>An exception caught around one packet: counted and logged, and the server goes on.</summary>
    public void HandlerFault(Exception ex)
    {
        Interlocked.Increment(ref _handlerFaults);
        string typeName = ex.GetType().Name;
        Log.HandlerFault(_logger, typeName, ex);
    }

    /// <summary>
    /// Counts a refusal by an abuse limit (metric <c>ghostchat.turn.refusals</c>, tag <c>reason</c>) and logs it at
    /// Information at most every 10 s per reason, with the count since: no addresses, no users.
    /// </summary>
    public void Refuse(string reason)
    {
        _refusals.Add(1, new KeyValuePair<string, object?>("reason", reason));
        var tally = _refusalTallies.GetOrAdd(reason, static _ => new RefusalTally());
        long count = Interlocked.Increment(ref tally.Count);
        long now = Environment.TickCount64;
        long last = Volatile.Read(ref tally.LastLog);
        if ((last == 0 || now - last >= 10_000) && Interlocked.CompareExchange(ref tally.LastLog, now, last) == last)
        {
            long since = count - Interlocked.Exchange(ref tally.Logged, count);
            Log.AbuseLimit(_logger, reason, since);
        }
    }

    public void Dispose() => _meter.Dispose();

    private sealed class RefusalTally
    {
        public long Count;
        public long Logged;
        public long LastLog;
    }
}
