using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using GhostChat.Server.Hosting;
using GhostChat.Server.Network;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.HostFiltering;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Signaling;

/// <summary>
/// Kestrel connection middleware: when the first request on a plain-HTTP connection is a clean
/// WebSocket upgrade to the signaling path, it answers the upgrade itself and hands the socket to
/// the broker, so an idle peer holds a connection and a WebSocket rather than a whole HTTP request
/// (about a third of the memory), and the WebSocket is a <see cref="PipeWebSocket"/> framed straight
/// over the connection's pipes. Anything else — other paths, other methods, odd or oversized
/// headers, TLS — is left untouched (nothing consumed) for Kestrel's HTTP pipeline, which stays
/// the judge of every malformed request. The fast path never answers what the pipeline would refuse:
/// a Host outside <c>AllowedHosts</c> goes to the pipeline's host filtering (400), and when plain HTTP
/// is redirected to HTTPS (<c>GhostChat:Tls:RedirectHttp</c>) every connection goes to the pipeline,
/// which redirects it (or, behind a trusted proxy that says the client used HTTPS, serves it). On a
/// TLS endpoint this middleware runs before Kestrel's TLS layer (it is added with the endpoint
/// defaults, TLS after), so it passes every connection there on untouched: a clear-text upgrade sent
/// to the HTTPS port goes to the TLS handshake, which refuses it, and is never served in clear.
/// </summary>
internal sealed class SignalingConnectionMiddleware
{
    internal const int MaxHeaderBytes = 8 * 1024;
    private static readonly TimeSpan HeaderTimeout = TimeSpan.FromSeconds(10);
    private static readonly byte[] WebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"u8.ToArray();

    private readonly SignalingBroker _broker;
    private readonly ClientAddressResolver _addresses;
    private readonly byte[] _prefix;
    private readonly bool _redirectsHttp;
    private readonly IServiceProvider _services;
    private volatile Func<string, bool> _hostAllowed;
    private volatile TlsEndpoints? _tls;

    public SignalingConnectionMiddleware(
        SignalingBroker broker,
        ClientAddressResolver addresses,
        IOptions<SignalingOptions> options,
        IOptions<TlsOptions> tls,
        IOptionsMonitor<HostFilteringOptions> hostFiltering,
        IServiceProvider services)
    {
        _services = services;
        _broker = broker;
        _addresses = addresses;
        var path = options.Value.Path.EndsWith('/') ? options.Value.Path : options.Value.Path + "/";
        _prefix = Encoding.ASCII.GetBytes("GET " + path + "peerjs");
        _redirectsHttp = tls.Value.Enabled && tls.Value.RedirectHttp;
        // Followed on reload, as the host filtering middleware does: both paths agree after a change too.
        _hostAllowed = HostRule(hostFiltering.CurrentValue);
        hostFiltering.OnChange(changed => _hostAllowed = HostRule(changed));
    }

    /// <summary>
    /// The host filtering middleware's rule (AllowedHosts; "*" or empty admits every host), applied
    /// with the framework's own matcher so both paths agree.
    /// </summary>
    private static Func<string, bool> HostRule(HostFilteringOptions options)
    {
        var patterns = new List<Microsoft.Extensions.Primitives.StringSegment>();
        foreach (var entry in options.AllowedHosts)
        {
            var host = new HostString(entry).ToUriComponent();
            if (host == "*" || host.StartsWith("*:", StringComparison.Ordinal) || host == "[::]")
            {
                return static _ => true;
            }
            patterns.Add(host);
        }
        return patterns.Count == 0 ? static _ => true : host => HostString.MatchesAny(host, patterns);
    }

    /// <summary>
    /// Whether a connection that arrived at <paramref name="local"/> (the listening endpoint) is clear
    /// text this path may read: false on an HTTPS endpoint, and until the server has started (its
    /// endpoints are all known only then; the HTTP pipeline serves the few connections before).
    /// </summary>
    internal bool PlainEndpoint(EndPoint? local)
    {
        var tls = _tls ?? TlsEndpointsOnceStarted();
        return tls is not null && !tls.Covers(local);
    }

