using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace GhostChat.Testing;

/// <summary>Self-signed certificates for TLS tests, written as PEM files the way servers read them.</summary>
public static class TestCertificates
{
    /// <summary>
    /// A certificate for <paramref name="name"/> (CN and DNS name) and 127.0.0.1, valid from yesterday for
    /// <paramref name="days"/> days, with an ECDSA P-256 key (RSA 2048 with <paramref name="rsa"/>); the certificate and
    /// its PKCS#8 key are written to <paramref name="certPath"/> and <paramref name="keyPath"/>. The caller disposes it.
    /// </summary>
    public static X509Certificate2 WriteSelfSigned(string certPath, string keyPath, string name, int days = 7, bool rsa = false)
    {
        using AsymmetricAlgorithm key = rsa ? RSA.Create(2048) : ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = key is RSA r
            ? new CertificateRequest("CN=" + name, r, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest("CN=" + name, (ECDsa)key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(name);
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(days));
        File.WriteAllText(certPath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return certificate;
    }
}
