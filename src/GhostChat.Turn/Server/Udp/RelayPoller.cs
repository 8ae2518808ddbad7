using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using GhostChat.Turn.Stun;
using static GhostChat.Turn.Server.Udp.LinuxSockets;

namespace GhostChat.Turn.Server.Udp;

/// <summary>
/// Linux: one thread serves the relay sockets of every allocation and the listening UDP sockets (both directions of
/// the relay: one thread, one wake-up for whatever is ready). It waits in epoll_wait; a ready relay socket is drained
/// with recvmmsg into one pinned <see cref="UdpBatch"/>, each datagram framed in place for its client and the whole
/// batch sent to a UDP client with one sendmmsg (a batch from one relay socket always goes to one client); a ready
/// listening socket (<see cref="PolledSocket"/>) is drained into a second batch that its owner demultiplexes (client
/// → peer datagrams of one such batch are queued on a <see cref="PeerSendQueue"/> and sent after it, one sendmmsg per
/// relay socket; sends never block). No thread-pool hop, no allocation per datagram. An eventfd wakes it to stop.
/// With GRO on (<see cref="TurnServerOptions.UdpGro"/>) every socket it serves gets UDP_GRO, and its batches split
/// what the kernel coalesced: one trip through the stack for a burst from one sender.
/// </summary>
internal sealed unsafe class RelayPoller : IDisposable
{
    private const int MaxEvents = 64;

    /// <summary>Batches read from one socket per wake-up before the others get their turn (epoll is level-triggered).</summary>
    private const int RoundsPerWake = 4;

    private const ulong WakeId = 0;

    private readonly ConcurrentDictionary<long, object> _registered = new();
    private readonly TurnMetrics _metrics;
    private readonly UdpBatch _batch;
    private readonly UdpBatch _listenBatch;
    private readonly PeerSendQueue _peerSends;
    private readonly bool _batchPeerSends;
    private readonly bool _gro;
    private readonly int[] _lengths;
    private readonly Epoll _epoll;
    private readonly Thread _thread;
    private long _nextId;
    private volatile bool _stopping;
    private int _disposed;

    private RelayPoller(Epoll epoll, int maxPayload, int batchSize, TurnMetrics metrics, bool batchPeerSends, bool gro)
    {
        _batchPeerSends = batchPeerSends;
        _gro = gro;
        _epoll = epoll;
        _metrics = metrics;
        // A batch from one relay socket goes to one client: runs of equal-sized datagrams go as one GSO message.
        _batch = new UdpBatch(batchSize, Allocation.Headroom, maxPayload, coalescing: gro) { Segmentation = true };
        // What a client sends: a payload and its ChannelData or Send indication header.
        _listenBatch = new UdpBatch(batchSize, 0, maxPayload + 128, coalescing: gro);
        // What goes on to peers: at most one datagram per datagram received, no longer than it.
        _peerSends = new PeerSendQueue(batchSize, _listenBatch.Capacity, metrics);
        _lengths = new int[batchSize];
        _thread = new Thread(Run) { IsBackground = true, Name = "turn-relay-poll" };
    }

    /// <summary>Sockets served now: relay sockets and listening sockets.</summary>
    public int Count => _registered.Count;

    /// <summary>
    /// A poller, or null where the system calls are missing (not Linux, or refused): the portable loops serve then.
    /// With <paramref name="batchPeerSends"/> (<see cref="TurnServerOptions.UdpBatchedPeerSends"/>) datagrams towards
    /// peers are queued per received batch; with <paramref name="gro"/> (<see cref="TurnServerOptions.UdpGro"/>) the
    /// sockets it serves get UDP_GRO.
    /// </summary>
    public static RelayPoller? TryCreate(int maxPayload, int batchSize, TurnMetrics metrics, bool batchPeerSends = true, bool gro = true)
    {
        var epoll = Epoll.TryCreate(MaxEvents, WakeId);
        if (epoll is null)
        {
            return null;
        }
        var poller = new RelayPoller(epoll, maxPayload, batchSize, metrics, batchPeerSends, gro);
        poller._thread.Start();
        return poller;
    }

    /// <summary>Serves <paramref name="allocation"/>'s relay socket from now on; false when epoll refuses it (use the portable loop).</summary>
    public bool TryAdd(Allocation allocation) => TryRegister(allocation, allocation.Relay, id => allocation.PollId = id);

    /// <summary>Reads <paramref name="source"/>'s socket from now on; false when epoll refuses it (its owner reads it then).</summary>
    public bool TryAdd(PolledSocket source) => TryRegister(source, source.Socket, id => source.PollId = id);

    /// <summary>Registers <paramref name="socket"/> under a new id (told to <paramref name="setId"/> first, 0 again on failure).</summary>
    private bool TryRegister(object source, Socket socket, Action<long> setId)
    {
        if (_stopping)
        {
            return false;
        }
        long id = Interlocked.Increment(ref _nextId);
        setId(id);
        _registered[id] = source;
        try
        {
            using var fd = new HandleLease(socket.SafeHandle);
            if (_epoll.Control(EpollCtlAdd, fd.Fd, EpollIn, (ulong)id))
            {
                // Only now: a socket the poller does not read must not get coalesced messages.
                if (_gro)
                {
                    UdpBatch.TryEnableCoalescing(socket);
                }
                return true;
            }
        }
        catch (ObjectDisposedException)
        {
            // Closed before it was served.
        }
        _registered.TryRemove(id, out _);
        setId(0);
        return false;
    }

    /// <summary>Stops reading <paramref name="source"/>'s socket (before it closes); a batch being handled still is.</summary>
    public void Remove(PolledSocket source) => Remove(source.PollId, source.Socket);

