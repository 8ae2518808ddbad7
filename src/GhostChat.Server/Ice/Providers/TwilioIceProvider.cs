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
