using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Hosting;

/// <summary>
/// HTTPS served by the server itself (section <c>GhostChat:Tls</c>). Browsers give WebCrypto,
/// service workers and wake locks only to secure contexts, so anything but localhost needs HTTPS:
/// here, or from a reverse proxy in front.
/// </summary>
public sealed class TlsOptions
{
    public const string SectionName = "GhostChat:Tls";

    /// <summary>PEM file with the certificate (and its chain). Empty: no TLS here.</summary>
    public string CertificatePath { get; set; } = "";

    /// <summary>PEM file with the certificate's private key.</summary>
    public string KeyPath { get; set; } = "";

    /// <summary>The certificate as PEM text, instead of a file (e.g. from a secret store).</summary>
    public string CertificatePem { get; set; } = "";

    /// <summary>The private key as PEM text, instead of a file.</summary>
    public string KeyPem { get; set; } = "";

    /// <summary>Added to the listening URLs when TLS is on and none of them is https. Default <c>https://localhost:8443</c>.</summary>
    public string HttpsUrl { get; set; } = "https://localhost:8443";

    /// <summary>Redirect plain-HTTP requests to HTTPS when TLS is on. Default true.</summary>
    public bool RedirectHttp { get; set; } = true;

    internal bool Enabled => CertificatePath.Length > 0 || CertificatePem.Length > 0;
}

internal static class TlsSetup
{
    public static WebApplicationBuilder AddGhostChatTls(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(TlsOptions.SectionName).Get<TlsOptions>() ?? new TlsOptions();
        builder.Services.Configure<TlsOptions>(builder.Configuration.GetSection(TlsOptions.SectionName));
        if (!options.Enabled)
        {
            return builder;
        }

        var certificate = Load(options);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureHttpsDefaults(https => https.ServerCertificate = certificate));

        var urls = (builder.Configuration["urls"] ?? builder.Configuration["Urls"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (!urls.Any(u => u.StartsWith("https://", StringComparison.OrdinalIgnoreCase)))
        {
            builder.WebHost.UseUrls([.. urls, options.HttpsUrl]);
        }
        return builder;
    }

    public static IApplicationBuilder UseGhostChatTls(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<TlsOptions>>().Value;
        if (options.Enabled && options.RedirectHttp)
        {
            app.UseHttpsRedirection();
        }
        return app;
    }

    /// <summary>Loads the certificate or fails start-up with a message naming what is wrong.</summary>
    private static X509Certificate2 Load(TlsOptions o)
    {
        const string S = TlsOptions.SectionName;
        var errors = new List<string>();
        string? certPem = o.CertificatePem.Length > 0 ? o.CertificatePem : null;
        string? keyPem = o.KeyPem.Length > 0 ? o.KeyPem : null;
        if (certPem is null)
        {
            if (!File.Exists(o.CertificatePath))
            {
                errors.Add($"{S}:CertificatePath: no file at '{o.CertificatePath}'.");
            }
            else
            {
                certPem = File.ReadAllText(o.CertificatePath);
            }
        }
        if (keyPem is null)
        {
            if (o.KeyPath.Length == 0)
            {
                errors.Add($"{S}:KeyPath (or {S}:KeyPem) is required with a certificate.");
            }
            else if (!File.Exists(o.KeyPath))
            {
                errors.Add($"{S}:KeyPath: no file at '{o.KeyPath}'.");
            }
            else
            {
                keyPem = File.ReadAllText(o.KeyPath);
            }
        }

        if (errors.Count == 0)
        {
            try
            {
                using var pem = X509Certificate2.CreateFromPem(certPem, keyPem);
                // Re-import so the key is usable by the TLS stack on every platform.
                var certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
                if (certificate.NotAfter < DateTime.UtcNow)
                {
                    errors.Add($"{S}: the certificate expired on {certificate.NotAfter:yyyy-MM-dd}.");
                }
                else
                {
                    return certificate;
                }
            }
            catch (Exception ex) when (ex is CryptographicException or ArgumentException)
            {
                errors.Add($"{S}: the certificate and key could not be read as a matching PEM pair ({ex.Message}).");
            }
        }
        throw new OptionsValidationException(S, typeof(TlsOptions), errors);
    }
}
