using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using GhostChat.Turn.Client;

namespace GhostChat.Cli.Doctor;

/// <summary>
/// <c>nat:mapping</c> and <c>nat:filtering</c>: the RFC 5780 tests against a STUN server with a second address or
/// port (OTHER-ADDRESS, or the two <c>stunProbes</c> of /api/ice), classified by <see cref="NatClassifier"/>.
/// </summary>
internal sealed class NatCheck(DoctorContext run)
{
    private const string MapId = "nat:mapping", MapTitle = "NAT mapping", FilterId = "nat:filtering", FilterTitle = "NAT filtering";

    private static readonly TimeSpan FilteringWait = TimeSpan.FromSeconds(2);

    /// <summary>Where the tests send: the primary server, and its other address (when usable) and port.</summary>
    private sealed record Servers(IPEndPoint Primary, IPAddress? AlternateAddress, int AlternatePort);

    /// <summary>What the tests saw; null mapped addresses had no answer (or were not asked).</summary>
    private sealed record Seen(
        int LocalPort,
        IPEndPoint? M1,
        IPEndPoint? M2,
        IPEndPoint? M3,
        IPEndPoint? Mp,
        bool ChangeRefused,
        bool? AnsweredBoth,
        bool? AnsweredPort);

    /// <summary>The behaviour found, or null when it could not be measured (both checks are then skipped, saying why).</summary>
    public async Task<NatBehaviour?> RunAsync(List<StunResult> stun, IceAnswer? ice, CancellationToken cancellationToken)
    {
        run.Start(MapId, MapTitle);
        var servers = FindServers(stun, ice);
        if (!stun.Any(r => r.Answer is not null))
        {
            Skip("Not measured: no STUN server answered.");
            return null;
        }
        if (servers is null)
        {
            Skip("The STUN server offers no second port (RFC 5780 OTHER-ADDRESS), so the NAT's behaviour cannot be measured.",
                "GhostChat: set GhostChat:Turn:AlternatePort (operator guide, \"The STUN second port\"); "
                + "coturn: give it two IP addresses.");
            return null;
        }
        try
        {
            var seen = await MeasureAsync(servers, cancellationToken).ConfigureAwait(false);
            return Report(servers, seen);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or InvalidOperationException or ArgumentException)
        {
            Skip("Could not be measured: " + ex.Message);
            return null;
        }
    }

    private void Skip(string why, string? mappingAdvice = null)
    {
        run.Add(new DoctorCheck(MapId, "nat", MapTitle, CheckStatus.Skip, why, mappingAdvice));
        run.Start(FilterId, FilterTitle);
        run.Add(new DoctorCheck(FilterId, "nat", FilterTitle, CheckStatus.Skip, why));
    }

    private static Servers? FindServers(List<StunResult> stun, IceAnswer? ice)
    {
        var offered = stun.FirstOrDefault(r => r.Answer?.OtherAddress is not null);
        if (offered is { EndPoint: { } ep, Answer: { OtherAddress: { } other } answer })
        {
            var origin = answer.ResponseOrigin?.Address ?? ep.Address;
            // A second address is usable only when the server's own view of its address is the one we reached (not behind NAT).
            bool usable = !other.Address.Equals(origin) && !other.Address.Equals(IPAddress.Any) && !other.Address.Equals(IPAddress.IPv6Any)
                && origin.Equals(ep.Address);
            return new Servers(ep, usable ? other.Address : null, other.Port);
        }
        if (ice is not null && ice.StunProbes.Count >= 2)
        {
            var answered = stun.Where(r => r.Answer is not null && r.EndPoint is not null
                && ice.StunProbes.Any(p => p.Host == r.Url.Host && p.Port == r.Url.Port)).ToList();
            var pair = answered
                .SelectMany(a => answered.Where(b => b.EndPoint!.Address.Equals(a.EndPoint!.Address) && b.EndPoint.Port != a.EndPoint.Port)
                    .Select(b => (a, b)))
                .FirstOrDefault();
            if (pair.a is not null)
            {
                return new Servers(pair.a.EndPoint!, null, pair.b.EndPoint!.Port);
            }
        }
        return null;
    }

