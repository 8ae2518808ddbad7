using System.Net;
using System.Net.Sockets;
using System.Text;
using GhostChat.Cli.Doctor;
using GhostChat.Turn.Client;

namespace GhostChat.Cli.Tests;

/// <summary>Closed ports, malformed server answers and bad arguments: clear verdicts and exit codes, never a crash.</summary>
public sealed class DoctorFailureTests
{
    [Fact]
    public async Task ClosedPort_SignalingUnreachable_ExitCode1()
    {
        int closed = FreePorts.Tcp();
        var (exit, report, _) = await GhostchatProcess.RunJsonAsync("doctor", $"http://127.0.0.1:{closed}", "--timeout", "3");
        Assert.Equal(1, exit);
        var http = report.Check("signaling:http");
        Assert.Equal("fail", http.Status());
        Assert.Contains("connection refused", http.Verdict(), StringComparison.Ordinal);
        Assert.Contains("Is GhostChat running", http.Advice(), StringComparison.Ordinal);
        Assert.Equal("skip", report.Check("signaling:websocket").Status());
        Assert.Equal("skip", report.Check("ice:fetch").Status());
        Assert.Equal("fail", report.Check("stun:none").Status());
        Assert.False(report.GetProperty("essentials").GetProperty("signaling").GetBoolean());
        Assert.Contains("signaling is unreachable", report.GetProperty("summary").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClosedStunAndTurnPorts_EachGetsAVerdict_ExitCode1()
    {
        int udp = FreePorts.Udp(), tcp = FreePorts.Tcp();
        var (exit, report, _) = await GhostchatProcess.RunJsonAsync("doctor", "--stun", $"127.0.0.1:{udp}",
            "--turn", $"turn:127.0.0.1:{tcp}?transport=tcp", "--turn", $"turn:127.0.0.1:{udp}?transport=udp", "--secret", "whatever-secret-0123456789", "--timeout", "2");
        Assert.Equal(1, exit);
        var stun = report.Check($"stun:127.0.0.1:{udp}");
        Assert.Equal("fail", stun.Status());
        Assert.Contains($"UDP {udp}", stun.Verdict(), StringComparison.Ordinal);
        Assert.Contains("TURN over TCP or TLS", stun.Advice(), StringComparison.Ordinal);
        var turnTcp = report.Check($"turn:tcp:127.0.0.1:{tcp}");
        Assert.Equal("fail", turnTcp.Status());
        Assert.Contains("refused the connection", turnTcp.Verdict(), StringComparison.Ordinal);
        var turnUdp = report.Check($"turn:udp:127.0.0.1:{udp}");
        Assert.Equal("fail", turnUdp.Status());
        Assert.Contains($"UDP {udp}", turnUdp.Verdict(), StringComparison.Ordinal);
        Assert.Contains("no STUN server answered", report.GetProperty("summary").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{not json", "not JSON")]
    [InlineData("{\"iceServers\": 5}", "no \"iceServers\" array")]
    [InlineData("{\"iceServers\": [{\"urls\": 42}]}", "iceServers[0].urls is not a string")]
    [InlineData("[1,2,3]", "no \"iceServers\" array")]
    [InlineData("<html>proxy error</html>", "not JSON")]
    public async Task MalformedIceAnswer_ClearVerdict_NoCrash(string body, string expected)
    {
        await using var fake = await FakeHttpServer.StartAsync(path => path.EndsWith("/api/ice", StringComparison.Ordinal) ? (200, body, null) : (200, "some-peer-id", null));
        var report = await new DoctorRunner(new DoctorOptions { Url = fake.Url, Timeout = TimeSpan.FromSeconds(5) }).RunAsync();
        var ice = report.Checks.Single(c => c.Id == "ice:fetch");
        Assert.Equal(CheckStatus.Fail, ice.Status);
        Assert.Contains("not the JSON GhostChat sends", ice.Verdict, StringComparison.Ordinal);
        Assert.Contains(expected, ice.Verdict, StringComparison.Ordinal);
        Assert.Equal(CheckStatus.Ok, report.Checks.Single(c => c.Id == "signaling:http").Status);
        Assert.Equal(1, report.ExitCode); // the fake has no WebSocket and there is no STUN server
    }

    [Theory]
    [InlineData(404, "Warn", "has no /api/ice")]
    [InlineData(429, "Warn", "rate-limiting this address (429); retry after 7 s")]
    [InlineData(500, "Fail", "answered 500")]
    public async Task IceErrorStatuses_ClearVerdicts(int status, string expectedStatus, string expected)
    {
        await using var fake = await FakeHttpServer.StartAsync(path => path.EndsWith("/api/ice", StringComparison.Ordinal) ? (status, "{\"error\":\"x\"}", "7") : (200, "some-peer-id", null));
        var report = await new DoctorRunner(new DoctorOptions { Url = fake.Url, Timeout = TimeSpan.FromSeconds(5) }).RunAsync();
        var ice = report.Checks.Single(c => c.Id == "ice:fetch");
        Assert.Equal(Enum.Parse<CheckStatus>(expectedStatus), ice.Status);
        Assert.Contains(expected, ice.Verdict, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignalingPathThatIsNotPeerJs_ClearVerdict()
    {
        await using var fake = await FakeHttpServer.StartAsync(_ => (404, "<html>not here</html>", null));
        var report = await new DoctorRunner(new DoctorOptions { Url = fake.Url, Timeout = TimeSpan.FromSeconds(5) }).RunAsync();
        var http = report.Checks.Single(c => c.Id == "signaling:http");
        Assert.Equal(CheckStatus.Fail, http.Status);
        Assert.Contains("answered 404", http.Verdict, StringComparison.Ordinal);
        Assert.Contains("not a PeerJS/GhostChat signaling server", http.Verdict, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NonStunReplyOnTheStunPort_SaysAnotherServiceIsThere()
    {
        using var garbage = new UdpResponder(_ => Encoding.ASCII.GetBytes("HELLO this is not STUN at all"));
        var report = await new DoctorRunner(new DoctorOptions { Stun = [new IceUrl("stun", "127.0.0.1", garbage.Port, "udp")], Timeout = TimeSpan.FromSeconds(2) }).RunAsync();
        var stun = report.Checks.Single(c => c.Group == "stun");
        Assert.Equal(CheckStatus.Fail, stun.Status);
        Assert.Contains("not with STUN", stun.Verdict, StringComparison.Ordinal);
        Assert.Equal(1, report.ExitCode);
    }

    [Fact]
    public async Task MalformedStunAnswer_SaysSo()
    {
        // A STUN-looking success answer (right type, cookie and transaction) whose attribute runs past the end.
        using var broken = new UdpResponder(request =>
        {
            var answer = new byte[28];
            answer[0] = 0x01; answer[1] = 0x01; answer[3] = 8;
            request.AsSpan(4, 16).CopyTo(answer.AsSpan(4));
            answer[20] = 0x00; answer[21] = 0x20; answer[22] = 0x00; answer[23] = 0x40;
            return answer;
        });
        var report = await new DoctorRunner(new DoctorOptions { Stun = [new IceUrl("stun", "127.0.0.1", broken.Port, "udp")], Timeout = TimeSpan.FromSeconds(2) }).RunAsync();
        var stun = report.Checks.Single(c => c.Group == "stun");
        Assert.Equal(CheckStatus.Fail, stun.Status);
        Assert.Contains("malformed STUN answer", stun.Verdict, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TurnOverTcpToAnHttpServer_SaysItIsNotTurn()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var serve = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            var stream = client.GetStream();
            var buffer = new byte[512];
            _ = await stream.ReadAsync(buffer);
            await stream.WriteAsync("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"u8.ToArray());
            await Task.Delay(TimeSpan.FromSeconds(10));
        });
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var report = await new DoctorRunner(new DoctorOptions
        {
            Turn = [new IceUrl("turn", "127.0.0.1", port, "tcp")],
            Secret = "some-secret-0123456789",
            Timeout = TimeSpan.FromSeconds(5),
        }).RunAsync();
        var turn = report.Checks.Single(c => c.Group == "turn");
        Assert.Equal(CheckStatus.Fail, turn.Status);
        Assert.Contains("closed the connection", turn.Verdict, StringComparison.Ordinal);
        Assert.Contains("turns: vs turn:", turn.Advice, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("doctor", "ftp://example.org")]
    [InlineData("doctor", "--turn", "turn:127.0.0.1:3478")]
    [InlineData("doctor", "--turn", "http://x", "--secret", "s")]
    [InlineData("doctor", "--stun", "[::1", "--timeout", "1")]
    [InlineData("doctor", "--timeout", "0")]
    [InlineData("doctor", "--turn", "turn:h:3478", "--username", "u")]
    public async Task BadArguments_ExitCode2_WithAMessage(params string[] args)
    {
        var (exit, stdout, stderr) = await GhostchatProcess.RunAsync(args);
        Assert.True(exit == 2, stdout + stderr);
        Assert.Contains("ghostchat doctor:", stderr, StringComparison.Ordinal);
    }

    /// <summary>A tiny HTTP server on 127.0.0.1 answering each path with (status, body, Retry-After).</summary>
    private sealed class FakeHttpServer : IAsyncDisposable
    {
        private readonly HttpListener _listener;
        private readonly Task _loop;

        private FakeHttpServer(HttpListener listener, Func<string, (int, string, string?)> answer, Uri url)
        {
            _listener = listener;
            Url = url;
            _loop = Task.Run(async () =>
            {
                while (listener.IsListening)
                {
                    HttpListenerContext context;
                    try
                    {
                        context = await listener.GetContextAsync();
                    }
                    catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                    {
                        return;
                    }
                    var (status, body, retryAfter) = answer(context.Request.Url!.AbsolutePath);
                    context.Response.StatusCode = status;
                    if (retryAfter is not null)
                    {
                        context.Response.AddHeader("Retry-After", retryAfter);
                    }
                    var bytes = Encoding.UTF8.GetBytes(body);
                    await context.Response.OutputStream.WriteAsync(bytes);
                    context.Response.Close();
                }
            });
        }

        public Uri Url { get; }

        public static Task<FakeHttpServer> StartAsync(Func<string, (int, string, string?)> answer)
        {
            for (int attempt = 0; ; attempt++)
            {
                var port = FreePorts.Tcp();
                var url = new Uri($"http://127.0.0.1:{port}/");
                var listener = new HttpListener();
                listener.Prefixes.Add(url.ToString());
                try
                {
                    listener.Start();
                    return Task.FromResult(new FakeHttpServer(listener, answer, url));
                }
                catch (HttpListenerException) when (attempt < 10)
                {
                    listener.Close();
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            _listener.Close();
            await _loop;
        }
    }

    /// <summary>A UDP socket on 127.0.0.1 that answers every datagram with what <c>answer</c> makes of it.</summary>
    private sealed class UdpResponder : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        private readonly CancellationTokenSource _stop = new();

        public UdpResponder(Func<byte[], byte[]> answer)
        {
            _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _ = Task.Run(async () =>
            {
                var buffer = new byte[2048];
                while (!_stop.IsCancellationRequested)
                {
                    try
                    {
                        var r = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
                        await _socket.SendToAsync(answer(buffer[..r.ReceivedBytes]), SocketFlags.None, r.RemoteEndPoint);
                    }
                    catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
                    {
                        if (_stop.IsCancellationRequested)
                        {
                            return;
                        }
                    }
                }
            });
        }

        public int Port => ((IPEndPoint)_socket.LocalEndPoint!).Port;

        public void Dispose()
        {
            _stop.Cancel();
            _socket.Dispose();
            _stop.Dispose();
        }
    }
}
