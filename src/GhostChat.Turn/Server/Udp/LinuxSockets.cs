using System.Runtime.InteropServices;

namespace GhostChat.Turn.Server.Udp;

/// <summary>
/// The few Linux socket calls .NET does not expose: recvmmsg/sendmmsg (many datagrams per system call), epoll and an
/// eventfd to wake it. Blittable structs in the x86-64/arm64 layout; every call returns -1 and sets errno on failure.
/// </summary>
internal static unsafe partial class LinuxSockets
{
    public const int MsgDontWait = 0x40;
    public const int MsgWaitForOne = 0x10000;
    public const int EAgain = 11;
    public const int EIntr = 4;
    public const int ENotConn = 107;
    public const int ENetUnreach = 101;
    public const int EIo = 5;
    public const int EInval = 22;
    public const int EMsgSize = 90;
    public const int ENoProtoOpt = 92;
    public const int EOpNotSupp = 95;
    public const int EConnRefused = 111;
    public const int EHostUnreach = 113;
    public const int EpollIn = 0x001;
    public const int EpollErr = 0x008;
    public const int EpollHup = 0x010;
    public const int EpollCtlAdd = 1;
    public const int EpollCtlDel = 2;
    public const int EpollCloexec = 0x80000;
    public const int EfdCloexec = 0x80000;
    public const int EfdNonblock = 0x800;
    public const int ShutRd = 0;

    // Stream sockets (the signaling loop in GhostChat.Server): edge-triggered epoll readiness, recv/send without blocking.
    public const int MsgPeek = 0x2;
    public const int MsgNoSignal = 0x4000;
    public const int EpollOut = 0x004;
    public const int EpollRdHup = 0x2000;
    public const uint EpollEt = 1u << 31;

    /// <summary>sizeof(struct sockaddr_in6), the largest address we receive.</summary>
    public const int SockAddrSize = 28;

    /// <summary>True on 64-bit Linux, where the struct layouts below are the kernel's.</summary>
    public static bool Supported => OperatingSystem.IsLinux() && Environment.Is64BitProcess;

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public byte* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MMsgHdr
    {
        public MsgHdr Header;
        public uint Length;
    }

    /// <summary>struct epoll_event is packed on x86-64 (12 bytes) and naturally aligned elsewhere (16).</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    public struct EpollEventPacked
    {
        public uint Events;
        public ulong Data;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct EpollEventAligned
    {
        public uint Events;
        public ulong Data;
    }

    public static bool PackedEpollEvent => RuntimeInformation.ProcessArchitecture == Architecture.X64;

    [LibraryImport("libc", EntryPoint = "recvmmsg", SetLastError = true)]
    public static partial int RecvMMsg(nint fd, MMsgHdr* messages, uint count, int flags, void* timeout);

    [LibraryImport("libc", EntryPoint = "sendmmsg", SetLastError = true)]
    public static partial int SendMMsg(nint fd, MMsgHdr* messages, uint count, int flags);

    [LibraryImport("libc", EntryPoint = "sendto", SetLastError = true)]
    public static partial nint SendTo(nint fd, byte* buffer, nuint length, int flags, byte* to, uint toLength);

    /// <summary>
    /// Sends one datagram to <paramref name="to"/> without ever blocking (MSG_DONTWAIT): true when the kernel took it,
    /// false on a full send buffer (EAGAIN) or another error — the datagram is lost, as UDP allows. Throws
    /// <see cref="ObjectDisposedException"/> when the socket is closed.
    /// </summary>
    public static bool TrySendTo(SafeHandle socket, ReadOnlySpan<byte> payload, System.Net.SocketAddress to)
    {
        var name = to.Buffer.Span[..to.Size];
        using var fd = new HandleLease(socket);
        fixed (byte* data = payload)
        fixed (byte* address = name)
        {
            while (true)
            {
                if (SendTo(fd.Fd, data, (nuint)payload.Length, MsgDontWait, address, (uint)name.Length) >= 0)
                {
                    return true;
                }
                if (Marshal.GetLastPInvokeError() != EIntr)
                {
                    return false;
                }
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    public static partial int EpollCreate1(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    public static partial int EpollCtl(int epfd, int op, nint fd, void* ev);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    public static partial int EpollWait(int epfd, void* events, int maxEvents, int timeout);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initval, int flags);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "shutdown", SetLastError = true)]
    public static partial int Shutdown(nint fd, int how);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    public static partial nint Recv(nint fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    public static partial nint Send(nint fd, byte* buffer, nuint length, int flags);
}
