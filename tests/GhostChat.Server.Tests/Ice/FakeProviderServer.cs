using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace GhostChat.Server.Tests.Ice;

/// <summary>One request a fake provider received.</summary>
public sealed record RecordedRequest(string Method, string Path, string Query, string? Authorization, string? ContentType, string Body);

/// <summary>
/// A real Kestrel HTTP server on 127.0.0.1 (free port) standing in for an outside provider's API (Twilio,
/// Cloudflare, Metered), answering with whatever <see cref="Respond"/> says. Every request is recorded.
/// </summary>
public sealed class FakeProviderServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeProviderServer(WebApplication app)
    {
        _app = app;
        BaseUrl = app.Urls.First().TrimEnd('/');
    }

    public string BaseUrl { get; }

    /// <summary>How to answer the next request.</summary>
    public Func<HttpContext, Task> Respond { get; set; } = ctx => Results.StatusCode(500).ExecuteAsync(ctx);

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    public static async Task<FakeProviderServer> StartAsync(Func<HttpContext, Task>? respond = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        FakeProviderServer? self = null;
        app.Run(async ctx =>
        {
            using var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            self!.Requests.Enqueue(new RecordedRequest(ctx.Request.Method, ctx.Request.Path, ctx.Request.QueryString.Value ?? "",
                ctx.Request.Headers.Authorization.FirstOrDefault(), ctx.Request.ContentType, body));
            await self.Respond(ctx);
        });
        await app.StartAsync();
        self = new FakeProviderServer(app);
        if (respond is not null)
        {
            self.Respond = respond;
        }
        return self;
    }

    /// <summary>Answers with a status and a body as-is (JSON or not).</summary>
    public static Func<HttpContext, Task> Answer(int status, string body, string contentType = "application/json", params (string Name, string Value)[] headers) => async ctx =>
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = contentType;
        foreach (var (name, value) in headers)
        {
            ctx.Response.Headers[name] = value;
        }
        await ctx.Response.WriteAsync(body);
    };

    /// <summary>Answers after <paramref name="delay"/> (or when the caller gives up).</summary>
    public static Func<HttpContext, Task> Slow(TimeSpan delay, Func<HttpContext, Task> then) => async ctx =>
    {
        try
        {
            await Task.Delay(delay, ctx.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        await then(ctx);
    };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>The providers' documented answers (reference/turn-and-ice.md §4), with test credentials.</summary>
public static class ProviderShapes
{
    public const string TwilioSid = "ACtest0000000000000000000000000000";
    public const string TwilioToken = "twilio-auth-token-SECRET-1";
    public const string CloudflareKeyId = "cf-key-id-1";
    public const string CloudflareToken = "cloudflare-api-token-SECRET-2";
    public const string MeteredKey = "metered-api-key-SECRET-3";

    public static string Twilio(string ttl = "\"3600\"") => $$"""
        {"account_sid":"{{TwilioSid}}","date_created":"Wed, 25 Nov 2026 12:00:00 +0000","date_updated":"Wed, 25 Nov 2026 12:00:00 +0000",
         "username":"tw-user","password":"tw-pass","ttl":{{ttl}},
         "ice_servers":[
           {"url":"stun:global.stun.twilio.com:3478","urls":"stun:global.stun.twilio.com:3478"},
           {"url":"turn:global.turn.twilio.com:3478?transport=udp","username":"tw-user","urls":"turn:global.turn.twilio.com:3478?transport=udp","credential":"tw-pass"},
           {"url":"turn:global.turn.twilio.com:3478?transport=tcp","username":"tw-user","urls":"turn:global.turn.twilio.com:3478?transport=tcp","credential":"tw-pass"},
           {"url":"turn:global.turn.twilio.com:443?transport=tcp","username":"tw-user","urls":"turn:global.turn.twilio.com:443?transport=tcp","credential":"tw-pass"}]}
        """;

    public const string CloudflareArray = """
        {"iceServers":[
          {"urls":["stun:stun.cloudflare.com:3478","stun:stun.cloudflare.com:53"]},
          {"urls":["turn:turn.cloudflare.com:3478?transport=udp","turn:turn.cloudflare.com:53?transport=udp","turn:turn.cloudflare.com:3478?transport=tcp",
                   "turn:turn.cloudflare.com:80?transport=tcp","turns:turn.cloudflare.com:5349?transport=tcp","turns:turn.cloudflare.com:443?transport=tcp"],
           "username":"cf-user","credential":"cf-cred"}]}
        """;

    public const string CloudflareObject = """
        {"iceServers":{"urls":["stun:stun.cloudflare.com:3478","turn:turn.cloudflare.com:3478?transport=udp","turn:turn.cloudflare.com:53?transport=udp",
          "turns:turn.cloudflare.com:443?transport=tcp"],"username":"cf-user","credential":"cf-cred"}}
        """;

    public const string Metered = """
        [{"urls":"stun:stun.relay.metered.ca:80"},
         {"urls":"turn:global.relay.metered.ca:80","username":"m-user","credential":"m-cred"},
         {"urls":"turn:global.relay.metered.ca:80?transport=tcp","username":"m-user","credential":"m-cred"},
         {"urls":"turn:global.relay.metered.ca:443","username":"m-user","credential":"m-cred"},
         {"urls":"turns:global.relay.metered.ca:443?transport=tcp","username":"m-user","credential":"m-cred"}]
        """;

    public static string[] Secrets => [TwilioToken, CloudflareToken, MeteredKey];

    /// <summary>Configuration of provider <paramref name="name"/> of <paramref name="type"/> pointed at <paramref name="baseUrl"/>.</summary>
    public static Dictionary<string, string?> Config(string name, string type, string baseUrl, int priority = 1)
    {
        var p = $"GhostChat:Ice:Providers:{name}:";
        var c = new Dictionary<string, string?> { [p + "Type"] = type, [p + "Priority"] = priority.ToString(System.Globalization.CultureInfo.InvariantCulture), [p + "BaseUrl"] = baseUrl };
        switch (type)
        {
            case "twilio":
                c[p + "AccountSid"] = TwilioSid;
                c[p + "AuthToken"] = TwilioToken;
                break;
            case "cloudflare":
                c[p + "KeyId"] = CloudflareKeyId;
                c[p + "ApiToken"] = CloudflareToken;
                break;
            case "metered":
                c[p + "ApiKey"] = MeteredKey;
                break;
        }
        return c;
    }

    /// <summary>The documented success answer of <paramref name="type"/>, with its status.</summary>
    public static Func<HttpContext, Task> Success(string type) => type switch
    {
        "twilio" => FakeProviderServer.Answer(201, Twilio()),
        "cloudflare" => FakeProviderServer.Answer(201, CloudflareArray),
        _ => FakeProviderServer.Answer(200, Metered),
    };
}
