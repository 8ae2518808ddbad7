using System.Net.Sockets;
using System.Text;

namespace GhostChat.Server.Tests.Infrastructure;

/// <summary>
/// An attacker's signaling socket: a raw TCP connection with a small receive buffer that performs
/// the WebSocket upgrade, reads the 101 answer, and then never reads again — whatever the server
/// sends piles up in the kernel buffers and then in the server's outbound queue.
/// </summary>
public sealed class NeverReadingClient : IDisposable
{
    private readonly Socket _socket;

    private NeverReadingClient(Socket socket) => _socket = socket;

    public static async Task<NeverReadingClient> ConnectAsync(Uri webSocketUri)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
        {
            ReceiveBufferSize = 4096, // before connecting: a small window, no receive autotuning
            NoDelay = true,
        };
        try
        {
            await socket.ConnectAsync(webSocketUri.Host, webSocketUri.Port);
            var key = Convert.ToBase64String(Guid.NewGuid().ToByteArray());
            var request = $"GET {webSocketUri.PathAndQuery} HTTP/1.1\r\nHost: {webSocketUri.Authority}\r\n"
                + $"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n";
            await socket.SendAsync(Encoding.ASCII.GetBytes(request));

            // Read the answer's headers one byte at a time, so nothing after them is consumed.
            var head = new StringBuilder();
            var one = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                if (await socket.ReceiveAsync(one) == 0)
                {
                    throw new IOException("the server closed during the upgrade: " + head);
                }
                head.Append((char)one[0]);
            }
            Assert.StartsWith("HTTP/1.1 101", head.ToString(), StringComparison.Ordinal);
            return new NeverReadingClient(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Dispose() => _socket.Dispose();
}
