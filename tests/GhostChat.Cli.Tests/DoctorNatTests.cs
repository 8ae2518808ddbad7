using System.Net;
using System.Net.Sockets;
using GhostChat.Cli.Doctor;
using GhostChat.Turn.Client;
using GhostChat.Turn.Server;

namespace GhostChat.Cli.Tests;

/// <summary>The NAT checks against real STUN servers on loopback (no NAT here: mapping is "no NAT"; filtering is measurable).</summary>
public sealed class DoctorNatTests
{
    private static async Task<TurnServer> StartStunAsync(Action<TurnServerOptions>? configure = null)
    {
        for (int attempt = 0; ; attempt++)
        {
            var options = new TurnServerOptions
            {
                ListenAddresses = ["127.0.0.1"],
                UdpPort = FreePorts.Udp(),
                TcpPort = -1,
                Secrets = ["nat-test-secret-0123456789"],
                UdpReceiveLoops = 1,
            };
            configure?.Invoke(options);
            var server = new TurnServer(options);
            try
            {
                await server.StartAsync();
                return server;
            }
            catch (SocketException) when (attempt < 10)
            {
                await server.DisposeAsync();
            }
        }
    }

    private static IceUrl Stun(IPEndPoint ep) => new("stun", ep.Address.ToString(), ep.Port, "udp");

    [Fact]
    public async Task AlternateAddressAndPort_FullRfc5780Tests_EndpointIndependentFiltering()
    {
        await using var server = await StartStunAsync(o =>
        {
            o.AlternatePort = 0;
            o.AlternateAddress = "127.0.0.2";
        });
        var report = await new DoctorRunner(new DoctorOptions { Stun = [Stun(server.UdpEndPoints[0])], Timeout = TimeSpan.FromSeconds(10) }).RunAsync();
        Assert.NotNull(report.Nat);
        Assert.Equal(NatMapping.NoNat, report.Nat!.Mapping);
        Assert.Equal(NatFiltering.EndpointIndependent, report.Nat.Filtering);
        var mapping = report.Checks.Single(c => c.Id == "nat:mapping");
        Assert.Equal($"127.0.0.2:{server.AlternatePort}", mapping.Details!["alternate"]);
        Assert.True(mapping.Details.ContainsKey("mappedAlternateAddress"));
        Assert.Equal("yes", report.Checks.Single(c => c.Id == "nat:filtering").Details!["answerFromOtherAddressAndPort"]);
        Assert.Equal(0, report.ExitCode);
    }

    [Fact]
    public async Task TwoPlainStunPortsFromIce_MappingMeasured_FilteringUnknownBecauseChangeRequestIsRefused()
    {
        // Two STUN servers without RFC 5780 on one address, announced as stunProbes (contract C2) by a fake /api/ice.
        await using var first = await StartStunAsync();
        await using var second = await StartStunAsync();
        string ice = $$"""{"iceServers":[{"urls":["stun:127.0.0.1:{{first.UdpEndPoints[0].Port}}"]}],"stunProbes":["stun:127.0.0.1:{{first.UdpEndPoints[0].Port}}","stun:127.0.0.1:{{second.UdpEndPoints[0].Port}}"]}""";
        await using var fake = await FakeHttp.StartAsync(path => path.EndsWith("/api/ice", StringComparison.Ordinal) ? ice : "peer-id-1");
        var report = await new DoctorRunner(new DoctorOptions { Url = fake.Url, Timeout = TimeSpan.FromSeconds(10) }).RunAsync();
        Assert.NotNull(report.Nat);
        Assert.Equal(NatMapping.NoNat, report.Nat!.Mapping);
        Assert.Equal(NatFiltering.Unknown, report.Nat.Filtering);
        var filtering = report.Checks.Single(c => c.Id == "nat:filtering");
        Assert.Equal(CheckStatus.Skip, filtering.Status);
        Assert.Contains("refused CHANGE-REQUEST", filtering.Verdict, StringComparison.Ordinal);
        Assert.Equal(2, report.Checks.Count(c => c.Group == "stun" && c.Status == CheckStatus.Ok));
    }

    /// <summary>HttpListener answering 200 with a body per path.</summary>
    private sealed class FakeHttp : IAsyncDisposable
    {
        private readonly HttpListener _listener;
        private readonly Task _loop;

        private FakeHttp(HttpListener listener, Func<string, string> answer, Uri url)
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
                    var bytes = System.Text.Encoding.UTF8.GetBytes(answer(context.Request.Url!.AbsolutePath));
                    await context.Response.OutputStream.WriteAsync(bytes);
                    context.Response.Close();
                }
            });
        }

        public Uri Url { get; }

        public static Task<FakeHttp> StartAsync(Func<string, string> answer)
        {
            for (int attempt = 0; ; attempt++)
            {
                var url = new Uri($"http://127.0.0.1:{FreePorts.Tcp()}/");
                var listener = new HttpListener();
                listener.Prefixes.Add(url.ToString());
                try
                {
                    listener.Start();
                    return Task.FromResult(new FakeHttp(listener, answer, url));
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
}
