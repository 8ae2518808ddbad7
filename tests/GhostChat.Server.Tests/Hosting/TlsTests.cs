using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Tests.Hosting;

public sealed class TlsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ghostchat-tls-").FullName;
    private readonly X509Certificate2 _certificate;

    public TlsTests()
    {
        _certificate = TestCertificates.WriteSelfSigned(CertPath, KeyPath, "localhost", days: 30, rsa: true);
    }

    private string CertPath => Path.Combine(_dir, "cert.pem");

    private string KeyPath => Path.Combine(_dir, "key.pem");

    private Task<TestServer> StartAsync(Dictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?>(settings ?? [])
        {
            ["GhostChat:Tls:CertificatePath"] = CertPath,
            ["GhostChat:Tls:KeyPath"] = KeyPath,
        };
        return TestServer.StartAsync(all, urls: "http://127.0.0.1:0;https://127.0.0.1:0");
    }

    private HttpClient TrustingClient() => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        SslOptions = { RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null && cert.GetCertHashString() == _certificate.GetCertHashString() },
    });

    [Fact]
    public async Task Https_ServesWithTheConfiguredCertificate_AndSendsHsts()
    {
        await using var server = await StartAsync();
        var https = server.Urls.Single(u => u.Scheme == "https");
        using var client = TrustingClient();
        var response = await client.GetAsync(new Uri(https, "healthz"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("max-age=31536000", response.Headers.GetValues("Strict-Transport-Security").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PlainHttp_RedirectsToHttps()
    {
        await using var server = await StartAsync();
        var https = server.Urls.Single(u => u.Scheme == "https");
        using var client = TrustingClient();
        var response = await client.GetAsync(new Uri(server.BaseUri, "peerjs/id?x=1"));
        Assert.Equal(HttpStatusCode.TemporaryRedirect, response.StatusCode);
        Assert.Equal(new Uri(https, "peerjs/id?x=1"), response.Headers.Location);
        Assert.False(response.Headers.Contains("Strict-Transport-Security"));
    }

    // Attack: a signaling socket over plain HTTP (token in the query, readable on the path) when the
    // operator turned TLS and redirection on. The fast path must redirect it like every other request.
    [Fact]
    public async Task PlainHttpWebSocketUpgrade_RedirectedToHttps_NotServed()
    {
        await using var server = await StartAsync();
        var https = server.Urls.Single(u => u.Scheme == "https");
        using var tcp = await Signaling.ConnectionFastPathTests.ConnectAsync(server);
        await Signaling.ConnectionFastPathTests.Send(tcp.GetStream(), Signaling.ConnectionFastPathTests.Upgrade("/peerjs?key=peerjs&id=alice&token=t", server.BaseUri.Authority));
        var head = await Signaling.ConnectionFastPathTests.ReadHeadAsync(tcp.GetStream());
        Assert.StartsWith("HTTP/1.1 307", head, StringComparison.Ordinal);
        Assert.Contains("Location: " + new Uri(https, "peerjs?key=peerjs&id=alice&token=t"), head, StringComparison.Ordinal);
    }

    // Attack (or a client that got the scheme wrong): a signaling upgrade in clear text sent to the
    // HTTPS port, with redirection off so the plain-HTTP port serves signaling itself. The TLS port
    // must never serve it in clear — on the socket loop (which accepts every TCP endpoint, TLS ones
    // included) as on Kestrel's transport.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task PlainWebSocketUpgrade_ToTheHttpsPort_NotServedInClear(bool socketLoop)
    {
        await using var server = await StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Tls:RedirectHttp"] = "false",
            ["GhostChat:Signaling:SocketLoop"] = socketLoop ? "true" : "false",
        });
        var https = server.Urls.Single(u => u.Scheme == "https");
        using (var tcp = new System.Net.Sockets.TcpClient())
        {
            await tcp.ConnectAsync(https.Host, https.Port);
            await Signaling.ConnectionFastPathTests.Send(tcp.GetStream(), Signaling.ConnectionFastPathTests.Upgrade("/peerjs?key=peerjs&id=alice&token=t", https.Authority));
            var head = await Signaling.ConnectionFastPathTests.ReadHeadAsync(tcp.GetStream());
            Assert.False(head.StartsWith("HTTP/", StringComparison.Ordinal), "answered in clear on the TLS port: " + head);
        }
        Assert.Equal(0, await server.MetricAsync("ghostchat_signaling_connections_total"));
        // The same upgrade on the plain-HTTP port is served (redirection is off): the test would see it.
        using (var tcp = await Signaling.ConnectionFastPathTests.ConnectAsync(server))
        {
            await Signaling.ConnectionFastPathTests.Send(tcp.GetStream(), Signaling.ConnectionFastPathTests.Upgrade("/peerjs?key=peerjs&id=alice&token=t", server.BaseUri.Authority));
            Assert.StartsWith("HTTP/1.1 101", await Signaling.ConnectionFastPathTests.ReadHeadAsync(tcp.GetStream()), StringComparison.Ordinal);
        }
        // And wss:// on the TLS port still works.
        var wss = new UriBuilder(https) { Scheme = "wss", Path = "/peerjs", Query = "key=peerjs&id=bob&token=t" }.Uri;
        await using var client = await PeerClient.ConnectAsync(wss, o => o.RemoteCertificateValidationCallback = (_, cert, _, _) => cert?.GetCertHashString() == _certificate.GetCertHashString());
        Assert.Equal("OPEN", (await client.ReceiveAsync()).Type);
    }

    [Fact]
    public async Task SecureWebSocket_RegistersOverTls()
    {
        await using var server = await StartAsync();
        var https = server.Urls.Single(u => u.Scheme == "https");
        var wss = new UriBuilder(https) { Scheme = "wss", Path = "/peerjs", Query = "key=peerjs&id=alice&token=t" }.Uri;
        await using var client = await PeerClient.ConnectAsync(wss, o => o.RemoteCertificateValidationCallback = (_, cert, _, _) => cert?.GetCertHashString() == _certificate.GetCertHashString());
        Assert.Equal("OPEN", (await client.ReceiveAsync()).Type);
    }

    [Fact]
    public async Task MissingKeyFile_RefusesToStartNamingTheSetting()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Tls:CertificatePath"] = CertPath,
            ["GhostChat:Tls:KeyPath"] = Path.Combine(_dir, "missing.pem"),
        }));
        Assert.Contains("GhostChat:Tls:KeyPath", string.Join("\n", ex.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MismatchedKey_RefusesToStart()
    {
        using var other = RSA.Create(2048);
        var otherKey = Path.Combine(_dir, "other.pem");
        await File.WriteAllTextAsync(otherKey, other.ExportPkcs8PrivateKeyPem());
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Tls:CertificatePath"] = CertPath,
            ["GhostChat:Tls:KeyPath"] = otherKey,
        }));
        Assert.Contains("matching PEM pair", string.Join("\n", ex.Failures), StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _certificate.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
