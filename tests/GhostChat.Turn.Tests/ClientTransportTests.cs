using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using GhostChat.Testing;
using GhostChat.Turn.Auth;
using GhostChat.Turn.Client;

namespace GhostChat.Turn.Tests;

/// <summary>
/// The client's TCP and TLS transports (RFC 8656 §3.1, §12.5) with the same API as UDP: against our server
/// (TLS with a generated self-signed certificate) and against a real coturn.
/// </summary>
public sealed class ClientTransportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ghostchat-client-tls-").FullName;
    private readonly X509Certificate2 _certificate;

    public ClientTransportTests()
    {
        _certificate = TestCertificates.WriteSelfSigned(Path.Combine(_dir, "cert.pem"), Path.Combine(_dir, "key.pem"), "turn.test");
    }

    private bool TrustOurs(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        certificate is not null && certificate.GetCertHashString() == _certificate.GetCertHashString();

    private Task<TestServer> StartServerAsync() => TestServer.StartAsync(o =>
    {
        o.AllowedPeers = ["127.0.0.1/32"];
        o.TlsCertificatePath = Path.Combine(_dir, "cert.pem");
        o.TlsKeyPath = Path.Combine(_dir, "key.pem");
        o.TlsPort = 0;
    });

    private Task<TurnClient> ConnectAsync(TestServer server, TurnTransport transport) => transport switch
    {
        TurnTransport.Udp => Task.FromResult(TurnClient.ConnectUdp(server.Udp)),
        TurnTransport.Tcp => TurnClient.ConnectTcpAsync(server.Tcp),
        _ => TurnClient.ConnectTlsAsync(server.Server.TlsEndPoints[0], "turn.test", TrustOurs),
    };

    [Theory]
    [InlineData(TurnTransport.Udp)]
    [InlineData(TurnTransport.Tcp)]
    [InlineData(TurnTransport.Tls)]
    public async Task EveryTransport_BindsAllocatesAndRelaysBothWays(TurnTransport transport)
    {
        await using var server = await StartServerAsync();
        await using var client = await ConnectAsync(server, transport);
        Assert.Equal(transport, client.Transport);
        using var peer = new UdpPeer();

        var mapped = await client.BindingAsync();
        Assert.Equal(client.LocalEndPoint.Port, mapped.Port);

        var credential = server.Credential();
        var allocation = await client.AllocateAsync(credential.Username, credential.Password);
        Assert.Equal(1, server.Server.AllocationCount);
        Assert.Equal(client.LocalEndPoint.Port, allocation.Mapped.Port);
        var relayed = new IPEndPoint(IPAddress.Loopback, allocation.Relayed.Port);
        await client.CreatePermissionAsync(peer.EndPoint);

        // Send indication → the peer; the peer's answer comes back as a Data indication.
        client.Send(peer.EndPoint, "hello"u8);
        var (data, from) = await peer.ReceiveAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("hello"u8.ToArray(), data);
        Assert.Equal(relayed.Port, from.Port);
        await peer.Socket.SendToAsync("back"u8.ToArray(), SocketFlags.None, relayed);
        var received = await ReceiveAsync(client);
        Assert.False(received.ViaChannel);
        Assert.Equal("back"u8.ToArray(), received.Data);
        Assert.Equal(peer.EndPoint, received.Peer);

        // ChannelData with lengths that need padding over streams (1, 5, 7 bytes), several in a row so a
        // missing or extra pad byte would desynchronise the next frame.
        await client.ChannelBindAsync(0x4001, peer.EndPoint);
        foreach (var size in new[] { 1, 5, 7, 8 })
        {
            var payload = RandomNumberGenerator.GetBytes(size);
            client.SendChannel(0x4001, payload);
            (data, _) = await peer.ReceiveAsync(TimeSpan.FromSeconds(20));
            Assert.Equal(payload, data);
        }
        var burst = new[] { RandomNumberGenerator.GetBytes(3), RandomNumberGenerator.GetBytes(6), RandomNumberGenerator.GetBytes(9) };
        foreach (var b in burst)
        {
            await peer.Socket.SendToAsync(b, SocketFlags.None, relayed);
        }
        foreach (var b in burst)
        {
            received = await ReceiveAsync(client);
            Assert.True(received.ViaChannel);
            Assert.Equal(b, received.Data);
        }

        // Refresh still authenticates after all that traffic: the stream stayed in sync.
        Assert.Equal(TimeSpan.Zero, await client.RefreshAsync(TimeSpan.Zero));
        await Wait.UntilAsync(() => server.Server.AllocationCount == 0, "the allocation to be deleted");
        Assert.Equal(0, server.Server.HandlerFaults);
    }

    [Theory]
    [InlineData(TurnTransport.Tcp)]
    [InlineData(TurnTransport.Tls)]
    public async Task WrongPassword_OverStreams_Is401(TurnTransport transport)
    {
        await using var server = await StartServerAsync();
        await using var client = await ConnectAsync(server, transport);
        var credential = server.Credential();
        var ex = await Assert.ThrowsAsync<TurnException>(() => client.AllocateAsync(credential.Username, "wrong-password"));
        Assert.Equal(401, ex.Code);
        Assert.Equal(0, server.Server.AllocationCount);
    }

    [Fact]
    public async Task Tls_CertificateRefusedByTheCallback_FailsTheConnect()
    {
        await using var server = await StartServerAsync();
        await Assert.ThrowsAnyAsync<AuthenticationException>(() =>
            TurnClient.ConnectTlsAsync(server.Server.TlsEndPoints[0], "turn.test", (_, _, _, _) => false));
    }

    [Fact]
    public async Task Tls_WithoutCallback_RefusesASelfSignedCertificate()
    {
        await using var server = await StartServerAsync();
        await Assert.ThrowsAnyAsync<AuthenticationException>(() => TurnClient.ConnectTlsAsync(server.Server.TlsEndPoints[0], "turn.test"));
    }

    [Fact]
    public async Task Tls_SendsTheHostNameAsSni()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var sni = new TaskCompletionSource<string>();
        var serverSide = Task.Run(async () =>
        {
            using var accepted = await listener.AcceptTcpClientAsync();
            await using var ssl = new SslStream(accepted.GetStream());
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificateSelectionCallback = (_, host) =>
                {
                    sni.TrySetResult(host ?? "");
                    return X509CertificateLoader.LoadPkcs12(_certificate.Export(X509ContentType.Pkcs12), null);
                },
            });
        });
        await using var client = await TurnClient.ConnectTlsAsync((IPEndPoint)listener.LocalEndpoint, "relay.example.test", TrustOurs);
        Assert.Equal("relay.example.test", await sni.Task.WaitAsync(TimeSpan.FromSeconds(20)));
        await serverSide.WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Tcp_ServerThatClosesOrSpeaksGarbage_FailsPendingRequestsAtOnce(bool garbage)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var serverSide = Task.Run(async () =>
        {
            using var accepted = await listener.AcceptTcpClientAsync();
            var stream = accepted.GetStream();
            var request = new byte[20];
            await stream.ReadExactlyAsync(request);
            if (garbage)
            {
                await stream.WriteAsync("HTTP/1.1 400 Bad Request\r\n\r\n"u8.ToArray());
                await Task.Delay(TimeSpan.FromSeconds(60)); // keeps the connection open: the client must give up on its own
            }
        });
        await using var client = await TurnClient.ConnectTcpAsync((IPEndPoint)listener.LocalEndpoint);
        client.InitialRto = TimeSpan.FromSeconds(30); // a wait for the timeout would take 31 minutes
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var ex = await Assert.ThrowsAsync<TurnException>(() => client.BindingAsync(cts.Token));
        Assert.Contains("closed", ex.Message, StringComparison.Ordinal);
        Assert.True(client.IsClosed);
        await Assert.ThrowsAsync<TurnException>(() => client.BindingAsync(cts.Token));
    }

    [Theory]
    [InlineData(TurnTransport.Udp)]
    [InlineData(TurnTransport.Tcp)]
    [InlineData(TurnTransport.Tls)]
    public async Task Coturn_AllocatesAndRelaysOverEveryTransport(TurnTransport transport)
    {
        await using var coturn = await CoturnProcess.StartAsync("coturn-test-secret-0123456789", tls: transport == TurnTransport.Tls);
        await using var client = transport switch
        {
            TurnTransport.Udp => TurnClient.ConnectUdp(coturn.Udp),
            TurnTransport.Tcp => await TurnClient.ConnectTcpAsync(coturn.Udp),
            _ => await TurnClient.ConnectTlsAsync(coturn.Tls, "coturn.test", (_, cert, _, _) => cert?.GetCertHashString() == coturn.Certificate!.GetCertHashString()),
        };
        using var peer = new UdpPeer();
        var mapped = await client.BindingAsync();
        Assert.Equal(client.LocalEndPoint.Port, mapped.Port);
        var credential = TurnRestCredentials.Create(coturn.Secret, "doctor", TimeSpan.FromHours(1), DateTimeOffset.UtcNow);
        var allocation = await client.AllocateAsync(credential.Username, credential.Password);
        var relayed = new IPEndPoint(IPAddress.Loopback, allocation.Relayed.Port);
        await client.CreatePermissionAsync(peer.EndPoint);
        client.Send(peer.EndPoint, "via-send"u8);
        var (data, _) = await peer.ReceiveAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("via-send"u8.ToArray(), data);

        await client.ChannelBindAsync(0x4002, peer.EndPoint);
        foreach (var size in new[] { 3, 5, 8 })
        {
            var payload = RandomNumberGenerator.GetBytes(size);
            client.SendChannel(0x4002, payload);
            (data, _) = await peer.ReceiveAsync(TimeSpan.FromSeconds(20));
            Assert.Equal(payload, data);
            await peer.Socket.SendToAsync(payload, SocketFlags.None, relayed);
            var back = await ReceiveAsync(client);
            Assert.Equal(payload, back.Data);
            Assert.True(back.ViaChannel);
        }
    }

    [Fact]
    public async Task Coturn_WrongSecret_Is401OverTcp()
    {
        await using var coturn = await CoturnProcess.StartAsync("coturn-test-secret-0123456789");
        await using var client = await TurnClient.ConnectTcpAsync(coturn.Udp);
        var credential = TurnRestCredentials.Create("some-other-secret-0123456789", "doctor", TimeSpan.FromHours(1), DateTimeOffset.UtcNow);
        var ex = await Assert.ThrowsAsync<TurnException>(() => client.AllocateAsync(credential.Username, credential.Password));
        Assert.Equal(401, ex.Code);
    }

    private static async Task<TurnData> ReceiveAsync(TurnClient client)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        return await client.ReceiveAsync(cts.Token);
    }

    public void Dispose()
    {
        _certificate.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
