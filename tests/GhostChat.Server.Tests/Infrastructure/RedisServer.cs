using System.Net;
using System.Net.Sockets;

namespace GhostChat.Server.Tests.Infrastructure;

/// <summary>A real redis-server on a free loopback port, started and stopped (by PID) by the test.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private ChildProcess? _process;

    private RedisServer(int port) => Port = port;

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync()
    {
        var server = new RedisServer(FreePorts.Tcp());
        await server.StartAgainAsync();
        return server;
    }

    /// <summary>Starts redis-server on the same port (after <see cref="Kill"/>), empty: no persistence.</summary>
    public async Task StartAgainAsync()
    {
        var start = ProcessRunner.StartInfo("redis-server", ["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"]);
        try
        {
            _process = ChildProcess.Start(start);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("redis-server did not start (is the redis-server package installed? ./test.sh installs it)", ex);
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port);
                var stream = client.GetStream();
                await stream.WriteAsync("PING\r\n"u8.ToArray());
                var buffer = new byte[16];
                var n = await stream.ReadAsync(buffer);
                if (System.Text.Encoding.ASCII.GetString(buffer, 0, n).StartsWith("+PONG", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (SocketException)
            {
            }
            if (DateTime.UtcNow > deadline || _process.HasExited)
            {
                throw new InvalidOperationException($"redis-server did not answer on port {Port}");
            }
            await Task.Delay(50);
        }
    }

    /// <summary>Kills this test's redis-server (by PID) and waits for it to exit.</summary>
    public async Task KillAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }
        _process = null;
    }

    public async ValueTask DisposeAsync() => await KillAsync();
}