    private TlsEndpoints? TlsEndpointsOnceStarted()
    {
        if (!_services.GetRequiredService<IHostApplicationLifetime>().ApplicationStarted.IsCancellationRequested)
        {
            return null;
        }
        var addresses = _services.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        return _tls = TlsEndpoints.From(addresses);
    }

    /// <summary>The HTTPS endpoints among the server's bound addresses (<c>https://host:port</c>), by port.</summary>
    private sealed class TlsEndpoints
    {
        private readonly HashSet<int> _ports = [];
        private bool _all; // an https address whose port could not be read: treat every endpoint as TLS

        public static TlsEndpoints From(IEnumerable<string> addresses)
        {
            var tls = new TlsEndpoints();
            foreach (var address in addresses)
            {
                if (!address.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }
                var authority = address["https://".Length..].Split('/')[0];
                var colon = authority.LastIndexOf(':');
                if (colon > 0 && !authority.EndsWith(']') && int.TryParse(authority[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port)
                    && !authority.StartsWith("unix:", StringComparison.OrdinalIgnoreCase))
                {
                    tls._ports.Add(port);
                }
                else
                {
                    tls._all = true;
                }
            }
            return tls;
        }

        public bool Covers(EndPoint? local) => _all || (local is IPEndPoint ip ? _ports.Contains(ip.Port) : _ports.Count > 0);
    }

    public async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        if (_redirectsHttp || !PlainEndpoint(connection.LocalEndPoint))
        {
            await next(connection); // only plain HTTP reaches this point: the pipeline redirects it
            return;
        }
        // The request, its header text and the timeout live in ReadUpgradeAsync's state only: an idle
        // socket keeps just the handshake's few values and the WebSocket.
        var (passOn, request) = await ReadUpgradeAsync(connection);
        if (passOn)
        {
            await next(connection);
            return;
        }
        if (request is null)
        {
            return; // aborted: no complete request headers in time, or the client left
        }
        await ServeAsync(connection.Transport, request, (connection.RemoteEndPoint as IPEndPoint)?.Address, "connection", AbortIfAborted, connection, connection.ConnectionClosed);
    }

    /// <summary>
    /// A blocked send was given up (a client that stopped reading), the protocol was broken or the
    /// client is gone: drop what is still unsent instead of letting the connection wait, with its
    /// buffers, for a client that may never read again (and hold up shutdown).
    /// </summary>
    private static readonly Action<object, bool> AbortIfAborted = static (connection, aborted) =>
    {
        if (aborted)
        {
            ((ConnectionContext)connection).Abort(new ConnectionAbortedException("The signaling WebSocket was aborted."));
        }
    };

    /// <summary>
    /// Whether a connection's first bytes are a signaling upgrade this path answers (the same rule
    /// for the signaling socket loop, <see cref="Loop.SignalingLoopTransport"/>, and for Kestrel's connections).
    /// </summary>
    internal ParseVerdict Classify(ReadOnlySequence<byte> head, out UpgradeRequest? request, out long consumed)
    {
        if (_redirectsHttp)
        {
            request = null;
            consumed = 0;
            return ParseVerdict.NotOurs;
        }
        return UpgradeRequest.TryParse(head, _prefix, MaxHeaderBytes, _hostAllowed, out request, out consumed);
    }

    /// <summary>
    /// Answers an upgrade whose request was read off <paramref name="transport"/> (101) and runs the
    /// signaling WebSocket over it to its end (<see cref="SignalingBroker.RunAsync"/>). When the socket
    /// has ended, <paramref name="ended"/> is called with <paramref name="state"/> and whether it ended
    /// aborted — the caller then drops whatever is still unsent rather than waiting for a client that
    /// may never read — and the returned task completes. Nothing here awaits while the socket is
    /// open, and <paramref name="request"/> is not kept: an idle socket holds the broker's one state
    /// machine. A 101 that cannot be written (the client went away) ends the socket as aborted.
    /// </summary>
    internal Task ServeAsync(IDuplexPipe transport, UpgradeRequest request, IPAddress? remote, string path,
        Action<object, bool> ended, object state, CancellationToken closed)
    {
        try
        {
            var handshake = new SignalingHandshake(request.QueryKey, request.QueryId, request.QueryToken, request.Origin, _addresses.Resolve(remote, request.ForwardedFor));
            var written = transport.Output.WriteAsync(SwitchingProtocols(request.Key), closed);
            if (!written.IsCompletedSuccessfully)
            {
                return ServeOnceWrittenAsync(written, transport, handshake, path, ended, state, closed);
            }
            return _broker.RunAsync(handshake, new PipeWebSocket(transport), path, closed, ended, state);
        }
#pragma warning disable CA1031 // whatever failed before the session began, the connection is closed; the error goes to the returned task
        catch (Exception ex)
#pragma warning restore CA1031
        {
            // Before the session began (the broker's part up to its first await runs here): the
            // connection is ours to end. A client that went away is no error.
            ended(state, true);
            return IsGone(ex) ? Task.CompletedTask : Task.FromException(ex);
        }
    }

