using static GhostChat.Turn.Server.Udp.LinuxSockets;

namespace GhostChat.Server.Signaling.Loop;

/// <summary>
/// Descriptors the signaling loop's listener holds back so the process is never left with none
/// free. The .NET runtime needs descriptors of its own at any moment — starting a thread takes a
/// pipe for a moment, and the thread pool starts threads whenever a burst of work comes (such as the
/// loop handing a flood of silent connections to Kestrel) — and aborts the process ("Out of memory.")
/// when it gets none. The listener accepts only while it holds this reserve and one more descriptor
/// is free after each accept; at the limit it closes the connection that took the last one, gives
/// the reserve up to the rest of the process and waits, the connections queued in the kernel's
/// backlog, until it can take the reserve again (the way nginx and libuv keep a spare descriptor for
/// EMFILE, sized for a runtime instead of one accept).
/// </summary>
internal sealed class DescriptorReserve : IDisposable
{
    /// <summary>Descriptors kept back: room for the runtime to start threads and open what it must while the loop waits.</summary>
    internal const int Size = 64;

    private readonly int[] _held = new int[Size];
    private int _count;

    /// <summary>Whether the whole reserve is held (the listener may accept).</summary>
    internal bool Held => _count == Size;

    /// <summary>Takes the whole reserve, and checks one more descriptor is free beside it; false (holding none) when the process has not that many.</summary>
    internal bool TryTake()
    {
        while (_count < Size)
        {
            var fd = EventFd(0, EfdCloexec);
            if (fd < 0)
            {
                Release();
                return false;
            }
            _held[_count++] = fd;
        }
        if (!OneFree())
        {
            Release();
            return false;
        }
        return true;
    }

    /// <summary>Gives every reserved descriptor back to the process.</summary>
    internal void Release()
    {
        while (_count > 0)
        {
            Close(_held[--_count]);
        }
    }

    /// <summary>Whether the process can open one more descriptor now (opens one and closes it).</summary>
    internal static bool OneFree()
    {
        var fd = EventFd(0, EfdCloexec);
        if (fd < 0)
        {
            return false;
        }
        Close(fd);
        return true;
    }

    public void Dispose() => Release();
}
