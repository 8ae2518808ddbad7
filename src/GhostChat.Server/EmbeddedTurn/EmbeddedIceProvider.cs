using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using GhostChat.Server.Ice;
using GhostChat.Server.Ice.Providers;
using GhostChat.Turn.Auth;
using GhostChat.Turn.Server;

namespace GhostChat.Server.EmbeddedTurn;

/// <summary>
/// The TURN server embedded in this process. Browser URLs use the host name the browser reached us by
/// (or the configured <c>Urls</c>); the prober uses the sockets the server actually bound.
/// </summary>
internal sealed class EmbeddedIceProvider(string name, IceProviderOptions options, EmbeddedTurnHost turn, TimeProvider time)
    : IceProvider(name, options)
{
    private RemoteCertificateValidationCallback? _pinned;

    public override string Type => IceProviderTypes.Embedded;

    /// <summary>
    /// Our own TLS listener is probed over loopback, where its certificate's name cannot match: the prober accepts
    /// exactly the certificate the server was configured with (pinned by hash), nothing else.
    /// </summary>
    public override RemoteCertificateValidationCallback? CertificateValidation => _pinned ??= Pin(turn.Options.TlsCertificatePath);

    private static RemoteCertificateValidationCallback Pin(string? path)
    {
        var hashes = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        if (path is not null && File.Exists(path))
        {
            var certificates = new X509Certificate2Collection();
            certificates.ImportFromPemFile(path);
            foreach (var c in certificates)
            {
                hashes.Add(c.GetCertHashString(HashAlgorithmName.SHA256));
                c.Dispose();
            }
        }
        return (_, certificate, _, errors) => errors == SslPolicyErrors.None
            || (certificate is not null && hashes.Contains(certificate.GetCertHashString(HashAlgorithmName.SHA256)));
    }

    public override Task<IReadOnlyList<IceServerEntry>?> GetServersAsync(IceRequest request, CancellationToken cancellationToken)
    {
        if (turn.Server is not { } server)
        {
            return Task.FromResult<IReadOnlyList<IceServerEntry>?>(null);
        }
        List<string> urls;
        if (Options.Urls.Count > 0)
        {
            urls = Options.Urls;
        }
        else
        {
            urls = Derived(UrlHost(request.Host, server), server);
        }
        return Task.FromResult<IReadOnlyList<IceServerEntry>?>([Sign(urls, request)]);
    }

    public override Task<IReadOnlyList<IceServerEntry>?> GetProbeServersAsync(CancellationToken cancellationToken)
    {
        if (turn.Server is not { } server)
        {
            return Task.FromResult<IReadOnlyList<IceServerEntry>?>(null);
        }
        // The bound sockets, reached over loopback when they listen on every address.
        var address = server.UdpEndPoints.Concat(server.TcpEndPoints).Concat(server.TlsEndPoints).Select(e => e.Address).FirstOrDefault();
        var host = address is null || address.Equals(IPAddress.Any) ? "127.0.0.1"
            : address.Equals(IPAddress.IPv6Any) ? "[::1]"
            : address.AddressFamily == AddressFamily.InterNetworkV6 ? "[" + address + "]" : address.ToString();
        return Task.FromResult<IReadOnlyList<IceServerEntry>?>([Sign(Derived(host, server), IceRequest.Probe)]);
    }

    /// <summary>
    /// The host browsers reach the embedded server by, as a URL host: the name the request came with (the
    /// browser reached this machine by it), else the advertised address; IPv6 in brackets.
    /// </summary>
    internal static string UrlHost(string? requestHost, TurnServer server)
    {
        var host = string.IsNullOrEmpty(requestHost) ? server.AdvertisedAddress.ToString() : requestHost;
        return host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? "[" + host + "]" : host;
    }

    private static List<string> Derived(string host, TurnServer server)
    {
        var urls = new List<string>();
        if (server.UdpEndPoints.Count > 0)
        {
            urls.Add($"turn:{host}:{server.UdpEndPoints[0].Port}?transport=udp");
        }
        if (server.TcpEndPoints.Count > 0)
        {
            urls.Add($"turn:{host}:{server.TcpEndPoints[0].Port}?transport=tcp");
        }
        if (server.TlsEndPoints.Count > 0)
        {
            urls.Add($"turns:{host}:{server.TlsEndPoints[0].Port}?transport=tcp");
        }
        return urls;
    }

    private IceServerEntry Sign(List<string> urls, IceRequest request)
    {
        var lifetime = Options.CredentialLifetime < turn.Options.MaxCredentialLifetime ? Options.CredentialLifetime : turn.Options.MaxCredentialLifetime;
        var credential = RestCredential(turn.Options.Secrets[0], request, lifetime, time.GetUtcNow());
        return new IceServerEntry(urls, credential.Username, credential.Password, credential.Expires);
    }
}
