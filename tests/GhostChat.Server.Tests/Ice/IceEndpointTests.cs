using System.Net;
using System.Text.Json;
using GhostChat.Server.Ice;
using GhostChat.Turn.Auth;
using GhostChat.Turn.Client;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Tests.Ice;

/// <summary>/api/ice: ordering, cap, exclude, health, rate limit, REST credentials, the embedded server, configuration errors.</summary>
public sealed class IceEndpointTests
{
    private static Dictionary<string, string?> Statics(params (string Name, int Priority)[] providers)
    {
        var c = IceApi.NoProbe();
        foreach (var (name, priority) in providers)
        {
            c[$"GhostChat:Ice:Providers:{name}:Type"] = "static";
            c[$"GhostChat:Ice:Providers:{name}:Priority"] = priority.ToString(System.Globalization.CultureInfo.InvariantCulture);
            c[$"GhostChat:Ice:Providers:{name}:Urls:0"] = $"turn:{name}.example.org:3478?transport=udp";
            c[$"GhostChat:Ice:Providers:{name}:Username"] = "user-" + name;
            c[$"GhostChat:Ice:Providers:{name}:Credential"] = "cred-" + name;
        }
        return c;
    }

    [Fact]
    public async Task Ordering_ByPriority_CappedAtMaxServers_ExcludeLeavesProvidersOut()
    {
        await using var server = await TestServer.StartAsync(Statics(("a", 30), ("b", 10), ("c", 20), ("d", 40)));
        var answer = await IceApi.GetAsync(server);
        Assert.Equal(["b", "c", "a"], answer.Providers);
        Assert.Equal(3, answer.Servers.GetArrayLength());
        Assert.Equal("user-b", answer.Servers[0].GetProperty("username").GetString());
        Assert.Equal("no-store", answer.Response.Headers.CacheControl!.ToString());
        Assert.Equal(JsonValueKind.Null, answer.Root.GetProperty("expiresAt").ValueKind);
        Assert.False(answer.Root.GetProperty("relayOnly").GetBoolean());
        Assert.False(answer.Root.TryGetProperty("stunProbes", out _));

        Assert.Equal(["a", "d"], (await IceApi.GetAsync(server, "?exclude=b,C")).Providers);
        Assert.Equal(["c", "d"], (await IceApi.GetAsync(server, "?exclude=a&exclude=b,,")).Providers);
        Assert.Equal(["b", "c", "a"], (await IceApi.GetAsync(server, "?exclude=unknown,")).Providers);
        Assert.Empty((await IceApi.GetAsync(server, "?exclude=a,b,c,d")).Providers);
    }

    [Fact]
    public async Task MaxServers_AndRelayOnly_AreConfigurable()
    {
        var config = Statics(("a", 1), ("b", 2));
        config["GhostChat:Ice:MaxServers"] = "1";
        config["GhostChat:Ice:RelayOnly"] = "true";
        await using var server = await TestServer.StartAsync(config);
        var answer = await IceApi.GetAsync(server);
        Assert.Equal(["a"], answer.Providers);
        Assert.True(answer.Root.GetProperty("relayOnly").GetBoolean());
    }

    [Fact]
    public async Task Health_DownLeftOut_DegradedAfterHealthy_AllDownStillAnswersLast()
    {
        await using var server = await TestServer.StartAsync(Statics(("a", 1), ("b", 2), ("c", 3)));
        var health = server.Services.GetRequiredService<IceHealth>();
        void Set(string provider, IceHealthState state) => health.Servers(provider)["x"] = new ServerHealth { State = state };

        Set("a", IceHealthState.Degraded);
        Set("c", IceHealthState.Healthy);
        Assert.Equal(["c", "b", "a"], (await IceApi.GetAsync(server)).Providers); // healthy, not probed yet, degraded
        Set("b", IceHealthState.Down);
        Assert.Equal(["c", "a"], (await IceApi.GetAsync(server)).Providers);
        Set("a", IceHealthState.Down);
        Set("c", IceHealthState.Down);
        Assert.Equal(["a", "b", "c"], (await IceApi.GetAsync(server)).Providers); // nothing else left: the down ones, by priority
    }

