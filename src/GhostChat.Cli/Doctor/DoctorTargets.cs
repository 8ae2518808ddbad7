using GhostChat.Turn.Auth;
using GhostChat.Turn.Client;

namespace GhostChat.Cli.Doctor;

/// <summary>One TURN server to try, with the credentials to try it with and where they came from.</summary>
internal sealed record TurnTarget(IceUrl Url, string? Username, string? Password, CredentialSource Source, string? Provider);

/// <summary>Which servers a run checks: those /api/ice lists and those given on the command line, each once.</summary>
internal static class DoctorTargets
{
    /// <summary>
    /// The TURN URLs of /api/ice with its credentials, then <c>--turn</c> with credentials minted from <c>--secret</c>,
    /// else <c>--username</c>/<c>--password</c>, else none.
    /// </summary>
    public static List<TurnTarget> Turn(DoctorOptions options, IceAnswer? ice)
    {
        var targets = new List<TurnTarget>();
        foreach (var (url, user, credential, provider) in ice?.Servers ?? [])
        {
            if (url.IsTurn)
            {
                targets.Add(new TurnTarget(url, user, credential, CredentialSource.IceEndpoint, provider));
            }
        }
        foreach (var url in options.Turn)
        {
            if (options.Secret is { Length: > 0 } secret)
            {
                var c = TurnRestCredentials.Create(secret, "ghostchat-doctor", TimeSpan.FromHours(1), DateTimeOffset.UtcNow);
                targets.Add(new TurnTarget(url, c.Username, c.Password, CredentialSource.Secret, null));
            }
            else if (options.Username is not null && options.Password is not null)
            {
                targets.Add(new TurnTarget(url, options.Username, options.Password, CredentialSource.Static, null));
            }
            else
            {
                targets.Add(new TurnTarget(url, null, null, CredentialSource.None, null));
            }
        }
        return [.. targets.DistinctBy(t => (t.Url.ToString(), t.Username))];
    }

    /// <summary><c>--stun</c>, the STUN URLs and <c>stunProbes</c> of /api/ice, and the UDP port of each TURN server.</summary>
    public static List<IceUrl> Stun(DoctorOptions options, IceAnswer? ice, List<TurnTarget> turn)
    {
        var list = new List<IceUrl>(options.Stun);
        list.AddRange(ice?.Servers.Where(s => s.Url.Scheme is "stun" or "stuns").Select(s => s.Url) ?? []);
        list.AddRange(ice?.StunProbes ?? []);
        // TURN servers answer unauthenticated Binding on their UDP port too: check those when nothing else names them.
        list.AddRange(turn
            .Where(t => t.Url.Scheme == "turn" && t.Url.Transport == "udp")
            .Select(t => new IceUrl("stun", t.Url.Host, t.Url.Port, "udp")));
        return [.. list.DistinctBy(u => (u.Scheme, u.Host.ToLowerInvariant(), u.Port))];
    }
}
