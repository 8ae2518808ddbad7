using System.Text;

namespace GhostChat.Cli.Doctor;

/// <summary>The report's one-paragraph summary: the problems first, then what works, then the NAT.</summary>
internal static class DoctorSummary
{
    public static string Write(DoctorEssentials e, List<StunResult> stun, NatBehaviour? nat, IReadOnlyList<DoctorCheck> checks)
    {
        var problems = new List<string>();
        var working = new List<string>();
        if (e.Signaling == false)
        {
            problems.Add("signaling is unreachable");
        }
        else if (e.Signaling == true)
        {
            working.Add("signaling");
        }
        if (!e.Stun)
        {
            problems.Add(stun.Count == 0 ? "there is no STUN server to test" : "no STUN server answered");
        }
        else
        {
            working.Add("STUN (public address " + stun.First(s => s.Answer is not null).Answer!.Mapped + ")");
        }
        var turnChecks = checks.Where(c => c.Group == "turn").ToList();
        var turnOk = turnChecks.Where(c => c.Status is CheckStatus.Ok or CheckStatus.Warn).Select(Transport).Distinct(StringComparer.Ordinal).ToList();
        var turnBad = turnChecks.Where(c => c.Status == CheckStatus.Fail).Select(Transport).Distinct(StringComparer.Ordinal).Except(turnOk, StringComparer.Ordinal).ToList();
        if (e.Turn == false)
        {
            problems.Add("no TURN server could allocate a relay");
        }
        else if (e.Turn == true)
        {
            working.Add("TURN over " + string.Join(", ", turnOk));
            if (turnBad.Count > 0)
            {
                problems.Add("TURN over " + string.Join(", ", turnBad) + " failed");
            }
        }
        var text = new StringBuilder();
        text.Append(problems.Count == 0
            ? "Everything essential works: " + string.Join("; ", working) + "."
            : "Problems: " + string.Join("; ", problems) + ".");
        if (problems.Count > 0 && working.Count > 0)
        {
            text.Append(" Working: ").Append(string.Join("; ", working)).Append('.');
        }
        if (nat is not null && nat.Mapping != NatMapping.Unknown)
        {
            text.Append(" NAT: ").Append(NatText.Id(nat.Mapping)).Append(" mapping");
            if (nat.Filtering != NatFiltering.Unknown)
            {
                text.Append(", ").Append(NatText.Id(nat.Filtering)).Append(" filtering");
            }
            text.Append('.');
        }
        return text.ToString();
    }

    /// <summary>UDP, TCP or TLS, from the check's id <c>turn:TRANSPORT:HOST:PORT</c>.</summary>
    private static string Transport(DoctorCheck check) => check.Id.Split(':')[1].ToUpperInvariant();
}
