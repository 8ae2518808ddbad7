using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using GhostChat.Cli.Doctor;

namespace GhostChat.Cli.FieldData;

/// <summary>How to reach the server: its base URL (ending in '/'), the time each exchange may take, and whether an untrusted TLS certificate is accepted.</summary>
internal sealed record FieldDataTarget(Uri Server, TimeSpan Timeout, bool Insecure);

/// <summary>
/// The operator's side of <c>/api/stats</c> and <c>/api/feedback</c>. The server decides who may read by the client's
/// address (<c>GhostChat:Ops:DetailFrom</c>) and answers everyone else 404, as if the feature were off; on a 404 (or a
/// proxy's 403) the client asks <c>GET /api/telemetry</c>, which answers whenever the feature is on, to tell the two
/// apart. Every failure becomes a <see cref="FieldDataException"/> with a plain-language message.
/// </summary>
internal sealed class FieldDataClient : IDisposable
{
    private const string StatsPath = "/api/stats", FeedbackPath = "/api/feedback", ConfigPath = "/api/telemetry";

    private readonly FieldDataTarget _target;
    private readonly HttpClient _http;

    public FieldDataClient(FieldDataTarget target)
    {
        _target = target;
        var handler = new SocketsHttpHandler { ConnectTimeout = target.Timeout, AllowAutoRedirect = true };
        if (target.Insecure)
        {
            // --insecure: the operator chose to accept a certificate this machine does not trust (as doctor's --insecure).
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, errors) => errors == System.Net.Security.SslPolicyErrors.None || target.Insecure;
        }
        _http = new HttpClient(handler) { Timeout = target.Timeout, BaseAddress = target.Server, MaxResponseContentBufferSize = 64 << 20 };
    }

    /// <summary>The figures and hourly rows of the last <paramref name="days"/> days.</summary>
    public async Task<StatsAnswer> GetStatsAsync(int days, CancellationToken cancellationToken)
    {
        var path = StatsPath + "?days=" + days.ToString(CultureInfo.InvariantCulture);
        using var response = await SendAsync(HttpMethod.Get, path, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Forbidden)
        {
            throw await OffOrElseAsync(FieldDataErrors.StatsNotAllowed(_target.Server, response.StatusCode), cancellationToken).ConfigureAwait(false);
        }
        var stats = await ReadAsync(response, StatsPath, FieldDataJsonContext.Default.StatsAnswer, cancellationToken).ConfigureAwait(false);
        return Check(stats) is { } problem ? throw FieldDataErrors.Malformed(StatsPath, problem) : stats;
    }

    /// <summary>Every feedback entry the server keeps, oldest first as the server lists them.</summary>
    public async Task<FeedbackItem[]> GetFeedbackAsync(CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, FeedbackPath, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Forbidden)
        {
            throw await OffOrElseAsync(FieldDataErrors.FeedbackNotAllowed(_target.Server, response.StatusCode), cancellationToken).ConfigureAwait(false);
        }
        var items = await ReadAsync(response, FeedbackPath, FieldDataJsonContext.Default.FeedbackItemArray, cancellationToken).ConfigureAwait(false);
        return Check(items) is { } problem ? throw FieldDataErrors.Malformed(FeedbackPath, problem) : items;
    }

    /// <summary>
    /// Deletes feedback <paramref name="id"/>. The server answers 404 alike for "no such entry", "not the operator" and
    /// "feature off", so a 404 is followed by the config and the list to say which.
    /// </summary>
    public async Task DeleteFeedbackAsync(long id, CancellationToken cancellationToken)
    {
        var path = FeedbackPath + "/" + id.ToString(CultureInfo.InvariantCulture);
        using var response = await SendAsync(HttpMethod.Delete, path, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return;
        }
        if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Forbidden)
        {
            await GetFeedbackAsync(cancellationToken).ConfigureAwait(false); // throws "off" or "not allowed"
            throw response.StatusCode == HttpStatusCode.NotFound
                ? FieldDataErrors.NoSuchFeedback(id)
                : FieldDataErrors.FeedbackNotAllowed(_target.Server, response.StatusCode);
        }
        throw FieldDataErrors.Refused(path, response.StatusCode, await ProblemAsync(response, cancellationToken).ConfigureAwait(false));
    }

    public void Dispose() => _http.Dispose();

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path.TrimStart('/'));
        request.Headers.Accept.ParseAdd("application/json");
        try
        {
            return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            var (verdict, advice) = HttpVerdicts.Explain(ex, _target.Server, _target.Timeout);
            throw FieldDataErrors.Unreachable(verdict, advice);
        }
    }

    /// <summary>"Off" when <c>/api/telemetry</c> answers 404 too; <paramref name="otherwise"/> (not allowed) when it answers.</summary>
    private async Task<FieldDataException> OffOrElseAsync(FieldDataException otherwise, CancellationToken cancellationToken)
    {
        using var probe = await SendAsync(HttpMethod.Get, ConfigPath, cancellationToken).ConfigureAwait(false);
        return probe.StatusCode == HttpStatusCode.NotFound ? FieldDataErrors.Off(_target.Server) : otherwise;
    }

    private async Task<T> ReadAsync<T>(HttpResponseMessage response, string path, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            var problem = await ProblemAsync(response, cancellationToken).ConfigureAwait(false);
            throw FieldDataErrors.Refused(path, response.StatusCode, problem,
                response.StatusCode == HttpStatusCode.BadRequest ? FieldDataExitCodes.Usage : FieldDataExitCodes.Failed);
        }
        if (!IsJson(response))
        {
            throw FieldDataErrors.NotJson(path, response.StatusCode, response.Content.Headers.ContentType?.MediaType);
        }
        try
        {
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                return await JsonSerializer.DeserializeAsync(stream, type, cancellationToken).ConfigureAwait(false)
                    ?? throw FieldDataErrors.Malformed(path, "null");
            }
        }
        catch (JsonException ex)
        {
            // The path and position say where; the message never repeats the content.
            throw FieldDataErrors.Malformed(path, $"at {ex.Path ?? "$"}, line {ex.LineNumber + 1}");
        }
        catch (HttpRequestException ex)
        {
            throw FieldDataErrors.Malformed(path, "the answer broke off: " + ex.Message);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw FieldDataErrors.Malformed(path, $"the answer did not finish within {_target.Timeout.TotalSeconds:0.#} s");
        }
    }

    private static bool IsJson(HttpResponseMessage response) =>
        response.Content.Headers.ContentType?.MediaType is { } type
        && (type.Equals("application/json", StringComparison.OrdinalIgnoreCase) || type.EndsWith("+json", StringComparison.OrdinalIgnoreCase));

    /// <summary>The server's <c>{"error": "…"}</c>, made safe for a terminal and cut short; null when the body is something else.</summary>
    private static async Task<string?> ProblemAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (!IsJson(response))
        {
            return null;
        }
        try
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            var error = JsonSerializer.Deserialize(body, FieldDataJsonContext.Default.FieldDataProblem)?.Error;
            return error is null ? null : TerminalText.Safe(error.Length > 300 ? error[..300] + "…" : error);
        }
        catch (Exception ex) when (ex is JsonException or HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    private static string? Check(StatsAnswer stats)
    {
        if (stats.To < stats.From)
        {
            return "to is before from";
        }
        var f = stats.Figures;
        if (new[] { f.Reports, f.Attempts, f.Connected, f.Sent, f.Delivered, f.GivenUp, f.Recoveries, f.Feedback }.Any(n => n < 0))
        {
            return "a negative count in figures";
        }
        if (f.Connected > f.Attempts)
        {
            return "more connected than attempts in figures";
        }
        if (new[] { f.SuccessRate, f.ConnectedWithin10s, f.DeliveryRate, f.ResumedWithin15s, f.RelayShare }.Any(r => r is { } v && !(v >= 0 && v <= 1)))
        {
            return "a rate outside 0 to 1 in figures";
        }
        for (var i = 0; i < stats.Rows.Length; i++)
        {
            var row = stats.Rows[i];
            if (row.Count < 0 || row.Metric.Length == 0 || row.Key.Length == 0 || row.Hour % 3600 != 0)
            {
                return $"rows[{i}] is not an hourly count";
            }
        }
        return null;
    }

    private static string? Check(FeedbackItem[] items)
    {
        for (var i = 0; i < items.Length; i++)
        {
            if (items[i].Id <= 0 || items[i].Hour.Minute != 0 || items[i].Hour.Second != 0)
            {
                return $"[{i}] is not a feedback entry";
            }
        }
        return items.Select(e => e.Id).Distinct().Count() == items.Length ? null : "an id twice";
    }
}
