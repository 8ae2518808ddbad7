using System.Net;
using System.Net.Sockets;
using GhostChat.Turn.Client;

namespace GhostChat.Cli.Doctor;

/// <summary>Small helpers the checks share: how durations and bodies read in verdicts, and name resolution.</summary>
internal static class DoctorText
{
    public static string Ms(double ms) => ms >= 1000 ? $"{ms / 1000:0.0} s" : $"{ms:0} ms";

    /// <summary>The first 80 characters of a body, on one line.</summary>
    public static string Snippet(string body)
    {
        var one = body.ReplaceLineEndings(" ").Trim();
        return one.Length <= 80 ? one : one[..80] + "…";
    }

    /// <summary>The URL's address: a literal as is, a name by DNS (IPv4 first).</summary>
    public static async Task<IPEndPoint> ResolveAsync(IceUrl url, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(url.Host, out var literal))
        {
            return new IPEndPoint(literal, url.Port);
        }
        var addresses = await Dns.GetHostAddressesAsync(url.Host, cancellationToken).ConfigureAwait(false);
        var address = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
            ?? throw new SocketException((int)SocketError.HostNotFound);
        return new IPEndPoint(address, url.Port);
    }
}
