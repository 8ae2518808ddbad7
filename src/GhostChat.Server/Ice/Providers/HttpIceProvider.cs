using System.Globalization;
using System.Net;
using System.Text.Json;
using GhostChat.Turn.Client;

namespace GhostChat.Server.Ice.Providers;

/// <summary>
/// A provider behind an HTTP API (Twilio, Cloudflare, Metered). Credentials are cached and refreshed in the
/// background once 60 % of their lifetime has passed; one fetch at a time; after an error (HTTP error, 429,
/// time-out, malformed body) the provider is skipped with one clear log line and retried after a back-off
/// (429: its Retry-After). Callers never see an exception.
/// </summary>
internal abstract class HttpIceProvider(string name, IceProviderOptions options, IHttpClientFactory http, TimeProvider time, IceMetrics metrics, ILogger logger)
    : IceProvider(name, options)
{
    /// <summary>Named HttpClient (no request logging: some APIs take their key in the query string).</summary>
    public const string HttpClientName = "GhostChat.Ice";

    /// <summary>Share of the credential lifetime after which a background refresh starts.</summary>
    public const double RefreshAt = 0.6;

    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(5);
    private readonly Lock _gate = new();
    private Cached? _cache;
    private Task<Cached?>? _inflight;
    private DateTimeOffset _notBefore = DateTimeOffset.MinValue;
    private int _failures;

    protected TimeProvider Time => time;

    /// <summary>API calls made (tests).</summary>
    public int Fetches { get; private set; }

    public override async Task<IReadOnlyList<IceServerEntry>?> GetServersAsync(IceRequest request, CancellationToken cancellationToken)
    {
        Task<Cached?>? fetch;
        Cached? cache;
        var now = time.GetUtcNow();
        lock (_gate)
        {
            cache = _cache is { } c && (c.Expires is null || now < c.Expires) ? c : null;
            if ((cache is null || now >= cache.RefreshAfter) && _inflight is null && now >= _notBefore)
            {
                _inflight = FetchAndStoreAsync();
            }
            fetch = _inflight;
        }
        if (cache is not null)
        {
            return cache.Servers; // fresh enough; a refresh (if any) runs in the background
        }
        if (fetch is null)
        {
            return null; // backing off after an error
        }
        var fetched = await fetch.WaitAsync(cancellationToken).ConfigureAwait(false);
        return fetched?.Servers;
    }

    /// <summary>Calls the API. Throws HttpRequestException / MalformedProviderResponseException / JsonException / OperationCanceledException.</summary>
    protected abstract Task<FetchedServers> FetchAsync(HttpClient client, CancellationToken cancellationToken);

    private async Task<Cached?> FetchAndStoreAsync()
    {
        await Task.Yield();
        var started = time.GetUtcNow();
        string? failure = null;
        TimeSpan? retryAfter = null;
        string result = "ok";
        try
        {
            Fetches++;
            using var timeout = new CancellationTokenSource(Options.Timeout, time);
            var client = http.CreateClient(HttpClientName);
            FetchedServers fetched;
            try
            {
                fetched = await FetchAsync(client, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                throw new TimeoutException();
            }
            if (fetched.Servers.Count == 0)
            {
                throw new MalformedProviderResponseException("the answer lists no usable server");
            }
            var ttl = fetched.Ttl ?? Options.CredentialLifetime;
            // TURN entries first: when MaxServers trims the list, relays matter more than one more STUN server.
            var cached = new Cached(
                fetched.Servers.OrderBy(s => s.Username is null ? 1 : 0).Select(s => s with { Expires = fetched.Ttl is null ? null : started + fetched.Ttl }).ToArray(),
                started + (ttl * RefreshAt),
                fetched.Ttl is null ? started + ttl : started + fetched.Ttl);
            lock (_gate)
            {
                _cache = cached;
                _failures = 0;
            }
            Log.ProviderFetched(logger, Name, Type, cached.Servers.Count, ttl);
            return cached;
        }
        catch (ProviderHttpException ex)
        {
            failure = ex.Message;
            retryAfter = ex.RetryAfter;
            result = ex.Status == HttpStatusCode.TooManyRequests ? "rate_limited" : "http_error";
        }
        catch (TimeoutException)
        {
            failure = $"no answer within {Options.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s";
            result = "timeout";
        }
        catch (HttpRequestException ex)
        {
            failure = "request failed (" + (ex.HttpRequestError.ToString()) + ")";
            result = "unreachable";
        }
        catch (Exception ex) when (ex is MalformedProviderResponseException or JsonException or InvalidOperationException or FormatException)
        {
            failure = "malformed answer: " + (ex is JsonException ? "not valid JSON" : ex.Message);
            result = "malformed";
        }
        catch (OperationCanceledException)
        {
            failure = "request cancelled";
            result = "timeout";
        }
        finally
        {
            metrics.Fetched(Name, result);
            lock (_gate)
            {
                _inflight = null;
                if (failure is not null)
                {
                    _failures++;
                    var backoff = TimeSpan.FromSeconds(Math.Min(MaxBackoff.TotalSeconds, 5 * Math.Pow(2, Math.Min(_failures - 1, 10))));
                    if (retryAfter is { } r && r > backoff)
                    {
                        backoff = r < MaxBackoff * 2 ? r : MaxBackoff * 2;
                    }
                    _notBefore = time.GetUtcNow() + backoff;
                }
            }
        }
        Log.ProviderSkipped(logger, Name, Type, failure!);
        return null;
    }

    /// <summary>Throws a <see cref="ProviderHttpException"/> for a non-success status (body not echoed: it may hold account details).</summary>
    protected static async Task EnsureSuccessAsync(HttpResponseMessage response)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }
        TimeSpan? retryAfter = response.Headers.RetryAfter switch
        {
            { Delta: { } d } => d,
            { Date: { } date } => date - DateTimeOffset.UtcNow,
            _ => null,
        };
        var code = (int)response.StatusCode;
        var meaning = code switch
        {
            401 or 403 => " (check the provider's credentials)",
            429 => " (rate limited" + (retryAfter is { } r ? $"; retry after {Math.Ceiling(r.TotalSeconds).ToString(CultureInfo.InvariantCulture)} s" : "") + ")",
            >= 500 => " (provider error)",
            _ => "",
        };
        await Task.CompletedTask.ConfigureAwait(false);
        throw new ProviderHttpException(response.StatusCode, $"HTTP {code.ToString(CultureInfo.InvariantCulture)}{meaning}", retryAfter);
    }

    /// <summary>Reads a JSON body of at most 256 KiB.</summary>
    protected static async Task<JsonDocument> ReadJsonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        if (bytes.Length > 256 * 1024)
        {
            throw new MalformedProviderResponseException("the answer is larger than 256 KiB");
        }
        return JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 16 });
    }

    /// <summary>
    /// Reads an RTCIceServer array: each element an object with <c>urls</c> (string or array of strings; older
    /// Twilio payloads: <c>url</c>), optional string <c>username</c> and <c>credential</c>. Port-53 URLs are dropped
    /// when <paramref name="dropPort53"/> (browsers block them). Any other shape throws.
    /// </summary>
    protected static List<IceServerEntry> ParseIceServers(JsonElement array, string what, bool dropPort53 = false, bool allowSingleObject = false)
    {
        List<JsonElement> items = array.ValueKind == JsonValueKind.Array ? [.. array.EnumerateArray()]
            : allowSingleObject && array.ValueKind == JsonValueKind.Object ? [array]
            : throw new MalformedProviderResponseException($"{what} is not an array");
        var servers = new List<IceServerEntry>();
        int i = 0;
        foreach (var item in items)
        {
            var at = $"{what}[{i++}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                throw new MalformedProviderResponseException($"{at} is not an object");
            }
            if (!item.TryGetProperty("urls", out var urlsElement) && !item.TryGetProperty("url", out urlsElement))
            {
                throw new MalformedProviderResponseException($"{at} has no urls");
            }
            var urls = new List<string>();
            if (urlsElement.ValueKind == JsonValueKind.String)
            {
                urls.Add(urlsElement.GetString()!);
            }
            else if (urlsElement.ValueKind == JsonValueKind.Array)
            {
                foreach (var u in urlsElement.EnumerateArray())
                {
                    urls.Add(u.ValueKind == JsonValueKind.String ? u.GetString()! : throw new MalformedProviderResponseException($"{at}.urls holds a non-string"));
                }
            }
            else
            {
                throw new MalformedProviderResponseException($"{at}.urls is not a string or an array of strings");
            }
            foreach (var u in urls)
            {
                if (!IceUrl.TryParse(u, out _))
                {
                    throw new MalformedProviderResponseException($"{at}.urls holds something that is not a stun:/turn: URL");
                }
            }
            if (dropPort53)
            {
                urls.RemoveAll(u => IceUrl.TryParse(u, out var p) && p.Port == 53);
            }
            var username = OptionalString(item, "username", at);
            var credential = OptionalString(item, "credential", at);
            if (urls.Any(u => u.StartsWith("turn", StringComparison.OrdinalIgnoreCase)) && (username is null || credential is null))
            {
                throw new MalformedProviderResponseException($"{at} is a TURN server without username and credential");
            }
            if (urls.Count > 0)
            {
                servers.Add(new IceServerEntry(urls, username, credential, null));
            }
        }
        return servers;
    }

    private static string? OptionalString(JsonElement item, string property, string at) =>
        !item.TryGetProperty(property, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString()
        : throw new MalformedProviderResponseException($"{at}.{property} is not a string");

    private sealed record Cached(IReadOnlyList<IceServerEntry> Servers, DateTimeOffset RefreshAfter, DateTimeOffset? Expires);
}
