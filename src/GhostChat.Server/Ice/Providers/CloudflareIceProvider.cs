using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace GhostChat.Server.Ice.Providers;

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
