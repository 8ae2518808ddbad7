using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using GhostChat.Turn.Server.Udp;
using static GhostChat.Turn.Server.Udp.LinuxSockets;

namespace GhostChat.Server.Signaling.Loop;

/// <summary>
/// One thread serving many signaling sockets (Linux): it waits in <c>epoll_wait</c> and, on the thread
/// that saw a socket ready, reads what is there into one buffer shared by all of this loop's sockets
/// and runs the socket's reader (the broker's receive loop) inline, so a relayed message is read,
/// parsed, relayed and sent without a hand-off to another thread. Sockets are registered once,
/// edge-triggered, for input and output: the loop is told when new bytes arrive or when a full send
/// buffer has room again, and no system call is spent re-arming a socket between messages; an idle
/// socket costs the kernel's registration and no buffer here.
/// </summary>
internal sealed unsafe class SignalingLoop : IDisposable
{
    /// <summary>The buffer a readable socket is read into; what a reader leaves unparsed is copied out.</summary>
    internal const int SharedBufferBytes = 64 * 1024;

    private const int MaxEvents = 256;
    private const ulong WakeId = ulong.MaxValue;

    private readonly Epoll _epoll;
    private readonly Thread _thread;
    private readonly ConcurrentDictionary<long, LoopConnection> _connections = new();
    private readonly ConcurrentQueue<LoopConnection> _classifying = new();
    private readonly Action<LoopConnection> _onFirstBytes;
    private readonly Action<LoopConnection> _onSilent;
    private readonly long _silentTicks;
    private readonly List<LoopWriter> _corked = [];
    private volatile bool _stopping;
    private int _threadId;
    private int _disposed;

    private SignalingLoop(Epoll epoll, int index, Action<LoopConnection> onFirstBytes, Action<LoopConnection> onSilent, TimeSpan silentAfter)
    {
        _epoll = epoll;
        _onFirstBytes = onFirstBytes;
        _onSilent = onSilent;
        _silentTicks = (long)(silentAfter.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        Shared = GC.AllocateUninitializedArray<byte>(SharedBufferBytes, pinned: true);
        _thread = new Thread(Run) { IsBackground = true, Name = "signaling-loop-" + index };
    }

    /// <summary>The loop whose thread this is; null on other threads.</summary>
    [ThreadStatic]
    private static SignalingLoop? t_current;

    /// <summary>The loop running on this thread, if any: writes made here are sent once its batch of events is handled.</summary>
    internal static SignalingLoop? Current => t_current;

    /// <summary>This loop's read buffer (pinned), used only on its thread.</summary>
    internal byte[] Shared { get; }

    /// <summary>Sockets this loop serves or is classifying now.</summary>
    internal int Count => _connections.Count;

    internal bool IsLoopThread => Environment.CurrentManagedThreadId == Volatile.Read(ref _threadId);

    internal IEnumerable<LoopConnection> Connections => _connections.Values;

    /// <summary>A loop, or null where epoll is missing or refused.</summary>
    /// <param name="onFirstBytes">Called on the loop thread when a new socket is first readable.</param>
    /// <param name="onSilent">Called on the loop thread for a new socket that sent nothing within <paramref name="silentAfter"/>.</param>
    internal static SignalingLoop? TryCreate(int index, Action<LoopConnection> onFirstBytes, Action<LoopConnection> onSilent, TimeSpan silentAfter)
    {
        var epoll = Epoll.TryCreate(MaxEvents, WakeId);
        if (epoll is null)
        {
            return null;
        }
        var loop = new SignalingLoop(epoll, index, onFirstBytes, onSilent, silentAfter);
        loop._thread.Start();
        return loop;
    }

    /// <summary>Takes a new socket; it is classified when its first bytes arrive. False when epoll refuses it.</summary>
    internal bool Add(LoopConnection connection)
    {
        _connections[connection.Id] = connection;
        _classifying.Enqueue(connection);
        if (!_epoll.Control(EpollCtlAdd, connection.Fd, EpollIn | EpollOut | EpollRdHup | EpollEt, (ulong)connection.Id))
        {
            _connections.TryRemove(connection.Id, out _);
            return false;
        }
        return true;
    }

    /// <summary>Forgets a socket (closed, or handed to Kestrel); <paramref name="deregister"/> takes it out of epoll first.</summary>
    internal void Remove(LoopConnection connection, bool deregister)
    {
        if (deregister)
        {
            _epoll.Control(EpollCtlDel, connection.Fd, 0, 0);
        }
        _connections.TryRemove(connection.Id, out _);
    }

    // Runs for the server's life: optimised from the start instead of waiting for on-stack replacement.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Run()
    {
        Volatile.Write(ref _threadId, Environment.CurrentManagedThreadId);
        t_current = this;
        while (!_stopping)
        {
            var n = _epoll.Wait(_classifying.IsEmpty ? -1 : 500);
            if (n < 0)
            {
                if (Marshal.GetLastPInvokeError() == EIntr)
                {
                    continue;
                }
                return;
            }
            for (var i = 0; i < n && !_stopping; i++)
            {
                var (events, id) = _epoll.Event(i);
                if (id == WakeId || !_connections.TryGetValue((long)id, out var connection))
                {
                    continue;
                }
                try
                {
                    if (connection.Classifying)
                    {
                        connection.Classifying = false;
                        _onFirstBytes(connection);
                    }
                    else
                    {
                        connection.OnReady(events);
                    }
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException or InvalidOperationException)
                {
                    // One socket's failure (it went away while we looked) is that socket's end, never the loop's.
                    connection.Close(abort: true);
                }
            }
            SweepSilent();
            SendCorked();
        }
    }

    /// <summary>On this loop's thread: <paramref name="writer"/> has frames to send when this batch of events is handled.</summary>
    internal void Cork(LoopWriter writer) => _corked.Add(writer);

    /// <summary>Sends what this batch of events wrote: every frame for one socket in one send.</summary>
    private void SendCorked()
    {
        for (var i = 0; i < _corked.Count; i++)
        {
            _corked[i].SendCorked();
        }
        _corked.Clear();
    }

    /// <summary>New sockets that sent nothing in time are passed on (Kestrel's own timeouts then apply).</summary>
    private void SweepSilent()
    {
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        while (_classifying.TryPeek(out var oldest))
        {
            if (oldest.Classifying && now - oldest.AcceptedAt < _silentTicks)
            {
                return;
            }
            _classifying.TryDequeue(out _);
            if (oldest.Classifying && _connections.ContainsKey(oldest.Id))
            {
                oldest.Classifying = false;
                _onSilent(oldest);
            }
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _stopping = true;
        _epoll.Wake();
        if (_thread.IsAlive && !IsLoopThread)
        {
            _thread.Join(TimeSpan.FromSeconds(5));
        }
        _epoll.Dispose();
    }
}
