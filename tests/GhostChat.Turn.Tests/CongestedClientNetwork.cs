using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace GhostChat.Turn.Tests;

/// <summary>
/// A client network behind a slow link, made in the kernel (Linux, root, iproute2's <c>ip</c> and <c>tc</c>): a network
/// namespace joined to this one by a veth pair whose egress on our side (server → client) a token bucket filter holds
/// to <see cref="RateKbit"/>. Datagrams the server sends to the client wait in that queue charged to the server's
/// socket, so a small socket send buffer fills (sendmmsg sends part of a batch, then EAGAIN). Sockets for the client
/// side are made with <see cref="Inside{T}"/>. Removed (namespace, veth, filter) on dispose.
/// </summary>
internal sealed partial class CongestedClientNetwork : IAsyncDisposable
{
    public const int RateKbit = 800;
    private const int CloneNewNet = 0x40000000;
    private readonly string _tag = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
    private bool _created;

    private CongestedClientNetwork()
    {
        // A /30 of its own per instance: 10.231.x.y with the tag's bytes.
        byte[] t = Convert.FromHexString(_tag);
        int host = (t[1] & 0x3F) * 4;
        ServerAddress = IPAddress.Parse(string.Create(CultureInfo.InvariantCulture, $"10.231.{t[0]}.{host + 1}"));
        ClientAddress = IPAddress.Parse(string.Create(CultureInfo.InvariantCulture, $"10.231.{t[0]}.{host + 2}"));
    }

    /// <summary>Our end of the link: the server listens here.</summary>
    public IPAddress ServerAddress { get; }

    /// <summary>The client's address, inside the namespace.</summary>
    public IPAddress ClientAddress { get; }

    private string Namespace => "gcsb-" + _tag;

    private string OurLink => "gsa" + _tag;

    public static async Task<CongestedClientNetwork> CreateAsync()
    {
        Assert.True(OperatingSystem.IsLinux(), "a congested link is made with Linux network namespaces");
        var net = new CongestedClientNetwork();
        try
        {
            await net.SetUpAsync();
        }
        catch
        {
            await net.DisposeAsync();
            throw;
        }
        return net;
    }

    /// <summary>Runs <paramref name="make"/> on a thread inside the client namespace: the sockets it opens live there.</summary>
    public T Inside<T>(Func<T> make)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var ns = File.OpenHandle("/var/run/netns/" + Namespace);
                if (SetNs(ns.DangerousGetHandle(), CloneNewNet) != 0)
                {
                    throw new IOException("setns failed: errno " + Marshal.GetLastPInvokeError().ToString(CultureInfo.InvariantCulture));
                }
                result = make();
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        });
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            throw new InvalidOperationException("could not run inside the client namespace", failure);
        }
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        if (_created)
        {
            // Deleting the namespace deletes its veth end, and with it ours and our filter.
            await ProcessRunner.RunAsync("ip", ["netns", "del", Namespace], TimeSpan.FromSeconds(30));
        }
    }

    private async Task SetUpAsync()
    {
        string peerLink = "gsb" + _tag;
        await Sh("ip", "netns", "add", Namespace);
        _created = true;
        await Sh("ip", "link", "add", OurLink, "type", "veth", "peer", "name", peerLink, "netns", Namespace);
        await Sh("ip", "addr", "add", ServerAddress + "/30", "dev", OurLink);
        await Sh("ip", "link", "set", OurLink, "up");
        await Sh("ip", "-n", Namespace, "addr", "add", ClientAddress + "/30", "dev", peerLink);
        await Sh("ip", "-n", Namespace, "link", "set", peerLink, "up");
        await Sh("ip", "-n", Namespace, "link", "set", "lo", "up");
        // Slow towards the client, with a queue long enough never to drop: the sender's socket buffer is the limit.
        await Sh("tc", "qdisc", "add", "dev", OurLink, "root", "tbf", "rate", RateKbit + "kbit", "burst", "4kb", "limit", "4mb");
    }

    private static async Task Sh(string file, params string[] args)
    {
        var result = await ProcessRunner.RunAsync(file, args, TimeSpan.FromSeconds(60));
        Assert.True(result.Exit == 0, $"{file} {string.Join(' ', args)}: {result.Output}");
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(nint fd, int nsType);
}
