using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Net.Sockets;

namespace GhostChat.Turn.Tests;

/// <summary>
/// TCP relay connections that wait between frames hold no pooled read buffer. Counted from outside the server with the
/// runtime's own ArrayPool event source (every rent and return of the shared pool), not a hook: raw TCP clients each
/// make an allocation and then go quiet; of the 4,096-byte frame buffers rented while they talked, none stays out.
/// Alone (the event source sees the whole process).
/// </summary>
[Collection(nameof(SerialTurnThreads))]
public sealed class StreamIdleBufferTests
{
    private const int Connections = 20;
    private const int FrameBufferSize = 4096;

    [Fact]
    public async Task TcpRelayConnections_IdleAfterAllocating_HoldNoPooledReadBuffer()
    {
        await using var server = await TestServer.StartAsync();
        using var pool = new PoolListener();
        var sockets = new List<Socket>();
        try
        {
            for (int i = 0; i < Connections; i++)
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                await socket.ConnectAsync(server.Tcp);
                await new RawStreamClient(socket).AllocateAsync(server.Credential("idle"));
            }
            Assert.Equal(Connections, server.Server.AllocationCount);
            // Every connection has talked (so the server rented each a frame buffer) and is quiet now.
            Assert.True(pool.RentedCount(FrameBufferSize) >= Connections, "rented " + pool.RentedCount(FrameBufferSize));
            await Wait.UntilAsync(() => pool.Outstanding(FrameBufferSize) == 0, "the idle connections' frame buffers to be back in the pool");
        }
        finally
        {
            foreach (var s in sockets)
            {
                s.Dispose();
            }
        }
    }

    /// <summary>Rents and returns of the shared ArrayPool, by buffer id, from the runtime's event source.</summary>
    private sealed class PoolListener : EventListener
    {
        private readonly ConcurrentDictionary<int, int> _outstanding = new();
        private readonly ConcurrentDictionary<int, int> _sizes = new();
        private readonly ConcurrentDictionary<int, int> _rented = new();

        public int Outstanding(int size) => _outstanding.Count(kv => kv.Value > 0 && _sizes.GetValueOrDefault(kv.Key) == size);

        public int RentedCount(int size) => _rented.GetValueOrDefault(size);

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == "System.Buffers.ArrayPoolEventSource")
            {
                EnableEvents(eventSource, EventLevel.Verbose);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            // BufferRented (1) and BufferReturned (3) start with the buffer's id and size.
            if (eventData.EventId is not (1 or 3) || eventData.Payload is not { Count: >= 2 } payload
                || payload[0] is not int id || payload[1] is not int size)
            {
                return;
            }
            _sizes[id] = size;
            if (eventData.EventId == 1)
            {
                _outstanding.AddOrUpdate(id, 1, (_, n) => n + 1);
                _rented.AddOrUpdate(size, 1, (_, n) => n + 1);
            }
            else
            {
                _outstanding.AddOrUpdate(id, 0, (_, n) => Math.Max(0, n - 1));
            }
        }
    }
}
