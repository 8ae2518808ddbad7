namespace GhostChat.Server.Ice.Providers;

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
