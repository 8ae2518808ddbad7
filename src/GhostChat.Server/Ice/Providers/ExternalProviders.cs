using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace GhostChat.Server.Ice.Providers;

/// <summary>
/// Twilio Network Traversal Service: <c>POST /2010-04-01/Accounts/{AccountSid}/Tokens.json</c> with HTTP Basic
/// (AccountSid or ApiKeySid : AuthToken) and form <c>Ttl</c>; 201 with <c>ice_servers</c> and <c>ttl</c> (a string).
/// </summary>
internal sealed class TwilioIceProvider(string name, IceProviderOptions options, IHttpClientFactory http, TimeProvider time, IceMetrics metrics, ILogger logger)
    : HttpIceProvider(name, options, http, time, metrics, logger)
{
    public const string DefaultBaseUrl = "https://api.twilio.com";

    public override string Type => IceProviderTypes.Twilio;

    protected override async Task<FetchedServers> FetchAsync(HttpClient client, CancellationToken cancellationToken)
    {
        var baseUrl = (Options.BaseUrl ?? DefaultBaseUrl).TrimEnd('/');
        var ttl = (long)Options.CredentialLifetime.TotalSeconds;
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{baseUrl}/2010-04-01/Accounts/{Uri.EscapeDataString(Options.AccountSid!)}/Tokens.json")
        {
            Content = new FormUrlEncodedContent([new KeyValuePair<string, string>("Ttl", ttl.ToString(CultureInfo.InvariantCulture))]),
        };
        var user = Options.ApiKeySid ?? Options.AccountSid!;
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + Options.AuthToken)));
        using var response = await client.SendAsync(request, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response).ConfigureAwait(false);
        using var json = await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false);
        var root = json.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("ice_servers", out var servers))
        {
            throw new MalformedProviderResponseException("no ice_servers in the answer");
        }
        TimeSpan? granted = null;
        if (root.TryGetProperty("ttl", out var t))
        {
            // Documented as a string ("86400"); accept a number too.
            long seconds = t.ValueKind switch
            {
                JsonValueKind.String when long.TryParse(t.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var s) => s,
                JsonValueKind.Number when t.TryGetInt64(out var n) => n,
                _ => throw new MalformedProviderResponseException("ttl is not a number of seconds"),
            };
            if (seconds <= 0)
            {
                throw new MalformedProviderResponseException("ttl is not positive");
            }
            granted = TimeSpan.FromSeconds(seconds);
        }
        return new FetchedServers(ParseIceServers(servers, "ice_servers"), granted ?? Options.CredentialLifetime);
    }
}

/// <summary>
/// Cloudflare Realtime TURN: <c>POST /v1/turn/keys/{KeyId}/credentials/generate-ice-servers</c> with a Bearer
/// token and <c>{"ttl": seconds}</c>; <c>iceServers</c> is an array (older calls: one object). Port-53 URLs are
/// dropped (browsers block that port).
/// </summary>
internal sealed class CloudflareIceProvider(string name, IceProviderOptions options, IHttpClientFactory http, TimeProvider time, IceMetrics metrics, ILogger logger)
    : HttpIceProvider(name, options, http, time, metrics, logger)
{
    public const string DefaultBaseUrl = "https://rtc.live.cloudflare.com";

    public override string Type => IceProviderTypes.Cloudflare;

    protected override async Task<FetchedServers> FetchAsync(HttpClient client, CancellationToken cancellationToken)
    {
        var baseUrl = (Options.BaseUrl ?? DefaultBaseUrl).TrimEnd('/');
        var ttl = (long)Options.CredentialLifetime.TotalSeconds;
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{baseUrl}/v1/turn/keys/{Uri.EscapeDataString(Options.KeyId!)}/credentials/generate-ice-servers")
        {
            Content = new StringContent("{\"ttl\":" + ttl.ToString(CultureInfo.InvariantCulture) + "}", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Options.ApiToken);
        using var response = await client.SendAsync(request, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response).ConfigureAwait(false);
        using var json = await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false);
        var root = json.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("iceServers", out var servers))
        {
            throw new MalformedProviderResponseException("no iceServers in the answer");
        }
        return new FetchedServers(ParseIceServers(servers, "iceServers", dropPort53: true, allowSingleObject: true), Options.CredentialLifetime);
    }
}

/// <summary>
/// Metered: <c>GET https://APP.metered.live/api/v1/turn/credentials?apiKey=…[&amp;region=…]</c> → an RTCIceServer array.
/// The credential behind the API key does not expire on its own; the answer is cached for <c>CredentialLifetime</c>.
/// </summary>
internal sealed class MeteredIceProvider(string name, IceProviderOptions options, IHttpClientFactory http, TimeProvider time, IceMetrics metrics, ILogger logger)
    : HttpIceProvider(name, options, http, time, metrics, logger)
{
    public override string Type => IceProviderTypes.Metered;

    public static string BaseUrlOf(IceProviderOptions options) => (options.BaseUrl ?? $"https://{options.AppName}.metered.live").TrimEnd('/');

    protected override async Task<FetchedServers> FetchAsync(HttpClient client, CancellationToken cancellationToken)
    {
        var url = $"{BaseUrlOf(Options)}/api/v1/turn/credentials?apiKey={Uri.EscapeDataString(Options.ApiKey!)}"
            + (string.IsNullOrEmpty(Options.Region) ? "" : "&region=" + Uri.EscapeDataString(Options.Region));
        using var response = await client.GetAsync(new Uri(url), cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response).ConfigureAwait(false);
        using var json = await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false);
        return new FetchedServers(ParseIceServers(json.RootElement, "the answer"), null);
    }
}
