using System.Net;
using System.Text;
using System.Text.Json;

namespace GhostChat.Server.Tests.Ice;

/// <summary>Twilio, Cloudflare and Metered adapters against real local HTTP servers answering the documented shapes.</summary>
public sealed class ProviderAdapterTests
{
    [Fact]
    public async Task Twilio_TtlAsString_BasicAuthAndTtlForm_MergedIntoOneTurnEntryAndOneStun()
    {
        await using var fake = await FakeProviderServer.StartAsync(ProviderShapes.Success("twilio"));
        await using var server = await TestServer.StartAsync(ProviderShapes.Config("tw", "twilio", fake.BaseUrl).With(IceApi.NoProbe()));
        var before = DateTimeOffset.UtcNow;
        var answer = await IceApi.GetAsync(server);

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal(["tw", "tw"], answer.Providers);
        Assert.Equal(["turn:global.turn.twilio.com:3478?transport=udp", "turn:global.turn.twilio.com:3478?transport=tcp", "turn:global.turn.twilio.com:443?transport=tcp"], answer.UrlsOf(0));
        Assert.Equal("tw-user", answer.Servers[0].GetProperty("username").GetString());
        Assert.Equal("tw-pass", answer.Servers[0].GetProperty("credential").GetString());
        Assert.Equal(["stun:global.stun.twilio.com:3478"], answer.UrlsOf(1));
        Assert.False(answer.Servers[1].TryGetProperty("username", out _));
        // ttl "3600" (a string) → expiresAt about an hour from now.
        var expires = answer.Root.GetProperty("expiresAt").GetDateTimeOffset();
        Assert.InRange(expires, before.AddSeconds(3590), DateTimeOffset.UtcNow.AddSeconds(3610));

        var request = Assert.Single(fake.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal($"/2010-04-01/Accounts/{ProviderShapes.TwilioSid}/Tokens.json", request.Path);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{ProviderShapes.TwilioSid}:{ProviderShapes.TwilioToken}")), request.Authorization);
        Assert.Equal("Ttl=43200", request.Body);
        AssertNoSecrets(server, answer.Raw);
    }

    [Theory]
    [InlineData(ProviderShapes.CloudflareArray)]
    [InlineData(ProviderShapes.CloudflareObject)]
    public async Task Cloudflare_ArrayOrObject_Port53Dropped_BearerAndTtl(string body)
    {
        await using var fake = await FakeProviderServer.StartAsync(FakeProviderServer.Answer(201, body));
        await using var server = await TestServer.StartAsync(ProviderShapes.Config("cf", "cloudflare", fake.BaseUrl).With(IceApi.NoProbe()));
        var answer = await IceApi.GetAsync(server);

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        var urls = Enumerable.Range(0, answer.Servers.GetArrayLength()).SelectMany(answer.UrlsOf).ToList();
        Assert.Contains("turn:turn.cloudflare.com:3478?transport=udp", urls);
        Assert.Contains("turns:turn.cloudflare.com:443?transport=tcp", urls);
        Assert.DoesNotContain(urls, u => u.EndsWith(":53", StringComparison.Ordinal) || u.Contains(":53?", StringComparison.Ordinal));
        Assert.Contains("turns:turn.cloudflare.com:443?transport=tcp", urls);
        Assert.All(answer.Providers, p => Assert.Equal("cf", p));
        Assert.Equal("cf-cred", answer.Servers[0].GetProperty("credential").GetString());

        var request = Assert.Single(fake.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal($"/v1/turn/keys/{ProviderShapes.CloudflareKeyId}/credentials/generate-ice-servers", request.Path);
        Assert.Equal("Bearer " + ProviderShapes.CloudflareToken, request.Authorization);
        Assert.Equal(43200, JsonDocument.Parse(request.Body).RootElement.GetProperty("ttl").GetInt32());
        AssertNoSecrets(server, answer.Raw);
    }

    [Fact]
    public async Task Metered_Array_ApiKeyAndRegionInQuery_NoExpiry()
    {
        await using var fake = await FakeProviderServer.StartAsync(ProviderShapes.Success("metered"));
        await using var server = await TestServer.StartAsync(ProviderShapes.Config("m", "metered", fake.BaseUrl)
            .With(new() { ["GhostChat:Ice:Providers:m:Region"] = "europe" }).With(IceApi.NoProbe()));
        var answer = await IceApi.GetAsync(server);

        Assert.Equal(["m", "m"], answer.Providers);
        Assert.Equal(4, answer.UrlsOf(0).Length);
        Assert.Equal("m-user", answer.Servers[0].GetProperty("username").GetString());
        Assert.Equal(["stun:stun.relay.metered.ca:80"], answer.UrlsOf(1));
        Assert.Equal(JsonValueKind.Null, answer.Root.GetProperty("expiresAt").ValueKind);
        var request = Assert.Single(fake.Requests);
        Assert.Equal("GET", request.Method);
        Assert.Equal("/api/v1/turn/credentials", request.Path);
        Assert.Equal($"?apiKey={ProviderShapes.MeteredKey}&region=europe", request.Query);
        AssertNoSecrets(server, answer.Raw);
    }

    public static TheoryData<string, string> Failures()
    {
        var data = new TheoryData<string, string>();
        foreach (var type in new[] { "twilio", "cloudflare", "metered" })
        {
            foreach (var kind in new[] { "401", "429", "500", "timeout", "not-json", "wrong-types", "empty", "huge" })
            {
                data.Add(type, kind);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task FailingProvider_IsSkipped_WithAClearLog_OthersStillAnswer(string type, string kind)
    {
        var wrongTypes = type switch
        {
            "twilio" => """{"ttl":"3600","ice_servers":[{"urls":42}]}""",
            "cloudflare" => """{"iceServers":"turn:turn.cloudflare.com:3478"}""",
            _ => """[{"urls":"turn:global.relay.metered.ca:80","username":5,"credential":"c"}]""",
        };
        var empty = type switch
        {
            "twilio" => """{"ttl":"3600","ice_servers":[]}""",
            "cloudflare" => """{"iceServers":[{"urls":["turn:turn.cloudflare.com:53?transport=udp"],"username":"u","credential":"c"}]}""", // only port 53
            _ => "[]",
        };
        var (respond, reason) = kind switch
        {
            "401" => (FakeProviderServer.Answer(401, """{"error":"Invalid API Key"}"""), "HTTP 401 (check the provider's credentials)"),
            "429" => (FakeProviderServer.Answer(429, """{"message":"slow down"}""", "application/json", ("Retry-After", "30")), "HTTP 429 (rate limited; retry after 30 s)"),
            "500" => (FakeProviderServer.Answer(500, "oops", "text/plain"), "HTTP 500 (provider error)"),
            "timeout" => (FakeProviderServer.Slow(TimeSpan.FromSeconds(20), ProviderShapes.Success(type)), "no answer within 1 s"),
            "not-json" => (FakeProviderServer.Answer(type == "metered" ? 200 : 201, "<html>maintenance</html>", "text/html"), "malformed answer: not valid JSON"),
            "wrong-types" => (FakeProviderServer.Answer(type == "metered" ? 200 : 201, wrongTypes), "malformed answer: "),
            "empty" => (FakeProviderServer.Answer(type == "metered" ? 200 : 201, empty), "malformed answer: the answer lists no usable server"),
            _ => (FakeProviderServer.Answer(type == "metered" ? 200 : 201, "[" + new string(' ', 300 * 1024) + "]"), "malformed answer: the answer is larger than 256 KiB"),
        };
        await using var fake = await FakeProviderServer.StartAsync(respond);
        var config = ProviderShapes.Config("ext", type, fake.BaseUrl, priority: 1).With(IceApi.Backup()).With(IceApi.NoProbe());
        config["GhostChat:Ice:Providers:ext:Timeout"] = "00:00:01";
        config["GhostChat:Ice:AnswerBudget"] = "00:00:00.300";
        await using var server = await TestServer.StartAsync(config);

        var answer = await IceApi.GetAsync(server);
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal(["backup"], answer.Providers);

        await Eventually.TrueAsync(() => Task.FromResult(server.Logs.Records.Any(r =>
            r.Level == LogLevel.Warning && r.Message.StartsWith($"ICE provider ext ({type}) skipped: {reason}", StringComparison.Ordinal))),
            $"a warning naming the provider and '{reason}'; logs:\n{IceApi.AllLogs(server)}");
        // The provider is not asked again at once (back-off), and the answer stays good.
        var again = await IceApi.GetAsync(server);
        Assert.Equal(["backup"], again.Providers);
        Assert.Single(fake.Requests);
        AssertNoSecrets(server, answer.Raw + again.Raw);
    }

    [Fact]
    public async Task Cache_ServesWithoutCalling_RefreshesAfter60PercentOfTtl_DropsAfterExpiry()
    {
        await using var fake = await FakeProviderServer.StartAsync(ProviderShapes.Success("twilio")); // ttl "3600"
        // No rate limit: the test polls /api/ice below.
        var config = ProviderShapes.Config("tw", "twilio", fake.BaseUrl).With(IceApi.Backup()).With(IceApi.NoProbe());
        config["GhostChat:Ice:RateLimit:Burst"] = "0";
        await using var server = await TestServer.StartAsync(config, fakeTime: true);
        var time = server.Time!;
        var t0 = time.GetUtcNow();

        var first = await IceApi.GetAsync(server);
        Assert.Equal(["tw", "tw", "backup"], first.Providers);
        Assert.Equal(t0.AddSeconds(3600), first.Root.GetProperty("expiresAt").GetDateTimeOffset());
        await IceApi.GetAsync(server);
        time.Advance(TimeSpan.FromMinutes(30)); // 50 %: still fresh
        await IceApi.GetAsync(server);
        Assert.Single(fake.Requests);

        time.Advance(TimeSpan.FromMinutes(7)); // 61 %: served from cache, refreshed in the background
        var during = await IceApi.GetAsync(server);
        Assert.Equal(t0.AddSeconds(3600), during.Root.GetProperty("expiresAt").GetDateTimeOffset());
        await Eventually.TrueAsync(() => Task.FromResult(fake.Requests.Count == 2), "a background refresh");
        // The fake has answered; the cache takes the new credentials a moment later (one fetch at a time,
        // so asking meanwhile starts no other).
        await Eventually.TrueAsync(async () => (await IceApi.GetAsync(server)).Root.GetProperty("expiresAt").GetDateTimeOffset() == t0.AddMinutes(37).AddSeconds(3600),
            "the refreshed credentials are handed out");
        Assert.Equal(2, fake.Requests.Count);

        // The provider breaks; once the cached credentials expire, they are no longer handed out.
        fake.Respond = FakeProviderServer.Answer(500, "down", "text/plain");
        time.Advance(TimeSpan.FromMinutes(61));
        var after = await IceApi.GetAsync(server);
        Assert.Equal(["backup"], after.Providers);
        Assert.Equal(3, fake.Requests.Count);
    }

    private static void AssertNoSecrets(TestServer server, string body)
    {
        var logs = IceApi.AllLogs(server);
        foreach (var secret in ProviderShapes.Secrets)
        {
            Assert.DoesNotContain(secret, body, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, logs, StringComparison.Ordinal);
        }
    }
}
