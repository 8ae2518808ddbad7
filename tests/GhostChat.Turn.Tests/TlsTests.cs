using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using GhostChat.Turn.Server;

namespace GhostChat.Turn.Tests;

/// <summary>STUN over TLS (RFC 8489 §6.2.3) when a certificate is configured.</summary>
public sealed class TlsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ghostchat-turn-tls-").FullName;
    private readonly X509Certificate2 _certificate;

    public TlsTests()
    {
        _certificate = TestCertificates.WriteSelfSigned(Path.Combine(_dir, "cert.pem"), Path.Combine(_dir, "key.pem"), "turn.test");
    }

    /// <summary>A server with TLS on <paramref name="tlsPort"/> with this test's certificate and key.</summary>
    private Task<TestServer> StartTlsAsync(int tlsPort, Action<TurnServerOptions>? more = null) => TestServer.StartAsync(o =>
    {
        o.TlsCertificatePath = Path.Combine(_dir, "cert.pem");
        o.TlsKeyPath = Path.Combine(_dir, "key.pem");
        o.TlsPort = tlsPort;
        more?.Invoke(o);
    });

    [Fact]
    public async Task BindingOverTls_AnswersWithTheClientsMappedAddress()
    {
        var tlsPort = FreePorts.Tcp();
        await using var server = await StartTlsAsync(tlsPort);
        Assert.Equal(tlsPort, Assert.Single(server.Server.TlsEndPoints).Port);

        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, tlsPort);
        await using var tls = new SslStream(tcp.GetStream(), false, (_, cert, _, _) => cert?.GetCertHashString() == _certificate.GetCertHashString());
        await tls.AuthenticateAsClientAsync("turn.test");

        var transaction = RandomNumberGenerator.GetBytes(12);
        var request = new byte[20];
        BinaryPrimitives.WriteUInt16BigEndian(request, 0x0001); // Binding request
        BinaryPrimitives.WriteUInt32BigEndian(request.AsSpan(4), 0x2112A442);
        transaction.CopyTo(request, 8);
        await tls.WriteAsync(request);

        var header = new byte[20];
        await tls.ReadExactlyAsync(header);
        Assert.Equal(0x0101, BinaryPrimitives.ReadUInt16BigEndian(header)); // Binding success
        Assert.Equal(transaction, header[8..20]);
        var body = new byte[BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2))];
        await tls.ReadExactlyAsync(body);

        // XOR-MAPPED-ADDRESS (0x0020): the client's own port, XORed with the cookie's high half.
        var offset = 0;
        int? mappedPort = null;
        while (offset + 4 <= body.Length)
        {
            var type = BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(offset));
            var length = BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(offset + 2));
            if (type == 0x0020)
            {
                mappedPort = BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(offset + 6)) ^ 0x2112;
            }
            offset += 4 + ((length + 3) & ~3);
        }
        Assert.Equal(((IPEndPoint)tcp.Client.LocalEndPoint!).Port, mappedPort);
    }

    [Fact]
    public async Task MissingKeyFile_FailsToStartWithAClearError()
    {
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => TestServer.StartAsync(o =>
        {
            o.TlsCertificatePath = Path.Combine(_dir, "cert.pem");
            o.TlsKeyPath = Path.Combine(_dir, "missing.pem");
            o.TlsPort = FreePorts.Tcp();
        }));
        Assert.Contains("missing.pem", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TlsConnection_ThatNeverHandshakes_IsClosedAtTheFirstMessageDeadline()
    {
        var tlsPort = FreePorts.Tcp();
        await using var server = await StartTlsAsync(tlsPort, o => o.StreamFirstMessageTimeout = TimeSpan.FromMilliseconds(800));
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, tlsPort);
        // The first bytes of a ClientHello record header, and then nothing.
        await tcp.GetStream().WriteAsync(new byte[] { 0x16, 0x03 });
        var read = await tcp.GetStream().ReadAsync(new byte[16]).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(0, read);
    }

    public void Dispose()
    {
        _certificate.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