    private async Task<Seen> MeasureAsync(Servers servers, CancellationToken cancellationToken)
    {
        var (primary, alternateAddress, alternatePort) = servers;
        var timeout = run.Options.Timeout;
        IPEndPoint? m1, m2 = null, m3 = null, mp = null;
        int localPort;
        using (var probe = StunProbe.Open(primary.AddressFamily))
        {
            localPort = probe.LocalEndPoint.Port;
            m1 = (await probe.TryBindingAsync(primary, timeout: timeout, cancellationToken: cancellationToken)
                .ConfigureAwait(false))?.Mapped;
            if (m1 is not null && alternateAddress is not null)
            {
                m2 = (await probe.TryBindingAsync(new IPEndPoint(alternateAddress, primary.Port), timeout: timeout,
                    cancellationToken: cancellationToken).ConfigureAwait(false))?.Mapped;
                m3 = (await probe.TryBindingAsync(new IPEndPoint(alternateAddress, alternatePort), timeout: timeout,
                    cancellationToken: cancellationToken).ConfigureAwait(false))?.Mapped;
            }
            else if (m1 is not null)
            {
                mp = (await probe.TryBindingAsync(new IPEndPoint(primary.Address, alternatePort), timeout: timeout,
                    cancellationToken: cancellationToken).ConfigureAwait(false))?.Mapped;
            }
        }

        // Filtering: a fresh socket that has only ever sent to the primary, so any answer from elsewhere passed the NAT's filter.
        bool changeRefused = false;
        bool? answeredBoth = null, answeredPort = null;
        if (m1 is not null)
        {
            using var probe = StunProbe.Open(primary.AddressFamily);
            var first = await probe.TryBindingAsync(primary, timeout: timeout, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (first is not null)
            {
                try
                {
                    if (alternateAddress is not null)
                    {
                        var r = await probe.TryBindingAsync(primary, changeIp: true, changePort: true, timeout: FilteringWait,
                            cancellationToken: cancellationToken).ConfigureAwait(false);
                        changeRefused |= r is not null && r.From.Equals(primary);
                        answeredBoth = r is not null && !r.From.Equals(primary);
                    }
                    if (answeredBoth != true)
                    {
                        var r = await probe.TryBindingAsync(primary, changePort: true, timeout: FilteringWait,
                            cancellationToken: cancellationToken).ConfigureAwait(false);
                        changeRefused |= r is not null && r.From.Equals(primary);
                        answeredPort = r is not null && !r.From.Equals(primary);
                    }
                }
                catch (TurnException)
                {
                    changeRefused = true;
                }
            }
        }
        return new Seen(localPort, m1, m2, m3, mp, changeRefused, answeredBoth, answeredPort);
    }

    private NatBehaviour Report(Servers servers, Seen seen)
    {
        var (primary, alternateAddress, alternatePort) = servers;
        var observations = new NatObservations(LocalAddresses(), seen.LocalPort, seen.M1, alternateAddress is not null,
            seen.M2, seen.M3, seen.Mp, seen.ChangeRefused, seen.AnsweredBoth, seen.AnsweredPort);
        var nat = NatClassifier.Classify(observations);
        var details = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["server"] = primary.ToString(),
            ["alternate"] = new IPEndPoint(alternateAddress ?? primary.Address, alternatePort).ToString(),
        };
        void Put(string key, IPEndPoint? value)
        {
            if (value is not null)
            {
                details[key] = value.ToString();
            }
        }
        Put("mappedPrimary", seen.M1);
        Put("mappedAlternateAddress", seen.M2);
        Put("mappedAlternateBoth", seen.M3);
        Put("mappedAlternatePort", seen.Mp);
        bool dependent = nat.Mapping is NatMapping.AddressDependent or NatMapping.AddressAndPortDependent;
        var mappingStatus = nat.Mapping is NatMapping.NoNat or NatMapping.EndpointIndependent ? CheckStatus.Ok : CheckStatus.Warn;
        run.Add(new DoctorCheck(MapId, "nat", MapTitle, mappingStatus, nat.MappingVerdict, dependent ? nat.Advice : null, null, details));
        run.Start(FilterId, FilterTitle);
        var filterDetails = new Dictionary<string, string>(StringComparer.Ordinal);
        if (seen.AnsweredBoth is { } b)
        {
            filterDetails["answerFromOtherAddressAndPort"] = b ? "yes" : "no";
        }
        if (seen.AnsweredPort is { } p)
        {
            filterDetails["answerFromOtherPort"] = p ? "yes" : "no";
        }
        if (seen.ChangeRefused)
        {
            filterDetails["changeRequest"] = "refused";
        }
        var filteringStatus = nat.Filtering == NatFiltering.Unknown ? CheckStatus.Skip : CheckStatus.Ok;
        run.Add(new DoctorCheck(FilterId, "nat", FilterTitle, filteringStatus, nat.FilteringVerdict, dependent ? null : nat.Advice, null,
            filterDetails));
        return nat;
    }

    private static List<IPAddress> LocalAddresses()
    {
        try
        {
            return [.. NetworkInterface.GetAllNetworkInterfaces()
                .SelectMany(i => i.GetIPProperties().UnicastAddresses)
                .Select(u => u.Address)];
        }
        catch (NetworkInformationException)
        {
            return [];
        }
    }
}
