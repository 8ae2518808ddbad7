using System.Net;
using System.Net.Sockets;
using GhostChat.Turn.Client;

namespace GhostChat.Turn.Tests;

/// <summary>
/// The STUN probe's retransmissions: doubled waits that add up to the timeout, none shorter than a millisecond. A
/// sub-millisecond remainder once made the wait end at once, so the probe resent in a tight loop and doubled its
/// timeout until <see cref="TimeSpan"/> overflowed (seen as a flaky `ghostchat doctor` test on a busy machine).
/// </summary>
public sealed class StunProbeRetransmitTests
{
    private static readonly TimeSpan Ms = TimeSpan.FromMilliseconds(1);

    [Fact]
    public void Waits_Double_AndTheLastIsWhatIsLeft()
    {
        var waits = StunProbe.RetransmitWaits(TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(2));
        Assert.Equal([250, 500, 1000, 250], waits.Select(w => w.TotalMilliseconds));
    }

    [Theory]
    [InlineData(750.4)]
    [InlineData(750.999)]
    [InlineData(2000.0001)]
    [InlineData(0.3)]
    public void SubMillisecondRemainder_JoinsThePreviousWait_NoWaitIsShorterThanAMillisecond(double timeoutMs)
    {
        var timeout = TimeSpan.FromMilliseconds(timeoutMs);
        var waits = StunProbe.RetransmitWaits(TimeSpan.FromMilliseconds(250), timeout);
        Assert.NotEmpty(waits);
        Assert.All(waits, w => Assert.True(w >= Ms, $"wait of {w.TotalMilliseconds} ms"));
        Assert.True(waits.Count <= 5, $"{waits.Count} sends");
        if (timeout >= Ms)
        {
            Assert.Equal(timeout, waits.Aggregate(TimeSpan.Zero, (a, b) => a + b));
        }
    }

    [Fact]
    public void HugeTimeout_DoesNotOverflow()
    {
        var waits = StunProbe.RetransmitWaits(TimeSpan.FromMilliseconds(250), TimeSpan.MaxValue);
        Assert.InRange(waits.Count, 2, 64);
        Assert.Equal(TimeSpan.MaxValue, waits.Aggregate(TimeSpan.Zero, (a, b) => a + b));
    }

    [Fact]
    public async Task SilentServer_GetsOneSendPerWait_ThenNull()
    {
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var probe = StunProbe.Open(localAddress: IPAddress.Loopback);
        probe.InitialRto = TimeSpan.FromMilliseconds(50);
        // 50 + 100 + 0.5 ms: three waits would end the last one at once; the remainder joins the second.
        var result = await probe.TryBindingAsync((IPEndPoint)silent.LocalEndPoint!, timeout: TimeSpan.FromMilliseconds(150.5));
        Assert.Null(result);
        int received = 0;
        var buffer = new byte[128];
        while (silent.Available > 0)
        {
            silent.Receive(buffer);
            received++;
        }
        Assert.Equal(2, received);
    }

    [Fact]
    public async Task TimeoutAsLongAsTimeSpanAllows_WaitsUntilCancelled()
    {
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var probe = StunProbe.Open(localAddress: IPAddress.Loopback);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => probe.TryBindingAsync((IPEndPoint)silent.LocalEndPoint!, timeout: TimeSpan.MaxValue, cancellationToken: cts.Token));
    }
}
