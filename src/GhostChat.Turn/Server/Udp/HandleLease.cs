using System.Runtime.InteropServices;

namespace GhostChat.Turn.Server.Udp;

/// <summary>
/// A socket's descriptor held open for one system call: the handle's reference count is raised (so a concurrent
/// close waits and the number cannot be reused under us) until <see cref="Dispose"/>. Throws
/// <see cref="ObjectDisposedException"/> when the socket is closed already.
/// </summary>
internal readonly ref struct HandleLease
{
    private readonly SafeHandle _handle;
    private readonly bool _added;

    public HandleLease(SafeHandle handle)
    {
        _handle = handle;
        handle.DangerousAddRef(ref _added);
        Fd = handle.DangerousGetHandle();
    }

    /// <summary>The descriptor, valid until <see cref="Dispose"/>.</summary>
    public nint Fd { get; }

    public void Dispose()
    {
        if (_added)
        {
            _handle.DangerousRelease();
        }
    }
}
