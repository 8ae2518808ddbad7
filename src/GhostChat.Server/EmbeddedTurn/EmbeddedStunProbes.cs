using System.Globalization;
using GhostChat.Server.Ice;

namespace GhostChat.Server.EmbeddedTurn;

/// <summary>
/// The embedded server's two STUN ports when RFC 5780 discovery is on (<c>GhostChat:Turn:AlternatePort</c>):
/// the same address on two ports, so a browser can tell whether its NAT maps per destination (symmetric).
/// Named by the host the browser reached us by, as the embedded provider's URLs are. Null (left out) otherwise.
/// </summary>
internal sealed class EmbeddedStunProbes(EmbeddedTurnHost turn) : IStunProbeSource
{
    public IReadOnlyList<string>? StunProbes(IceRequest request)
    {
        if (turn.Server is not { AlternatePort: > 0 } server || server.UdpEndPoints.Count == 0)
        {
            return null;
        }
        var host = EmbeddedIceProvider.UrlHost(request.Host, server);
        return [
            $"stun:{host}:{server.UdpEndPoints[0].Port.ToString(CultureInfo.InvariantCulture)}",
            $"stun:{host}:{server.AlternatePort.ToString(CultureInfo.InvariantCulture)}",
        ];
    }
}