    /// <summary>Stops serving <paramref name="allocation"/> (before its socket closes); a datagram being relayed for it still goes.</summary>
    public void Remove(Allocation allocation) => Remove(allocation.PollId, allocation.Relay);

    private void Remove(long id, Socket socket)
    {
        if (id == 0 || !_registered.TryRemove(id, out _))
        {
            return;
        }
        try
        {
            using var fd = new HandleLease(socket.SafeHandle);
            _epoll.Control(EpollCtlDel, fd.Fd, 0, 0);
        }
        catch (ObjectDisposedException)
        {
            // Closed already: the kernel dropped it from the epoll set.
        }
    }

    /// <summary>Wakes the thread, waits for it to end and frees the batch. Allocations are closed by their owner.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _stopping = true;
        _epoll.Wake();
        if (_thread.IsAlive && _thread != Thread.CurrentThread)
        {
            _thread.Join();
        }
        _epoll.Dispose();
        _batch.Dispose();
        _listenBatch.Dispose();
        _peerSends.Dispose();
        _registered.Clear();
    }

    // Runs for the server's life: optimised from the start instead of waiting for on-stack replacement.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Run()
    {
        while (!_stopping)
        {
            int n = _epoll.Wait(-1);
            if (n < 0)
            {
                if (Marshal.GetLastPInvokeError() == EIntr)
                {
                    continue;
                }
                return;
            }
            for (int i = 0; i < n && !_stopping; i++)
            {
                ulong id = _epoll.Event(i).Data;
                if (id != WakeId && _registered.TryGetValue((long)id, out var source))
                {
                    try
                    {
                        if (source is Allocation allocation)
                        {
                            Drain(allocation);
                        }
                        else
                        {
                            Drain((PolledSocket)source);
                        }
                    }
                    catch (Exception ex) when (ex is ObjectDisposedException)
                    {
                        // Its socket closed while we read it: the allocation is gone.
                    }
                    catch (Exception ex)
                    {
                        _metrics.HandlerFault(ex);
                    }
                }
            }
        }
    }

    /// <summary>Reads what waits on one listening socket, a batch at a time, and hands each batch to its owner.</summary>
    private void Drain(PolledSocket source)
    {
        try
        {
            DrainBatches(source);
        }
        finally
        {
            Settle(_listenBatch);
        }
    }

    private void DrainBatches(PolledSocket source)
    {
        var handle = source.Socket.SafeHandle;
        // Datagrams split from a coalesced message are handed out before the next socket's turn (the batch is shared).
        for (int round = 0; (round < RoundsPerWake || _listenBatch.Pending) && !_stopping; round++)
        {
            int n = _listenBatch.Receive(handle, MsgDontWait);
            if (n < 0)
            {
                // ECONNREFUSED and the like report an ICMP error for an earlier send (and clear it): read on.
                if (-n is EConnRefused or EHostUnreach or ENetUnreach)
                {
                    _metrics.CountDropped();
                    continue;
                }
                // EAGAIN: nothing more waits; anything else (EINTR included) is retried on the next wake-up.
                return;
            }
            if (n == 0)
            {
                return;
            }
            try
            {
                source.OnBatch(_listenBatch, n, _batchPeerSends ? _peerSends : null);
            }
            finally
            {
                _peerSends.Flush();
            }
            if (n < _listenBatch.Count)
            {
                return;
            }
        }
    }

    /// <summary>Reads what waits on one relay socket, a batch at a time, and passes it on to the client.</summary>
    private void Drain(Allocation allocation)
    {
        try
        {
            DrainBatches(allocation);
        }
        finally
        {
            Settle(_batch);
        }
    }

    /// <summary>After a socket's turn: counts what arrived coalesced, and drops what is left of a message (its socket closed).</summary>
    private void Settle(UdpBatch batch)
    {
        if (batch.Pending)
        {
            _metrics.CountDropped(batch.Discard());
        }
        _metrics.CountCoalesced(batch.TakeCoalesced());
    }

    private void DrainBatches(Allocation allocation)
    {
        var handle = allocation.Relay.SafeHandle;
        var udp = allocation.Link as UdpLink;
        for (int round = 0; (round < RoundsPerWake || _batch.Pending) && !allocation.Closed; round++)
        {
            int n = _batch.Receive(handle, MsgDontWait);
            if (n <= 0)
            {
                return;
            }
            for (int i = 0; i < n; i++)
            {
                if (_batch.Truncated(i))
                {
                    _metrics.CountDropped();
                    continue;
                }
                int length = _batch.Length(i);
                var source = _batch.Source(i);
                var peer = PeerKey.FromSockAddr(source, v4: source.Length < 28);
                var slot = _batch.Slot(i);
                if (!allocation.TryFrameForClient(slot, length, peer, out int start, out int frame))
                {
                    continue;
                }
                if (udp is not null)
                {
                    _lengths[_batch.Queued] = length;
                    _batch.Queue(i, start, frame);
                }
                else
                {
                    allocation.Link.Send(slot.Slice(start, frame));
                    _metrics.CountRelayed(length);
                }
            }
            if (udp is not null)
            {
                Flush(udp);
            }
            if (n < _batch.Count)
            {
                return;
            }
        }
    }

    private void Flush(UdpLink udp)
    {
        int queued = _batch.Queued;
        if (queued == 0)
        {
            return;
        }
        int sent = _batch.Flush(udp.Socket.SafeHandle, udp.Address);
        long bytes = 0;
        for (int k = 0; k < sent; k++)
        {
            bytes += _lengths[k];
        }
        _metrics.CountRelayed(sent, bytes);
        for (int k = sent; k < queued; k++)
        {
            _metrics.CountDropped();
        }
    }
}
