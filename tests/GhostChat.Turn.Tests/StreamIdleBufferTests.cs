using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Net.Security;
using System.Net.Sockets;

namespace GhostChat.Turn.Tests;

/// <summary>
/// TCP and TLS relay connections that wait between frames hold no pooled buffer. Counted from outside the server with
/// the runtime's own ArrayPool event source (every rent and return of the shared pool), not a hook: raw clients each
/// make an allocation and then go quiet; of the buffers rented while they talked (the server's 4,096-byte frame
/// buffers, SslStream's), none stays out. Alone (the event source sees the whole process).
/// </summary>
[Collection(nameof(SerialTurnThreads))]
public sealed class StreamIdleBufferTests
{
    private const int Connections = 20;
    private const int FrameBufferSize = 4096;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task StreamRelayConnections_IdleAfterAllocating_HoldNoPooledBuffer(bool tls)
    {
        var dir = Directory.CreateTempSubdirectory("ghostchat-turn-idle-").FullName;
        using var certificate = TestCertificates.WriteSelfSigned(Path.Combine(dir, "cert.pem"), Path.Combine(dir, "key.pem"), "turn.test");
        int tlsPort = FreePorts.Tcp();
        await using var server = await TestServer.StartAsync(o =>
        {
            if (tls)
            {
                o.TlsCertificatePath = Path.Combine(dir, "cert.pem");
                o.TlsKeyPath = Path.Combine(dir, "key.pem");
                o.TlsPort = tlsPort;
            }
        });
        var endPoint = tls ? server.Server.TlsEndPoints[0] : server.Tcp;
        using var pool = new PoolListener();
        var streams = new List<Stream>();
        try
        {
            for (int i = 0; i < Connections; i++)
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    await socket.ConnectAsync(endPoint);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
                Stream stream = new NetworkStream(socket, ownsSocket: true);
                streams.Add(stream);
                if (tls)
                {
                    var ssl = new SslStream(stream, false, (_, cert, _, _) => cert?.GetCertHashString() == certificate.GetCertHashString());
                    stream = ssl;
                    streams.Add(ssl);
                    await ssl.AuthenticateAsClientAsync("turn.test");
                }
                await new RawStreamClient(stream).AllocateAsync(server.Credential("idle"));
            }
            Assert.Equal(Connections, server.Server.AllocationCount);
            // Every connection has talked (so the server rented each a frame buffer) and is quiet now: no buffer rented
            // meanwhile, of any size, is still out (TLS: SslStream's own buffers on both sides too).
            Assert.True(pool.RentedCount(FrameBufferSize) >= Connections, "rented " + pool.RentedCount(FrameBufferSize));
            await Wait.UntilAsync(() => pool.Outstanding() == 0, "the idle connections' buffers to be back in the pool");
        }
        finally
        {
            foreach (var s in Enumerable.Reverse(streams))
            {
                await s.DisposeAsync();
            }
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Rents and returns of the shared ArrayPool, by buffer id, from the runtime's event source.</summary>
    private sealed class PoolListener : EventListener
    {
        private readonly ConcurrentDictionary<int, int> _outstanding = new();
        private readonly ConcurrentDictionary<int, int> _sizes = new();
        private readonly ConcurrentDictionary<int, int> _rented = new();

        /// <summary>Buffers rented since the listener started and not returned, of any size.</summary>
        public int Outstanding() => _outstanding.Count(kv => kv.Value > 0);

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
