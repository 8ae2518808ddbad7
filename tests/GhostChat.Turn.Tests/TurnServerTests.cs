using System.Net;
using System.Text;
using GhostChat.TestSupport;
using GhostChat.Turn.Client;
using Microsoft.Extensions.Time.Testing;

namespace GhostChat.Turn.Tests;

/// <summary>Our client against our server on real loopback sockets.</summary>
public sealed class TurnServerTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Binding_OverUdp_ReturnsClientAddress()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = server.Client();
        var mapped = await client.BindingAsync();
        Assert.Equal(IPAddress.Loopback, mapped.Address);
        Assert.Equal(client.LocalEndPoint.Port, mapped.Port);
    }

    [Fact]
    public async Task Allocate_ValidRestCredential_RelaysThroughChannelAndSendBothWays()
    {
        await using var server = await TestServer.StartAsync(o => o.AllowedPeers = ["127.0.0.1/32"]);
        await using var client = server.Client();
        using var peer = new UdpPeer();
        var c = server.Credential();
        var allocation = await client.AllocateAsync(c.Username, c.Password);
        Assert.Equal(IPAddress.Loopback, allocation.Relayed.Address);
        Assert.Equal(TimeSpan.FromSeconds(600), allocation.Lifetime);

        // Send indication → peer; peer → client as a Data indication.
        await client.CreatePermissionAsync(peer.EndPoint);
        client.Send(peer.EndPoint, "hello"u8);
        var (data, from) = await peer.ReceiveAsync(Generous);
        Assert.Equal("hello", Encoding.UTF8.GetString(data));
        Assert.Equal(allocation.Relayed.Port, from.Port);
        await peer.Socket.SendToAsync("back"u8.ToArray(), from);
        var back = await client.ReceiveAsync().AsTask().WaitAsync(Generous);
        Assert.Equal("back", Encoding.UTF8.GetString(back.Data));
        Assert.False(back.ViaChannel);
        Assert.Equal(peer.EndPoint, back.Peer);

        // Channel → peer; peer → client as ChannelData.
        await client.ChannelBindAsync(0x4001, peer.EndPoint);
        client.SendChannel(0x4001, "via channel"u8);
        (data, _) = await peer.ReceiveAsync(Generous);
        Assert.Equal("via channel", Encoding.UTF8.GetString(data));
        await peer.Socket.SendToAsync("channel back"u8.ToArray(), from);
        back = await client.ReceiveAsync().AsTask().WaitAsync(Generous);
        Assert.Equal("channel back", Encoding.UTF8.GetString(back.Data));
        Assert.True(back.ViaChannel);
    }

    [Fact]
    public async Task Allocate_WrongPassword_Refused401()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = server.Client();
        var c = server.Credential();
        var ex = await Assert.ThrowsAsync<TurnException>(() => client.AllocateAsync(c.Username, "d3JvbmcgcGFzc3dvcmQ="));
        Assert.Equal(401, ex.Code);
        Assert.Equal(0, server.Server.AllocationCount);
    }

    [Fact]
    public async Task Allocate_ExpiredCredential_Refused401()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = server.Client();
        var c = Auth.TurnRestCredentials.Create(TestServer.Secret, "alice", TimeSpan.FromSeconds(-10), DateTimeOffset.UtcNow);
        var ex = await Assert.ThrowsAsync<TurnException>(() => client.AllocateAsync(c.Username, c.Password));
        Assert.Equal(401, ex.Code);
    }

    [Fact]
    public async Task Allocate_ExpiryBeyondCap_Refused401()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxCredentialLifetime = TimeSpan.FromHours(1));
        await using var client = server.Client();
        var c = server.Credential(ttl: TimeSpan.FromHours(2));
        var ex = await Assert.ThrowsAsync<TurnException>(() => client.AllocateAsync(c.Username, c.Password));
        Assert.Equal(401, ex.Code);
    }

    [Fact]
    public async Task Allocate_RotatedSecret_BothSecretsAccepted()
    {
        await using var server = await TestServer.StartAsync(o => o.Secrets = ["new-secret-0123456789abcdef", TestServer.Secret]);
        await using var client = server.Client();
        var c = server.Credential();
        var allocation = await client.AllocateAsync(c.Username, c.Password);
        Assert.NotNull(allocation);
    }

    [Fact]
    public async Task Request_NonceOlderThanLifetime_Answered438ThenSucceeds()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await TestServer.StartAsync(o => { o.NonceLifetime = TimeSpan.FromSeconds(60); o.AllowedPeers = ["127.0.0.1/32"]; }, time);
        await using var client = await server.AllocatedClientAsync();
        time.Advance(TimeSpan.FromSeconds(61));
        using var peer = new UdpPeer();
        await client.CreatePermissionAsync(peer.EndPoint);
        Assert.Equal(1, client.StaleNonceAnswers);
    }

    [Fact]
    public async Task Allocate_PerUserQuota_Refused486()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxAllocationsPerUser = 2);
        await using var a = await server.AllocatedClientAsync("bob");
        await using var b = await server.AllocatedClientAsync("bob");
        await using var c = server.Client();
        var cred = server.Credential("bob");
        var ex = await Assert.ThrowsAsync<TurnException>(() => c.AllocateAsync(cred.Username, cred.Password));
        Assert.Equal(486, ex.Code);
        // Another user is not affected; freeing one of bob's lets bob allocate again.
        await using var d = await server.AllocatedClientAsync("carol");
        await a.RefreshAsync(TimeSpan.Zero);
        await using var e = await server.AllocatedClientAsync("bob");
        Assert.Equal(3, server.Server.AllocationCount);
    }

    [Fact]
    public async Task Allocate_TotalQuota_Refused486()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxAllocations = 1);
        await using var a = await server.AllocatedClientAsync("u1");
        await using var c = server.Client();
        var cred = server.Credential("u2");
        var ex = await Assert.ThrowsAsync<TurnException>(() => c.AllocateAsync(cred.Username, cred.Password));
        Assert.Equal(486, ex.Code);
    }

    [Fact]
    public async Task Allocate_Twice_SecondRefused437()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.AllocatedClientAsync();
        var c = server.Credential();
        var ex = await Assert.ThrowsAsync<TurnException>(() => client.AllocateAsync(c.Username, c.Password));
        Assert.Equal(437, ex.Code);
    }

    [Fact]
    public async Task Allocate_OnATupleHeldUnderOtherCredentials_Refused437Not441()
    {
        // A client that reuses a local port whose earlier allocation is still alive, with fresh
        // credentials: 437 makes clients such as turnutils_uclient retry elsewhere; 441 ends them.
        await using var server = await TestServer.StartAsync();
        await using var client = await server.AllocatedClientAsync("alice");
        var other = server.Credential("bob");
        var ex = await Assert.ThrowsAsync<TurnException>(() => client.AllocateAsync(other.Username, other.Password));
        Assert.Equal(437, ex.Code);
    }

    [Fact]
    public async Task CreatePermission_OverQuota_Refused508()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxPermissionsPerAllocation = 2);
        await using var client = await server.AllocatedClientAsync();
        await client.CreatePermissionAsync(new IPEndPoint(IPAddress.Parse("93.184.216.34"), 1000));
        await client.CreatePermissionAsync(new IPEndPoint(IPAddress.Parse("93.184.216.35"), 1000));
        // Refreshing an existing one is fine; a third IP is not.
        await client.CreatePermissionAsync(new IPEndPoint(IPAddress.Parse("93.184.216.34"), 2000));
        var ex = await Assert.ThrowsAsync<TurnException>(() => client.CreatePermissionAsync(new IPEndPoint(IPAddress.Parse("93.184.216.36"), 1000)));
        Assert.Equal(508, ex.Code);
    }

    [Theory]
    [InlineData(0x3FFF, 0x7FFF)]
    [InlineData(0x8000, 0x7FFF)]
    [InlineData(0xFFFF, 0x7FFF)]
    [InlineData(0x0000, 0x7FFF)]
    [InlineData(0x5000, 0x4FFF)]
    public async Task ChannelBind_NumberOutOfRange_Refused400(int number, int max)
    {
        await using var server = await TestServer.StartAsync(o => o.MaxChannelNumber = max);
        await using var client = await server.AllocatedClientAsync();
        var ex = await Assert.ThrowsAsync<TurnException>(() => client.ChannelBindAsync((ushort)number, new IPEndPoint(IPAddress.Parse("93.184.216.34"), 1000)));
        Assert.Equal(400, ex.Code);
    }

    [Fact]
    public async Task ChannelBind_SameNumberOtherPeer_Refused400()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.AllocatedClientAsync();
        await client.ChannelBindAsync(0x4000, new IPEndPoint(IPAddress.Parse("93.184.216.34"), 1000));
        var ex = await Assert.ThrowsAsync<TurnException>(() => client.ChannelBindAsync(0x4000, new IPEndPoint(IPAddress.Parse("93.184.216.34"), 1001)));
        Assert.Equal(400, ex.Code);
    }

    [Fact]
    public async Task Allocation_LifetimePasses_IsRemoved()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await TestServer.StartAsync(null, time);
        await using var client = await server.AllocatedClientAsync();
        Assert.Equal(1, server.Server.AllocationCount);
        time.Advance(TimeSpan.FromSeconds(599));
        Assert.Equal(1, server.Server.AllocationCount);
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(0, server.Server.AllocationCount);
        // Requests on the gone allocation: 437.
        var ex = await Assert.ThrowsAsync<TurnException>(() => client.RefreshAsync(TimeSpan.FromSeconds(600)));
        Assert.True(ex.Code is 437 or 401, "code " + ex.Code);
    }

    [Fact]
    public async Task LifetimeSweep_RunsOnlyWhileAllocationsExist_AndStillExpiresTheNext()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var timers = new TimerWatch(time);
        await using var server = await TestServer.StartAsync(null, timers);
        // An idle server has no timer of its own.
        Assert.Equal(0, timers.Armed);
        await using (var first = await server.AllocatedClientAsync())
        {
            Assert.Equal(1, timers.Armed);
            await first.RefreshAsync(TimeSpan.Zero);
        }
        Assert.Equal(0, server.Server.AllocationCount);
        // The next sweep finds nothing and stops.
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0, timers.Armed);
        // The next allocation starts it again, and its lifetime is still enforced.
        await using var second = await server.AllocatedClientAsync();
        Assert.Equal(1, timers.Armed);
        time.Advance(TimeSpan.FromSeconds(599));
        Assert.Equal(1, server.Server.AllocationCount);
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(0, server.Server.AllocationCount);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0, timers.Armed);
    }

    [Fact]
    public async Task Refresh_MaxLifetimeCapped_AndZeroDeletes()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = server.Client();
        // A credential valid longer than the maximum lifetime: the maximum is the cap (the credential's expiry is another).
        var credential = server.Credential(ttl: TimeSpan.FromHours(2));
        await client.AllocateAsync(credential.Username, credential.Password);
        Assert.Equal(TimeSpan.FromSeconds(3600), await client.RefreshAsync(TimeSpan.FromHours(5)));
        Assert.Equal(TimeSpan.Zero, await client.RefreshAsync(TimeSpan.Zero));
        Assert.Equal(0, server.Server.AllocationCount);
    }

    [Fact]
    public async Task Permission_LifetimePasses_PeerDataDropped()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await TestServer.StartAsync(o => o.AllowedPeers = ["127.0.0.1/32"], time);
        await using var client = server.Client();
        var c = server.Credential();
        var allocation = await client.AllocateAsync(c.Username, c.Password);
        using var peer = new UdpPeer();
        await client.CreatePermissionAsync(peer.EndPoint);
        await peer.Socket.SendToAsync("one"u8.ToArray(), allocation.Relayed);
        Assert.Equal("one", Encoding.UTF8.GetString((await client.ReceiveAsync().AsTask().WaitAsync(Generous)).Data));

        time.Advance(TimeSpan.FromSeconds(301));
        long dropped = server.Server.DroppedPackets;
        await peer.Socket.SendToAsync("two"u8.ToArray(), allocation.Relayed);
        await Wait.UntilAsync(() => server.Server.DroppedPackets > dropped, "the expired permission to drop the packet");
    }

    [Fact]
    public async Task BytesPerSecondPerAllocation_ExcessIsDropped_RefillsWithTime()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await TestServer.StartAsync(o =>
        {
            o.AllowedPeers = ["127.0.0.1/32"];
            o.MaxBytesPerSecondPerAllocation = 1000;
        }, time);
        await using var client = server.Client();
        var c = server.Credential();
        await client.AllocateAsync(c.Username, c.Password);
        using var peer = new UdpPeer();
        await client.CreatePermissionAsync(peer.EndPoint);

        // On the fake clock no tokens come back: 1000 bytes pass, the rest of the burst is dropped.
        long dropped = server.Server.DroppedPackets;
        var payload = new byte[400];
        for (var i = 0; i < 5; i++)
        {
            payload[0] = (byte)i;
            client.Send(peer.EndPoint, payload);
        }
        Assert.Equal(0, (await peer.ReceiveAsync(Generous)).Data[0]);
        Assert.Equal(1, (await peer.ReceiveAsync(Generous)).Data[0]);
        await Wait.UntilAsync(() => server.Server.DroppedPackets >= dropped + 3, "the over-rate packets to be dropped");

        time.Advance(TimeSpan.FromSeconds(1));
        payload[0] = 9;
        client.Send(peer.EndPoint, payload);
        Assert.Equal(9, (await peer.ReceiveAsync(Generous)).Data[0]);
    }
}
