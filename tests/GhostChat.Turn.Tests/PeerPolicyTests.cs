using System.Net;
using GhostChat.Turn.Client;

namespace GhostChat.Turn.Tests;

/// <summary>The relay-to-forbidden-address attacks (CVE-2018-4058, CVE-2020-26262, CVE-2026-27624, Slack metadata pivot).</summary>
public sealed class PeerPolicyTests
{
    /// <summary>A public address the server claims as its own relayed address.</summary>
    private const string OwnPublicAddress = "93.184.216.34";

    public static TheoryData<string> Forbidden =>
    [
        "0.0.0.0", "::", "::1", "127.0.0.1", "127.1.2.3", "::ffff:127.0.0.1", "::ffff:0.0.0.0", "::ffff:10.0.0.1",
        "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "fe80::1", "fc00::1",
        "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::1", "2002:7f00:1::1", "::127.0.0.1",
        "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1", "192.0.2.1", "198.51.100.1", "203.0.113.1",
        "198.18.0.1", "ff02::1", "2001:db8::1", OwnPublicAddress,
    ];

    private static Task<TestServer> StartAsync() => TestServer.StartAsync(o => o.AdvertisedAddress = OwnPublicAddress);

    [Theory]
    [MemberData(nameof(Forbidden))]
    public async Task CreatePermission_ForbiddenPeer_Refused403(string address)
    {
        await using var server = await StartAsync();
        await using var client = await server.AllocatedClientAsync();
        var ex = await Assert.ThrowsAsync<TurnException>(() => client.CreatePermissionAsync(new IPEndPoint(IPAddress.Parse(address), 80)));
        Assert.Equal(403, ex.Code);
    }

    [Theory]
    [MemberData(nameof(Forbidden))]
    public async Task ChannelBind_ForbiddenPeer_Refused403(string address)
    {
        await using var server = await StartAsync();
        await using var client = await server.AllocatedClientAsync();
        var ex = await Assert.ThrowsAsync<TurnException>(() => client.ChannelBindAsync(0x4000, new IPEndPoint(IPAddress.Parse(address), 80)));
        Assert.Equal(403, ex.Code);
    }

    [Fact]
    public async Task CreatePermission_OneForbiddenAmongAllowed_NoneInstalled()
    {
        await using var server = await StartAsync();
        await using var client = await server.AllocatedClientAsync();
        var ex = await Assert.ThrowsAsync<TurnException>(() => client.CreatePermissionAsync(
            [new IPEndPoint(IPAddress.Parse("93.184.216.40"), 80), new IPEndPoint(IPAddress.Parse("::ffff:127.0.0.1"), 80)]));
        Assert.Equal(403, ex.Code);
    }

    [Fact]
    public async Task CreatePermission_PublicPeer_Allowed()
    {
        await using var server = await StartAsync();
        await using var client = await server.AllocatedClientAsync();
        await client.CreatePermissionAsync(new IPEndPoint(IPAddress.Parse("93.184.216.35"), 80));
        await client.ChannelBindAsync(0x4000, new IPEndPoint(IPAddress.Parse("93.184.216.35"), 80));
    }

    [Fact]
    public async Task Send_ToLoopbackPeerWithoutAllowList_DroppedAndNothingArrives()
    {
        await using var server = await StartAsync();
        await using var client = await server.AllocatedClientAsync();
        using var peer = new UdpPeer();
        foreach (var spelling in new[] { peer.EndPoint, new IPEndPoint(IPAddress.Parse("::ffff:127.0.0.1"), peer.EndPoint.Port) })
        {
            long dropped = server.Server.DroppedPackets;
            client.Send(spelling, "secret-probe"u8);
            await Wait.UntilAsync(() => server.Server.DroppedPackets > dropped, "the Send indication to be dropped");
        }
        Assert.Equal(0, peer.Socket.Available);
    }

    [Fact]
    public async Task Send_ToAllowListedTestPeer_Arrives()
    {
        await using var server = await TestServer.StartAsync(o => o.AllowedPeers = ["127.0.0.1"]);
        await using var client = await server.AllocatedClientAsync();
        using var peer = new UdpPeer();
        await client.CreatePermissionAsync(peer.EndPoint);
        client.Send(peer.EndPoint, "ok"u8);
        var (data, _) = await peer.ReceiveAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("ok"u8.ToArray(), data);
    }

    [Fact]
    public async Task AllowList_DoesNotAdmitUnspecified()
    {
        await using var server = await TestServer.StartAsync(o => o.AllowedPeers = ["0.0.0.0/0"]);
        await using var client = await server.AllocatedClientAsync();
        var ex = await Assert.ThrowsAsync<TurnException>(() => client.CreatePermissionAsync(new IPEndPoint(IPAddress.Any, 80)));
        Assert.Equal(403, ex.Code);
    }
}
