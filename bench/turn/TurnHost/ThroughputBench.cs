using System.Net;
using System.Net.Sockets;
using GhostChat.Turn.Auth;
using GhostChat.Turn.Client;

namespace TurnHost;

/// <summary>
/// Relayed throughput of one allocation: one UDP allocation with a channel to an echo peer in this process; the
/// client keeps <c>window</c> datagrams of <c>size</c> bytes in flight for <c>seconds</c>, each echoed back through the
/// relay. Prints the payload MB/s that went both ways (each datagram relayed twice) and how many were lost (a window
/// slot whose datagram does not come back within 1 s is refilled and counted lost).
/// </summary>
internal static class ThroughputBench
{
    public static async Task<int> RunAsync(IPEndPoint server, string secret, int size, int window, int seconds)
    {
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 4 << 20, SendBufferSize = 4 << 20 };
        peer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var stop = new CancellationTokenSource();
        var echo = new Thread(() =>
        {
            var buffer = new byte[65536];
            var from = new SocketAddress(AddressFamily.InterNetwork);
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    int n = peer.ReceiveFrom(buffer, SocketFlags.None, from);
                    peer.SendTo(buffer.AsSpan(0, n), SocketFlags.None, from);
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }
        })
        { IsBackground = true };
        echo.Start();

        await using var client = TurnClient.ConnectUdp(server);
        var credential = TurnRestCredentials.Create(secret, "throughput", TimeSpan.FromHours(1), DateTimeOffset.UtcNow);
        await client.AllocateAsync(credential.Username, credential.Password);
        await client.ChannelBindAsync(0x4000, (IPEndPoint)peer.LocalEndPoint!);
        var payload = new byte[size];
        long back = 0, lost = 0;
        for (int i = 0; i < window; i++)
        {
            client.SendChannel(0x4000, payload);
        }
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(seconds))
        {
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            try
            {
                await client.ReceiveAsync(wait.Token);
                back++;
            }
            catch (OperationCanceledException)
            {
                // Nothing came back in a second: the window has lost datagrams; refill it.
                lost += window;
                for (int i = 0; i < window; i++)
                {
                    client.SendChannel(0x4000, payload);
                }
                continue;
            }
            client.SendChannel(0x4000, payload);
        }
        watch.Stop();
        await stop.CancelAsync();
        peer.Dispose();
        double mbps = back * size * 2.0 / watch.Elapsed.TotalSeconds / 1e6;
        Console.WriteLine(FormattableString.Invariant($"{mbps:F1} {back} {lost}"));
        return 0;
    }
}