    [Theory]
    [InlineData("?exclude=a%00b")]
    [InlineData("?exclude=%3Cscript%3E")]
    [InlineData("?exclude=a;b")]
    [InlineData("?exclude=../etc")]
    [InlineData("?exclude=%F0%9F%98%80")]
    public async Task Exclude_Odd_Is400WithAClearError_ServerKeepsServing(string query)
    {
        await using var server = await TestServer.StartAsync(Statics(("a", 1)));
        var bad = await IceApi.GetAsync(server, query);
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.Contains("exclude must list provider names", bad.Root.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(["a"], (await IceApi.GetAsync(server)).Providers);
    }

    [Fact]
    public async Task Exclude_HugeOrTooMany_Is400()
    {
        await using var server = await TestServer.StartAsync(Statics(("a", 1)));
        var huge = await IceApi.GetAsync(server, "?exclude=" + new string('a', 5000));
        Assert.Equal(HttpStatusCode.BadRequest, huge.Status);
        Assert.Contains("longer than 1024", huge.Root.GetProperty("error").GetString(), StringComparison.Ordinal);
        var many = await IceApi.GetAsync(server, "?exclude=" + string.Join(',', Enumerable.Range(0, 40).Select(i => "p" + i)));
        Assert.Equal(HttpStatusCode.BadRequest, many.Status);
        Assert.Contains("more than 32", many.Root.GetProperty("error").GetString(), StringComparison.Ordinal);
        var repeated = await IceApi.GetAsync(server, string.Concat(Enumerable.Range(0, 300).Select(i => (i == 0 ? "?" : "&") + "exclude=abcd")));
        Assert.Equal(HttpStatusCode.BadRequest, repeated.Status);
        Assert.Equal(HttpStatusCode.OK, (await IceApi.GetAsync(server, "?exclude=")).Status);
    }

    [Fact]
    public async Task RateLimit_PerClientAddress_429WithRetryAfterAndJson()
    {
        var config = Statics(("a", 1));
        config["GhostChat:Ice:RateLimit:Burst"] = "3";
        config["GhostChat:Ice:RateLimit:PerMinute"] = "1";
        config["GhostChat:Network:TrustedProxies:0"] = "127.0.0.1";
        await using var server = await TestServer.StartAsync(config);
        void From(HttpRequestMessage r, string ip) => r.Headers.Add("X-Forwarded-For", ip);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await IceApi.GetAsync(server, "", r => From(r, "203.0.113.7"))).Status);
        }
        var limited = await IceApi.GetAsync(server, "", r => From(r, "203.0.113.7"));
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.Status);
        Assert.True(int.Parse(limited.Response.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Contains("Too many requests", limited.Root.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal("no-store", limited.Response.Headers.CacheControl!.ToString());
        // Another client is not affected; the limited one's address is not logged.
        Assert.Equal(HttpStatusCode.OK, (await IceApi.GetAsync(server, "", r => From(r, "198.51.100.9"))).Status);
        Assert.DoesNotContain("203.0.113.7", IceApi.AllLogs(server), StringComparison.Ordinal);
        Assert.Equal(1, await server.MetricAsync("ghostchat_ice_requests_total", "result=\"rate_limited\""));
    }

    [Fact]
    public async Task RestSecret_CoturnStyleCredentials_OnePerClientPerWindow_SecretAndAddressNeverInAnswerOrLogs()
    {
        const string secret = "rest-secret-value-0123456789";
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Ice:Providers:fleet:Type"] = "rest-secret",
            ["GhostChat:Ice:Providers:fleet:Urls:0"] = "turn:turn1.example.org:3478?transport=udp",
            ["GhostChat:Ice:Providers:fleet:Urls:1"] = "turns:turn1.example.org:443?transport=tcp",
            ["GhostChat:Ice:Providers:fleet:Secrets:0"] = secret,
            ["GhostChat:Ice:Providers:fleet:Secrets:1"] = "older-secret-still-accepted-by-servers",
            ["GhostChat:Ice:Providers:fleet:CredentialLifetime"] = "01:00:00",
            ["GhostChat:Network:TrustedProxies:0"] = "127.0.0.1",
        }.With(IceApi.NoProbe()), fakeTime: true);
        var now = server.Time!.GetUtcNow();
        void From(HttpRequestMessage r, string ip) => r.Headers.Add("X-Forwarded-For", ip);
        var a = await IceApi.GetAsync(server, "", r => From(r, "2001:db8:1:2::7"));
        var b = await IceApi.GetAsync(server, "", r => From(r, "2001:db8:1:2:abcd::9")); // the same /64
        var c = await IceApi.GetAsync(server, "", r => From(r, "2001:db8:1:3::7")); // another /64
        var username = a.Servers[0].GetProperty("username").GetString()!;
        Assert.True(TurnRestCredentials.TryParseUsername(username, out var expiry, out var user));
        // Valid for half the lifetime to all of it: the end of the next half-lifetime window.
        Assert.InRange(expiry, now.AddMinutes(30).ToUnixTimeSeconds() + 1, now.AddHours(1).ToUnixTimeSeconds());
        Assert.Equal(0, expiry % 1800);
        Assert.Matches("^[A-Za-z0-9_-]{20}$", user);
        Assert.Equal(TurnRestCredentials.Password(secret, username), a.Servers[0].GetProperty("credential").GetString());
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(expiry), a.Root.GetProperty("expiresAt").GetDateTimeOffset());
        // One user for one client (/64) in one window, so per-user quotas hold; another client, another user.
        Assert.Equal(username, b.Servers[0].GetProperty("username").GetString());
        Assert.NotEqual(username, c.Servers[0].GetProperty("username").GetString());
        Assert.DoesNotContain("2001:db8", a.Raw + c.Raw, StringComparison.OrdinalIgnoreCase);
        // The next window: a new user.
        server.Time.Advance(TimeSpan.FromMinutes(30));
        Assert.NotEqual(username, (await IceApi.GetAsync(server, "", r => From(r, "2001:db8:1:2::7"))).Servers[0].GetProperty("username").GetString());
        Assert.Equal(["turn:turn1.example.org:3478?transport=udp", "turns:turn1.example.org:443?transport=tcp"], a.UrlsOf(0));
        foreach (var s in new[] { secret, "older-secret-still-accepted-by-servers" })
        {
            Assert.DoesNotContain(s, a.Raw + b.Raw + c.Raw, StringComparison.Ordinal);
            Assert.DoesNotContain(s, IceApi.AllLogs(server), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Embedded_ByDefault_UrlsFromTheRequestHost_CredentialsAllocate_ProbedHealthyInReadyzAndMetrics()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Turn:Enabled"] = "true",
            ["GhostChat:Turn:UdpPort"] = "0",
            ["GhostChat:Turn:TcpPort"] = "0",
            ["GhostChat:Turn:ListenAddresses:0"] = "127.0.0.1",
            ["GhostChat:Ice:Probe:Interval"] = "00:00:00.500",
        });
        var answer = await IceApi.GetAsync(server);
        Assert.Equal(["embedded"], answer.Providers);
        var urls = answer.UrlsOf(0);
        Assert.Equal(2, urls.Length);
        Assert.Matches(@"^turn:127\.0\.0\.1:\d+\?transport=udp$", urls[0]);
        Assert.Matches(@"^turn:127\.0\.0\.1:\d+\?transport=tcp$", urls[1]);
        var username = answer.Servers[0].GetProperty("username").GetString()!;
        var credential = answer.Servers[0].GetProperty("credential").GetString()!;
        foreach (var (url, transport) in new[] { (urls[0], TurnTransport.Udp), (urls[1], TurnTransport.Tcp) })
        {
            Assert.True(IceUrl.TryParse(url, out var parsed));
            await using var client = await TurnClient.ConnectAsync(transport, new IPEndPoint(IPAddress.Loopback, parsed.Port));
            var allocation = await client.AllocateAsync(username, credential);
            Assert.True(allocation.Lifetime > TimeSpan.Zero);
        }

        await Eventually.TrueAsync(async () => await server.MetricAsync("ghostchat_ice_probes_total", "provider=\"embedded\"", "transport=\"tcp\"", "result=\"ok\"") >= 1
            && await server.MetricAsync("ghostchat_ice_probes_total", "provider=\"embedded\"", "transport=\"udp\"", "result=\"ok\"") >= 1,
            "the prober allocates on the embedded server over UDP and TCP");
        Assert.Equal(0, await server.MetricAsync("ghostchat_ice_provider_state", "provider=\"embedded\""));
        using var ready = JsonDocument.Parse(await server.Http.GetStringAsync("readyz"));
        var ice = ready.RootElement.GetProperty("checks").GetProperty("ice");
        Assert.Equal("Healthy", ice.GetProperty("status").GetString());
        Assert.Equal("healthy", ice.GetProperty("data").GetProperty("embedded").GetProperty("state").GetString());
    }

    [Fact]
    public async Task Embedded_AskingAgainAndAgain_DoesNotMultiplyTheTurnUserQuota()
    {
        // The attack: one client calls /api/ice eleven times and allocates with each answer, hoping for eleven
        // users of ten allocations each. Its credentials share one user, so the eleventh allocation is refused.
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Turn:Enabled"] = "true",
            ["GhostChat:Turn:UdpPort"] = "0",
            ["GhostChat:Turn:TcpPort"] = "-1",
            ["GhostChat:Turn:ListenAddresses:0"] = "127.0.0.1",
            ["GhostChat:Turn:MaxAllocationsPerUser"] = "10",
            ["GhostChat:Ice:RateLimit:Burst"] = "0",
        }.With(IceApi.NoProbe()));
        var clients = new List<TurnClient>();
        try
        {
            for (int i = 0; i < 11; i++)
            {
                var answer = await IceApi.GetAsync(server);
                Assert.True(IceUrl.TryParse(answer.UrlsOf(0)[0], out var url));
                var client = TurnClient.ConnectUdp(new IPEndPoint(IPAddress.Loopback, url.Port));
                clients.Add(client);
                var allocate = client.AllocateAsync(answer.Servers[0].GetProperty("username").GetString()!, answer.Servers[0].GetProperty("credential").GetString()!);
                if (i < 10)
                {
                    await allocate;
                }
                else
                {
                    Assert.Equal(486, (await Assert.ThrowsAsync<TurnException>(() => allocate)).Code);
                }
            }
            Assert.Equal(1, await server.MetricAsync("ghostchat_turn_refusals_total", "reason=\"user_quota\""));
        }
        finally
        {
            foreach (var c in clients)
            {
                await c.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Configuration_EveryProblemListed_ServerRefusesToStart()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Ice:MaxServers"] = "0",
            ["GhostChat:Ice:Providers:nokind:Priority"] = "1",
            ["GhostChat:Ice:Providers:fleet:Type"] = "rest-secret",
            ["GhostChat:Ice:Providers:fleet:Urls:0"] = "http://turn.example.org",
            ["GhostChat:Ice:Providers:fleet:Secrets:0"] = "short",
            ["GhostChat:Ice:Providers:fleet:CredentialLifetime"] = "2.00:00:00",
            ["GhostChat:Ice:Providers:tw:Type"] = "twilio",
            ["GhostChat:Ice:Providers:cf:Type"] = "cloudflare",
            ["GhostChat:Ice:Providers:cf:KeyId"] = "k",
            ["GhostChat:Ice:Providers:cf:BaseUrl"] = "ftp://x",
            ["GhostChat:Ice:Providers:m:Type"] = "metered",
            ["GhostChat:Ice:Providers:m:ApiKey"] = "k",
            ["GhostChat:Ice:Providers:m2:Type"] = "metered",
            ["GhostChat:Ice:Providers:m2:ApiKey"] = "k",
            ["GhostChat:Ice:Providers:m2:AppName"] = "my_app.example",
            ["GhostChat:Ice:Providers:off:Type"] = "cloudfare",
            ["GhostChat:Ice:Providers:off:Enabled"] = "false",
            ["GhostChat:Ice:Providers:st:Type"] = "static",
            ["GhostChat:Ice:Providers:st:Urls:0"] = "turn:t.example.org:3478",
            ["GhostChat:Ice:Providers:emb:Type"] = "embedded",
            ["GhostChat:Ice:Providers:bad name:Type"] = "static",
            ["GhostChat:Ice:Providers:bad name:Urls:0"] = "stun:s.example.org",
        }));
        var all = string.Join("\n", ex.Failures);
        foreach (var expected in new[]
        {
            "GhostChat:Ice:MaxServers must be 1–10",
            "GhostChat:Ice:Providers:nokind:Type must be one of embedded, rest-secret, static, twilio, cloudflare, metered",
            "GhostChat:Ice:Providers:fleet:Urls: 'http://turn.example.org' is not a stun:, stuns:, turn: or turns: URL",
            "GhostChat:Ice:Providers:fleet:Secrets: at least one secret, every secret at least 16 characters",
            "GhostChat:Ice:Providers:fleet:CredentialLifetime must be between 1 minute and 24 h",
            "GhostChat:Ice:Providers:tw:AccountSid is required",
            "GhostChat:Ice:Providers:tw:AuthToken is required",
            "GhostChat:Ice:Providers:cf:ApiToken is required",
            "GhostChat:Ice:Providers:cf:BaseUrl must be an absolute http(s) URL",
            "GhostChat:Ice:Providers:m: set AppName (https://APP.metered.live) or BaseUrl",
            "GhostChat:Ice:Providers:m2:AppName must be a host label (letters, digits, '-')",
            "GhostChat:Ice:Providers:off:Type must be one of embedded, rest-secret, static, twilio, cloudflare, metered (got 'cloudfare')",
            "GhostChat:Ice:Providers:st: turn: URLs need Username and Credential",
            "GhostChat:Ice:Providers:emb: Type embedded needs the embedded TURN server",
            "GhostChat:Ice:Providers:bad name: provider names are 1–40 letters",
        })
        {
            Assert.Contains(expected, all, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("turn:")]
    [InlineData("turn:host:99999")]
    [InlineData("turn:host:3478?transport=sctp")]
    [InlineData("stun:host?transport=udp")]
    [InlineData("turn://host:3478")]
    [InlineData("turns:host:443?transport=udp")]
    [InlineData("turn:[::1")]
    public void IceUrl_RefusesMalformed(string url) => Assert.False(IceUrl.TryParse(url, out _));

    [Theory]
    [InlineData("turn:h.example:3478?transport=udp", "h.example:3478/udp")]
    [InlineData("turn:h.example?transport=tcp", "h.example:3478/tcp")]
    [InlineData("turns:h.example:443?transport=tcp", "h.example:443/tls")]
    [InlineData("turns:h.example", "h.example:5349/tls")]
    [InlineData("stun:[2001:db8::1]:3479", "[2001:db8::1]:3479/udp")]
    public void IceUrl_ParsesTransportsAndDefaultPorts(string url, string key)
    {
        Assert.True(IceUrl.TryParse(url, out var parsed));
        Assert.Equal(key, parsed.Key);
    }
}
