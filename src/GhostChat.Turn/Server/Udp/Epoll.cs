using System.Runtime.InteropServices;
using static GhostChat.Turn.Server.Udp.LinuxSockets;

namespace GhostChat.Turn.Server.Udp;

/// <summary>
/// One epoll instance, the buffer its events are read into and the eventfd that wakes it (Linux,
/// 64-bit): the one place that knows struct epoll_event's layout, for the TURN relay poller and the
/// signaling socket loop. Used by one thread for <see cref="Wait"/> and <see cref="Event"/>;
/// <see cref="Control"/> and <see cref="Wake"/> from any thread.
/// </summary>
internal sealed unsafe class Epoll : IDisposable
{
    private readonly int _fd;
    private readonly int _wake;
    private readonly int _capacity;
    private readonly int _eventSize;
    private readonly byte* _events;
    private int _disposed;

    private Epoll(int fd, int wake, int capacity)
    {
        _fd = fd;
        _wake = wake;
        _capacity = capacity;
        _eventSize = PackedEpollEvent ? sizeof(EpollEventPacked) : sizeof(EpollEventAligned);
        _events = (byte*)NativeMemory.AllocZeroed((nuint)(capacity * _eventSize));
    }

    /// <summary>
    /// An epoll instance reading up to <paramref name="capacity"/> events per wait, its eventfd registered
    /// for input under <paramref name="wakeId"/>; null where epoll is missing or refused.
    /// </summary>
    public static Epoll? TryCreate(int capacity, ulong wakeId)
    {
        if (!Supported)
        {
            return null;
        }
        int fd = EpollCreate1(EpollCloexec);
        if (fd < 0)
        {
            return null;
        }
        int wake = EventFd(0, EfdCloexec | EfdNonblock);
        if (wake < 0)
        {
            Close(fd);
            return null;
        }
        var epoll = new Epoll(fd, wake, capacity);
        if (!epoll.Control(EpollCtlAdd, wake, EpollIn, wakeId))
        {
            epoll.Dispose();
            return null;
        }
        return epoll;
    }

    /// <summary>epoll_ctl: adds (<see cref="LinuxSockets.EpollCtlAdd"/>) or removes a descriptor; false when the kernel refuses.</summary>
    public bool Control(int op, nint fd, uint events, ulong data)
    {
        if (PackedEpollEvent)
        {
            var ev = new EpollEventPacked { Events = events, Data = data };
            return EpollCtl(_fd, op, fd, &ev) == 0;
        }
        var aligned = new EpollEventAligned { Events = events, Data = data };
        return EpollCtl(_fd, op, fd, &aligned) == 0;
    }

    /// <summary>epoll_wait: the number of events ready (read them with <see cref="Event"/>), or -1 with errno set.</summary>
    public int Wait(int timeoutMilliseconds) => EpollWait(_fd, _events, _capacity, timeoutMilliseconds);

    /// <summary>The <paramref name="i"/>th event of the last <see cref="Wait"/>.</summary>
    public (uint Events, ulong Data) Event(int i)
    {
        byte* e = _events + (i * _eventSize);
        return PackedEpollEvent
            ? (((EpollEventPacked*)e)->Events, ((EpollEventPacked*)e)->Data)
            : (((EpollEventAligned*)e)->Events, ((EpollEventAligned*)e)->Data);
    }

    /// <summary>Makes a <see cref="Wait"/> return (the eventfd becomes readable; it is never read, so it stays so).</summary>
    public void Wake()
    {
        ulong one = 1;
        Write(_wake, &one, sizeof(ulong));
    }

    /// <summary>Closes the eventfd and the epoll instance and frees the event buffer: only once the waiting thread has ended.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        Close(_wake);
        Close(_fd);
        NativeMemory.Free(_events);
    }
}
