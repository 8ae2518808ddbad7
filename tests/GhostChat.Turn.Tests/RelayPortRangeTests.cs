using System.Net;
using System.Net.Sockets;
using GhostChat.Turn.Client;

namespace GhostChat.Turn.Tests;

/// <summary>
/// Relay port choice: every free port of the range is found however full it is (508 only when none is left), ports
/// another socket holds are passed over, and a port given back is used again. The range (64000–64099) lies outside
/// Linux's ephemeral ports (32768–60999), so only this test's own sockets hold ports in it.
/// </summary>
[Collection(nameof(SerialTurnThreads))]
public sealed class RelayPortRangeTests
{
    private const int Min = 64000;
    private const int Max = 64099;

    [Fact]
    public async Task Allocate_RangeFilledToTheLastPortWithSomeHeldElsewhere_EveryFreePortUsedThen508ThenAPortGivenBackIsReused()
    {
        // Ten ports of the range held by sockets that are not the server's.
        var foreign = new List<Socket>();
        var clients = new List<TurnClient>();
        try
        {
            for (int port = Min; port < Min + 10; port++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                foreign.Add(s);
                s.Bind(new IPEndPoint(IPAddress.Loopback, port));
            }
            await using var server = await TestServer.StartAsync(o =>
            {
                o.RelayMinPort = Min;
                o.RelayMaxPort = Max;
                o.MaxAllocationsPerUser = 1000;
                o.MaxAllocationsPerSource = 1000;
            });
            var credential = server.Credential();

            // 90 free ports, 90 allocations: each gets one (the old choice — 64 consecutive tries from a random port —
            // answered 508 while free ports were left, as a 10,000-allocation run in 12,000 ports did).
            var relayPorts = new List<int>();
            for (int i = 0; i < 90; i++)
            {
                var client = server.Client();
                clients.Add(client);
                var allocation = await client.AllocateAsync(credential.Username, credential.Password);
                Assert.InRange(allocation.Relayed.Port, Min + 10, Max);
                Assert.DoesNotContain(allocation.Relayed.Port, relayPorts);
                relayPorts.Add(allocation.Relayed.Port);
            }

            // The range is full: 508, and nothing else is affected.
            var extra = server.Client();
            clients.Add(extra);
            var ex = await Assert.ThrowsAsync<TurnException>(() => extra.AllocateAsync(credential.Username, credential.Password));
            Assert.Equal(508, ex.Code);
            Assert.Equal(90, server.Server.AllocationCount);

            // One allocation deleted: its port is the one free port, and the next Allocate gets it.
            await clients[0].RefreshAsync(TimeSpan.Zero);
            await Wait.UntilAsync(() => server.Server.AllocationCount == 89, "the deleted allocation to close");
            var again = server.Client();
            clients.Add(again);
            var reused = await again.AllocateAsync(credential.Username, credential.Password);
            Assert.Equal(relayPorts[0], reused.Relayed.Port);
            Assert.Equal(0, server.Server.HandlerFaults);
        }
        finally
        {
            foreach (var c in clients)
            {
                await c.DisposeAsync();
            }
            foreach (var s in foreign)
            {
                s.Dispose();
            }
        }
    }
}
