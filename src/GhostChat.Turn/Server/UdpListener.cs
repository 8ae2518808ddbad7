using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using GhostChat.Turn.Stun;
using Microsoft.Extensions.Logging;

namespace GhostChat.Turn.Server;

/// <summary>
/// The UDP side: the listening sockets and the STUN-only sockets of RFC 5780. On Linux (with
/// <see cref="TurnServerOptions.UdpBatchedIo"/> on) the relay poller's epoll thread reads them too, a batch per
/// recvmmsg into one pinned <see cref="Udp.UdpBatch"/>, so one thread and one wake-up serve both directions of the
/// relay; one socket per address then. Otherwise (another OS, the option off, or a kernel that refuses epoll) one
/// receive loop (a thread) per socket — blocking in recvmmsg where the kernel takes it, else in ReceiveFrom with one
/// MTU-sized buffer — with several sockets per port (SO_REUSEPORT, <see cref="TurnServerOptions.UdpReceiveLoops"/>)
/// on Linux. Each datagram is demultiplexed (RFC 8656 §12):
/// ChannelData and Send indications go to the client's allocation, requests to the <see cref="RequestHandler"/>.
/// </summary>
internal sealed class UdpListener(
    TurnServerOptions options,
    AllocationManager allocations,
    RequestHandler handler,
    BindingHandler binding,
    TurnMetrics metrics,
    ILogger logger,
    CancellationToken stopping) : IDisposable
{
    private readonly List<Socket> _sockets = [];
    private readonly List<Thread> _threads = [];
    private readonly List<Listened> _polled = [];

    /// <summary>Binds <paramref name="address"/>:<paramref name="port"/> with <paramref name="loops"/> receive loops; returns the bound endpoint and its sockets.</summary>
    public (IPEndPoint Bound, List<Socket> Sockets) Bind(IPAddress address, int port, int loops)
    {
        IPEndPoint? bound = null;
        List<Socket> sockets = [];
        if (allocations.Poller is not null)
        {
            // The poller's one thread reads every socket: more sockets on the port would only split its batches.
            loops = 1;
        }
        if (loops > 1 && port != 0 && OperatingSystem.IsLinux())
        {
            // SO_REUSEPORT would let us share a port another server (coturn sets it too) already holds and split its
            // traffic silently: probe with a plain bind first so a taken port fails loudly.
            using var probe = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            probe.Bind(new IPEndPoint(address, port));
        }
        for (int i = 0; i < loops; i++)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            if (address.AddressFamily == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = address.Equals(IPAddress.IPv6Any);
            }
            if (loops > 1 && OperatingSystem.IsLinux())
            {
                // SO_REUSEPORT (15): the kernel spreads clients over the sockets by their 4-tuple.
                socket.SetRawSocketOption(1, 15, BitConverter.GetBytes(1));
            }
            socket.ReceiveBufferSize = 4 * 1024 * 1024;
            socket.SendBufferSize = 4 * 1024 * 1024;
            socket.Bind(bound ?? new IPEndPoint(address, port));
            bound ??= (IPEndPoint)socket.LocalEndPoint!;
            sockets.Add(socket);
            StartLoop(socket, bindingOnly: false, "turn-udp-" + i);
            if (!OperatingSystem.IsLinux())
            {
                break;
            }
        }
        return (bound!, sockets);
    }

    /// <summary>
    /// Binds the RFC 5780 STUN-only sockets beside the primary ones and hands them to the Binding handler. Returns the
    /// endpoints: first the primary address on the alternate port, then, with an alternate address, that address on
    /// the UDP port and on the alternate port.
    /// </summary>
    public List<IPEndPoint> StartNatDiscovery(IPAddress primary, IPEndPoint primaryBound, List<Socket> primarySockets, IPAddress advertised)
    {
        var slots = new Dictionary<Socket, int>();
        var sockets = new Socket?[4];
        foreach (var s in primarySockets)
        {
            slots[s] = 0;
        }
        sockets[0] = primarySockets[0];
        var bound = new List<IPEndPoint>();
        int alternatePort = BindStunOnly(primary, options.AlternatePort, 1, sockets, slots, bound);
        if (options.AlternateAddress is { } alternate)
        {
            var address = IPAddress.Parse(alternate);
            BindStunOnly(address, primaryBound.Port, 2, sockets, slots, bound);
            BindStunOnly(address, alternatePort, 3, sockets, slots, bound);
        }
        binding.Discovery = new NatDiscovery(sockets, slots, advertised);
        string endPoints = string.Join(", ", bound);
        Log.NatDiscovery(logger, endPoints);
        return bound;
    }

    /// <summary>Closes every socket and waits for the loops to end.</summary>
    public void Dispose()
    {
        foreach (var p in _polled)
        {
            allocations.Poller?.Remove(p);
        }
        foreach (var s in _sockets)
        {
            if (Udp.LinuxSockets.Supported)
            {
                // Wakes a thread blocked in recvmmsg: closing the descriptor alone does not (it holds a reference).
                WakeReceiver(s);
            }
            s.Dispose();
        }
        foreach (var t in _threads)
        {
            t.Join(TimeSpan.FromSeconds(5));
        }
    }

    private int BindStunOnly(IPAddress address, int port, int slot, Socket?[] sockets, Dictionary<Socket, int> slots, List<IPEndPoint> bound)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (address.AddressFamily == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = address.Equals(IPAddress.IPv6Any);
            }
            socket.Bind(new IPEndPoint(address, port));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        sockets[slot] = socket;
        slots[socket] = slot;
        var local = (IPEndPoint)socket.LocalEndPoint!;
        bound.Add(local);
        StartLoop(socket, bindingOnly: true, "turn-stun-" + slot);
        return local.Port;
    }

    private void StartLoop(Socket socket, bool bindingOnly, string name)
    {
        _sockets.Add(socket);
        if (allocations.Poller is { } poller)
        {
            var listened = new Listened(this, socket, bindingOnly);
            if (poller.TryAdd(listened))
            {
                _polled.Add(listened);
                return;
            }
        }
        var thread = new Thread(() => ReceiveLoop(socket, bindingOnly)) { IsBackground = true, Name = name };
        _threads.Add(thread);
        thread.Start();
    }

    private static void WakeReceiver(Socket socket)
    {
        try
        {
            using var fd = new Udp.HandleLease(socket.SafeHandle);
            _ = Udp.LinuxSockets.Shutdown(fd.Fd, Udp.LinuxSockets.ShutRd);
        }
        catch (ObjectDisposedException)
        {
            // Closed already: nothing is blocked on it.
        }
    }

    private void ReceiveLoop(Socket socket, bool bindingOnly)
    {
        if (options.UdpBatchedIo && Udp.LinuxSockets.Supported && BatchedReceiveLoop(socket, bindingOnly))
        {
            return;
        }
        PortableReceiveLoop(socket, bindingOnly);
    }

    /// <summary>The Linux loop: a batch per recvmmsg. False when the kernel refuses the call at once (the portable loop takes over).</summary>
    // A loop that runs for the server's life: optimised from the start instead of waiting for on-stack replacement.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool BatchedReceiveLoop(Socket socket, bool bindingOnly)
    {
        using var batch = new Udp.UdpBatch(options.UdpBatchSize, 0, options.MaxPayloadSize + 128, coalescing: options.UdpGro);
        var from = new SocketAddress(socket.AddressFamily);
        var handle = socket.SafeHandle;
        bool received = false;
        while (!stopping.IsCancellationRequested)
        {
            int n;
            try
            {
                n = batch.Receive(handle, Udp.LinuxSockets.MsgWaitForOne);
            }
            catch (ObjectDisposedException)
            {
                return true;
            }
            if (n < 0)
            {
                if (-n is Udp.LinuxSockets.EIntr or Udp.LinuxSockets.EAgain)
                {
                    continue;
                }
                // ECONNREFUSED and the like are reported late for an earlier send: not this socket's end.
                if (-n is 111 or 113 or 101 && !stopping.IsCancellationRequested)
                {
                    metrics.CountDropped();
                    continue;
                }
                return received || stopping.IsCancellationRequested;
            }
            if (n == 0)
            {
                // Only a socket shut down for reading (Dispose) returns no datagram from a blocking call.
                return true;
            }
            if (!received && options.UdpGro)
            {
                // Only once this loop reads the socket: if the kernel refused recvmmsg, the portable loop (which cannot
                // split coalesced messages) takes over a socket without GRO.
                Udp.UdpBatch.TryEnableCoalescing(socket);
            }
            received = true;
            DispatchBatch(socket, batch, n, from, bindingOnly);
            metrics.CountCoalesced(batch.TakeCoalesced());
        }
        return true;
    }

    /// <summary>Datagrams 0..<paramref name="n"/>-1 of a received batch, one by one (<paramref name="from"/> is reused).</summary>
    private void DispatchBatch(Socket socket, Udp.UdpBatch batch, int n, SocketAddress from, bool bindingOnly, Udp.PeerSendQueue? sends = null)
    {
        for (int i = 0; i < n && !stopping.IsCancellationRequested; i++)
        {
            if (batch.Truncated(i) || !batch.TryCopySource(i, from))
            {
                metrics.CountDropped();
                continue;
            }
            Dispatch(socket, batch.Payload(i), from, bindingOnly, sends);
        }
    }

    private void Dispatch(Socket socket, ReadOnlySpan<byte> packet, SocketAddress from, bool bindingOnly, Udp.PeerSendQueue? sends = null)
    {
        try
        {
            if (bindingOnly)
            {
                HandleBindingOnly(socket, packet, from);
            }
            else
            {
                Handle(socket, packet, from, sends);
            }
        }
        catch (Exception ex)
        {
            metrics.HandlerFault(ex);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PortableReceiveLoop(Socket socket, bool bindingOnly)
    {
        // One MTU-sized buffer per loop and a byte more: a datagram that fills it was cut by the kernel (.NET does not
        // report the truncation on every OS) and is dropped.
        int capacity = options.MaxPayloadSize + 128;
        var buffer = new byte[capacity + 1];
        var from = new SocketAddress(socket.AddressFamily);
        while (!stopping.IsCancellationRequested)
        {
            int n;
            try
            {
                n = socket.ReceiveFrom(buffer, SocketFlags.None, from);
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.MessageSize or SocketError.ConnectionReset)
            {
                metrics.CountDropped();
                continue;
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                return;
            }
            if (n > capacity)
            {
                metrics.CountDropped();
                continue;
            }
            Dispatch(socket, buffer.AsSpan(0, n), from, bindingOnly);
        }
    }

    /// <summary>
    /// One datagram from a client. ChannelData towards a peer is queued on <paramref name="sends"/> when given (sent
    /// when the batch is done); anything else that sends to a peer flushes it first, so a client's datagrams leave in
    /// the order they came.
    /// </summary>
    private void Handle(Socket socket, ReadOnlySpan<byte> packet, SocketAddress from, Udp.PeerSendQueue? sends)
    {
        if (StunFraming.LooksLikeChannelData(packet))
        {
            if (allocations.TryGetUdp(from, out var allocation))
            {
                allocation.RelayChannelData(packet, sends);
            }
            else
            {
                metrics.CountDropped();
            }
            return;
        }
        if (!StunMessage.TryParse(packet, out var message))
        {
            metrics.CountDropped();
            return;
        }
        if (message.Class == StunClass.Indication)
        {
            if (message.Method == StunConst.Send && allocations.TryGetUdp(from, out var allocation))
            {
                sends?.Flush();
                handler.HandleSend(new TurnRequest(packet, in message, allocation.Link, allocation, default));
            }
            return;
        }
        if (message.Class == StunClass.Request)
        {
            HandleRequest(socket, packet, in message, from);
        }
    }

    /// <summary>A request: off the relay path, so its response buffer is not on that path's stack.</summary>
    private void HandleRequest(Socket socket, ReadOnlySpan<byte> packet, ref readonly StunMessage message, SocketAddress from)
    {
        allocations.TryGetUdp(from, out var existing);
        ClientLink link = existing?.Link ?? new UdpLink(socket, Clone(from));
        Span<byte> response = stackalloc byte[TurnRequest.ResponseBufferSize];
        handler.HandleRequest(new TurnRequest(packet, in message, link, existing, response));
    }

    /// <summary>A datagram on a STUN-only socket: Binding requests are answered, everything else is dropped.</summary>
    private void HandleBindingOnly(Socket socket, ReadOnlySpan<byte> packet, SocketAddress from)
    {
        if (!StunMessage.TryParse(packet, out var message) || message.Class != StunClass.Request || message.Method != StunConst.Binding)
        {
            metrics.CountDropped();
            return;
        }
        Span<byte> response = stackalloc byte[TurnRequest.ResponseBufferSize];
        binding.Handle(new TurnRequest(packet, in message, new UdpLink(socket, Clone(from)), null, response));
    }

    private static SocketAddress Clone(SocketAddress address)
    {
        var copy = new SocketAddress(address.Family, address.Size);
        address.Buffer.Span[..address.Size].CopyTo(copy.Buffer.Span);
        return copy;
    }

    /// <summary>A listening socket the relay poller reads: its batches come back here on the poller's thread.</summary>
    private sealed class Listened(UdpListener owner, Socket socket, bool bindingOnly) : Udp.PolledSocket(socket)
    {
        // The sender of the datagram being handled: reused, only the poller's thread touches it.
        private readonly SocketAddress _from = new(socket.AddressFamily);

        public override void OnBatch(Udp.UdpBatch batch, int count, Udp.PeerSendQueue? sends) => owner.DispatchBatch(Socket, batch, count, _from, bindingOnly, sends);
    }
}