    /// <summary><see cref="ServeAsync"/> when the 101 could not be written at once (a rare full send buffer).</summary>
    private async Task ServeOnceWrittenAsync(ValueTask<FlushResult> written, IDuplexPipe transport, SignalingHandshake handshake, string path,
        Action<object, bool> ended, object state, CancellationToken closed)
    {
        try
        {
            await written;
        }
#pragma warning disable CA1031 // the connection is closed whatever failed; anything but a client gone is rethrown
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ended(state, true);
            if (IsGone(ex))
            {
                return;
            }
            throw;
        }
        await _broker.RunAsync(handshake, new PipeWebSocket(transport), path, closed, ended, state);
    }

    private static bool IsGone(Exception ex) => ex is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException;

    private static byte[] SwitchingProtocols(string key)
    {
#pragma warning disable CA5350 // RFC 6455 §4.2.2 defines Sec-WebSocket-Accept with SHA-1; it is not used for security here
        var accept = Convert.ToBase64String(SHA1.HashData([.. Encoding.ASCII.GetBytes(key), .. WebSocketGuid]));
#pragma warning restore CA5350
        return Encoding.ASCII.GetBytes("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n");
    }

    /// <summary>
    /// Reads the first request's headers. A signaling upgrade is consumed and returned; anything else
    /// is left unread with <c>PassOn</c> for the HTTP pipeline; null without PassOn when the
    /// connection was aborted.
    /// </summary>
    private async ValueTask<(bool PassOn, UpgradeRequest? Request)> ReadUpgradeAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed);
        timeout.CancelAfter(HeaderTimeout);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                connection.Abort(new ConnectionAbortedException("No complete request headers in time."));
                return (false, null);
            }
            var buffer = result.Buffer;
            var verdict = Classify(buffer, out var request, out var consumed);
            if (verdict == ParseVerdict.Ours)
            {
                input.AdvanceTo(buffer.GetPosition(consumed));
                return (false, request);
            }
            if (verdict == ParseVerdict.NotOurs || result.IsCompleted)
            {
                input.AdvanceTo(buffer.Start, buffer.Start); // nothing consumed or examined: HTTP sees it all
                return (true, null);
            }
            input.AdvanceTo(buffer.Start, buffer.End); // need more bytes
        }
    }

    internal enum ParseVerdict
    {
        NeedMore,
        Ours,
        NotOurs,
    }

    /// <summary>The parts of a WebSocket upgrade request the broker uses.</summary>
    internal sealed class UpgradeRequest
    {
        public string Key { get; private init; } = "";
        public string Origin { get; private init; } = "";
        public string? ForwardedFor { get; private init; }
        public string? QueryKey { get; private init; }
        public string? QueryId { get; private init; }
        public string? QueryToken { get; private init; }

        /// <summary>
        /// Ours only for <c>GET {path}peerjs[?query] HTTP/1.1</c> with Host, Upgrade: websocket,
        /// Connection: upgrade, version 13 and a valid key, in plain ASCII headers without repeats of
        /// those fields, and a Host that <paramref name="hostAllowed"/> admits. Anything unusual is
        /// NotOurs, so Kestrel's parser (and the pipeline's host filtering) handles it.
        /// </summary>
        public static ParseVerdict TryParse(ReadOnlySequence<byte> buffer, byte[] prefix, int maxBytes, Func<string, bool> hostAllowed, out UpgradeRequest? request, out long consumed)
        {
            request = null;
            consumed = 0;
            var head = buffer.Length > maxBytes ? buffer.Slice(0, maxBytes) : buffer;
            Span<byte> start = stackalloc byte[Math.Min(prefix.Length + 1, (int)head.Length)];
            head.Slice(0, start.Length).CopyTo(start);
            if (!prefix.AsSpan(0, Math.Min(prefix.Length, start.Length)).SequenceEqual(start[..Math.Min(prefix.Length, start.Length)]))
            {
                return ParseVerdict.NotOurs;
            }
            if (start.Length > prefix.Length && start[prefix.Length] is not ((byte)'?' or (byte)' '))
            {
                return ParseVerdict.NotOurs; // e.g. /peerjs/ or /peerjsx
            }

            var reader = new SequenceReader<byte>(head);
            if (!reader.TryReadTo(out ReadOnlySequence<byte> headers, "\r\n\r\n"u8, advancePastDelimiter: true))
            {
                return buffer.Length >= maxBytes ? ParseVerdict.NotOurs : ParseVerdict.NeedMore;
            }
            consumed = reader.Consumed;

            string text;
            try
            {
                text = Encoding.ASCII.GetString(headers.ToArray());
            }
            catch (ArgumentException)
            {
                return ParseVerdict.NotOurs;
            }
            var lines = text.Split("\r\n");
            var requestLine = lines[0].Split(' ');
            if (requestLine.Length != 3 || requestLine[2] != "HTTP/1.1" || requestLine[1].Contains('#', StringComparison.Ordinal))
            {
                return ParseVerdict.NotOurs;
            }

            var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            for (var i = 1; i < lines.Length; i++)
            {
                var line = lines[i];
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon <= 0 || line[0] is ' ' or '\t' || line.Any(c => c < 0x20 && c != '\t' || c > 0x7e))
                {
                    return ParseVerdict.NotOurs; // folded, control characters, non-ASCII: let Kestrel judge
                }
                var name = line[..colon];
                if (name.Any(c => c is ' ' or '\t') || !fields.TryAdd(name, line[(colon + 1)..].Trim()))
                {
                    return ParseVerdict.NotOurs; // repeated fields: let Kestrel judge
                }
            }

            if (!fields.TryGetValue("Host", out var host) || host.Length == 0 || !hostAllowed(host)
                || !fields.TryGetValue("Upgrade", out var upgrade) || !upgrade.Equals("websocket", StringComparison.OrdinalIgnoreCase)
                || !fields.TryGetValue("Connection", out var conn) || !conn.Split(',').Any(t => t.Trim().Equals("upgrade", StringComparison.OrdinalIgnoreCase))
                || !fields.TryGetValue("Sec-WebSocket-Version", out var version) || version != "13"
                || !fields.TryGetValue("Sec-WebSocket-Key", out var key) || !IsValidKey(key)
                || fields.ContainsKey("Content-Length") || fields.ContainsKey("Transfer-Encoding"))
            {
                return ParseVerdict.NotOurs;
            }

            var target = requestLine[1];
            var q = target.IndexOf('?', StringComparison.Ordinal);
            var query = q < 0 ? null : QueryHelpers.ParseNullableQuery(target[q..]);
            request = new UpgradeRequest
            {
                Key = key,
                Origin = fields.GetValueOrDefault("Origin") ?? "",
                ForwardedFor = fields.GetValueOrDefault("X-Forwarded-For"),
                QueryKey = Last(query, "key"),
                QueryId = Last(query, "id"),
                QueryToken = Last(query, "token"),
            };
            return ParseVerdict.Ours;
        }

        private static string? Last(Dictionary<string, Microsoft.Extensions.Primitives.StringValues>? query, string name)
            => query is not null && query.TryGetValue(name, out var values) ? values.LastOrDefault() : null;

        private static bool IsValidKey(string key)
        {
            Span<byte> bytes = stackalloc byte[24];
            return Convert.TryFromBase64String(key, bytes, out var written) && written == 16;
        }
    }
}
