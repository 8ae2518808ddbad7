using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace GhostChat.Testing;

/// <summary>
/// A real coturn (Debian's <c>turnserver</c> 4.6.1) on 127.0.0.1 with a REST secret, free ports, its own temp folder,
/// optionally TLS with a generated self-signed certificate. Stopped by its process id; the folder is always removed.
/// </summary>
public sealed class CoturnProcess : IAsyncDisposable
{
    public const string Realm = "coturn.test";

    private readonly ChildProcess _process;
    private readonly string _dir;

    private CoturnProcess(ChildProcess process, string dir, int port, int tlsPort, string secret, X509Certificate2? certificate)
    {
        _process = process;
        _dir = dir;
        Port = port;
        TlsPort = tlsPort;
        Secret = secret;
        Certificate = certificate;
    }

    /// <summary>UDP and TCP listening port.</summary>
    public int Port { get; }

    /// <summary>TLS port, or -1 without TLS.</summary>
    public int TlsPort { get; }

    public string Secret { get; }

    /// <summary>The self-signed certificate coturn serves over TLS (null without TLS).</summary>
    public X509Certificate2? Certificate { get; }

    public IPEndPoint Udp => new(IPAddress.Loopback, Port);

    public IPEndPoint Tls => new(IPAddress.Loopback, TlsPort);

    public string Log => _process.Log;

    /// <summary>Starts coturn; <paramref name="port"/> reuses a known port (a restart), otherwise a free pair is chosen.</summary>
    public static async Task<CoturnProcess> StartAsync(string secret, bool tls = false, int? port = null)
    {
        var dir = Directory.CreateTempSubdirectory("ghostchat-coturn-").FullName;
        X509Certificate2? certificate = null;
        bool handedOver = false;
        try
        {
            port ??= FreePorts.UdpAndTcpPair();
            int tlsPort = tls ? FreePorts.UdpAndTcpPair() : -1;
            // Relay ports: a random slice of 50000–59999 (our own test servers use 40000–49999).
            int relayMin = 50000 + (RandomNumberGenerator.GetInt32(50) * 200);
            var args = new List<string>
            {
                "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
                "--listening-port=" + port.Value.ToString(CultureInfo.InvariantCulture),
                "--min-port=" + relayMin.ToString(CultureInfo.InvariantCulture), "--max-port=" + (relayMin + 199).ToString(CultureInfo.InvariantCulture),
                "--use-auth-secret", "--static-auth-secret=" + secret, "--realm=" + Realm, "--fingerprint",
                "--allow-loopback-peers", "--no-cli", "--no-dtls", "--log-file=stdout", "--simple-log",
                "--pidfile=" + Path.Combine(dir, "turnserver.pid"), "--userdb=" + Path.Combine(dir, "turndb"),
            };
            if (tls)
            {
                certificate = TestCertificates.WriteSelfSigned(Path.Combine(dir, "cert.pem"), Path.Combine(dir, "key.pem"), "coturn.test", rsa: true);
                args.Add("--tls-listening-port=" + tlsPort.ToString(CultureInfo.InvariantCulture));
                args.Add("--cert=" + Path.Combine(dir, "cert.pem"));
                args.Add("--pkey=" + Path.Combine(dir, "key.pem"));
            }
            else
            {
                args.Add("--no-tls");
            }
            var psi = ProcessRunner.StartInfo("/usr/bin/turnserver", args);
            psi.WorkingDirectory = dir;
            var process = ChildProcess.Start(psi);
            var coturn = new CoturnProcess(process, dir, port.Value, tlsPort, secret, certificate);
            handedOver = true;
            try
            {
                await coturn.WaitReadyAsync();
            }
            catch
            {
                await coturn.DisposeAsync();
                throw;
            }
            return coturn;
        }
        catch
        {
            if (!handedOver)
            {
                certificate?.Dispose();
                Directory.Delete(dir, recursive: true);
            }
            throw;
        }
    }

    /// <summary>Ready when a UDP Binding is answered and the TCP (and TLS) ports accept connections.</summary>
    private async Task WaitReadyAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var request = new byte[20];
        request[1] = 1;
        request[4] = 0x21; request[5] = 0x12; request[6] = 0xA4; request[7] = 0x42;
        RandomNumberGenerator.Fill(request.AsSpan(8));
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException("turnserver exited at start:\n" + Log);
            }
            if (await UdpAnswersAsync(request) && await TcpAcceptsAsync(Port) && (TlsPort < 0 || await TcpAcceptsAsync(TlsPort)))
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("turnserver did not become ready in 30 s:\n" + Log);
            }
            await Task.Delay(100);
        }
    }

    private async Task<bool> UdpAnswersAsync(byte[] request)
    {
        using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        udp.Connect(Udp);
        try
        {
            await udp.SendAsync(request);
            using var cts = new CancellationTokenSource(500);
            var buffer = new byte[1500];
            return await udp.ReceiveAsync(buffer, SocketFlags.None, cts.Token) >= 20;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    private static async Task<bool> TcpAcceptsAsync(int port)
    {
        using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            using var cts = new CancellationTokenSource(1000);
            await tcp.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cts.Token);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Stops coturn by its own process id and removes its folder.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _process.DisposeAsync();
        }
        finally
        {
            Certificate?.Dispose();
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
