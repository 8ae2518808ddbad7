using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using GhostChat.Cli.Doctor;
using GhostChat.Turn.Client;

namespace GhostChat.Cli.Tests;

/// <summary>The verdict logic on recorded results: NAT classification (RFC 5780 §4.3–4.4), TURN error verdicts, URL parsing.</summary>
public sealed class VerdictLogicTests
{
    private static readonly IPAddress[] Local = [IPAddress.Parse("192.168.1.20"), IPAddress.Loopback];
    private const int LocalPort = 50000;

    private static IPEndPoint Ep(string text) => IPEndPoint.Parse(text);

    private static NatObservations WithAlternateAddress(string m1, string? m2, string? m3, bool? both, bool? port, bool refused = false) =>
        new(Local, LocalPort, Ep(m1), true, m2 is null ? null : Ep(m2), m3 is null ? null : Ep(m3), null, refused, both, port);

    private static NatObservations PortOnly(string? m1, string? mp, bool? port, bool refused = false) =>
        new(Local, LocalPort, m1 is null ? null : Ep(m1), false, null, null, mp is null ? null : Ep(mp), refused, null, port);

    [Fact]
    public void SameMappingEverywhere_IsEndpointIndependent_AndFullConeFiltering()
    {
        var nat = NatClassifier.Classify(WithAlternateAddress("203.0.113.5:40000", "203.0.113.5:40000", "203.0.113.5:40000", both: true, port: null));
        Assert.Equal(NatMapping.EndpointIndependent, nat.Mapping);
        Assert.Equal(NatFiltering.EndpointIndependent, nat.Filtering);
        Assert.Contains("usually work", nat.MappingVerdict, StringComparison.Ordinal);
        Assert.Null(nat.Advice);
    }

    [Fact]
    public void NewPortPerAddress_SamePortAcrossPortsOfThatAddress_IsAddressDependent()
    {
        var nat = NatClassifier.Classify(WithAlternateAddress("203.0.113.5:40000", "203.0.113.5:40001", "203.0.113.5:40001", both: false, port: true));
        Assert.Equal(NatMapping.AddressDependent, nat.Mapping);
        Assert.Equal(NatFiltering.AddressDependent, nat.Filtering);
        Assert.NotNull(nat.Advice);
    }

    [Fact]
    public void NewPortForEveryDestination_IsSymmetric_WithTurnAdvice()
    {
        var nat = NatClassifier.Classify(WithAlternateAddress("203.0.113.5:40000", "203.0.113.5:40001", "203.0.113.5:40002", both: false, port: false));
        Assert.Equal(NatMapping.AddressAndPortDependent, nat.Mapping);
        Assert.Equal(NatFiltering.AddressAndPortDependent, nat.Filtering);
        Assert.Contains("symmetric NAT", nat.MappingVerdict, StringComparison.Ordinal);
        Assert.Contains("TURN relay", nat.Advice, StringComparison.Ordinal);
    }

    [Fact]
    public void OwnAddressAndPort_IsNoNat()
    {
        var nat = NatClassifier.Classify(PortOnly("192.168.1.20:50000", "192.168.1.20:50000", port: true));
        Assert.Equal(NatMapping.NoNat, nat.Mapping);
        // Same address, but the NAT changed the port: that is a NAT.
        Assert.Equal(NatMapping.EndpointIndependent, NatClassifier.ClassifyMapping(PortOnly("192.168.1.20:50001", "192.168.1.20:50001", port: true)));
        // IPv4-mapped spelling of our own address is still our address.
        Assert.Equal(NatMapping.NoNat, NatClassifier.ClassifyMapping(PortOnly("[::ffff:192.168.1.20]:50000", "192.168.1.20:50000", port: true)));
    }

    [Fact]
    public void PortOnly_SameMapping_IsEndpointIndependentAcrossPorts_FilteringNotPortDependent()
    {
        var nat = NatClassifier.Classify(PortOnly("198.51.100.7:61000", "198.51.100.7:61000", port: true));
        Assert.Equal(NatMapping.EndpointIndependent, nat.Mapping);
        Assert.Equal(NatFiltering.NotPortDependent, nat.Filtering);
        Assert.Contains("two ports of one server", nat.MappingVerdict, StringComparison.Ordinal);
    }

    [Fact]
    public void PortOnly_DifferentMapping_IsSymmetric_PortRestrictedFiltering()
    {
        var nat = NatClassifier.Classify(PortOnly("198.51.100.7:61000", "198.51.100.7:61007", port: false));
        Assert.Equal(NatMapping.AddressAndPortDependent, nat.Mapping);
        Assert.Equal(NatFiltering.AddressAndPortDependent, nat.Filtering);
    }

    [Fact]
    public void MissingAnswersOrRefusedChangeRequest_AreUnknown_NotGuessed()
    {
        Assert.Equal(NatMapping.Unknown, NatClassifier.ClassifyMapping(PortOnly(null, null, port: null)));
        Assert.Equal(NatMapping.Unknown, NatClassifier.ClassifyMapping(PortOnly("198.51.100.7:61000", null, port: true)));
        Assert.Equal(NatMapping.Unknown, NatClassifier.ClassifyMapping(WithAlternateAddress("203.0.113.5:40000", null, null, null, null)));
        Assert.Equal(NatMapping.Unknown, NatClassifier.ClassifyMapping(WithAlternateAddress("203.0.113.5:40000", "203.0.113.5:40001", null, null, null)));
        var refused = NatClassifier.Classify(PortOnly("198.51.100.7:61000", "198.51.100.7:61000", port: null, refused: true));
        Assert.Equal(NatFiltering.Unknown, refused.Filtering);
        Assert.Contains("refused CHANGE-REQUEST", refused.FilteringVerdict, StringComparison.Ordinal);
        Assert.Equal(NatFiltering.Unknown, NatClassifier.ClassifyFiltering(WithAlternateAddress("203.0.113.5:40000", "203.0.113.5:40000", null, both: false, port: null)));
    }

    [Theory]
    [InlineData("IceEndpoint", "REST secret differs between GhostChat and this TURN server")]
    [InlineData("Secret", "--secret is not this server's REST secret")]
    [InlineData("Static", "Wrong --username or --password")]
    [InlineData("None", "pass --secret")]
    public void Unauthorized_AdviceDependsOnWhereTheCredentialsCameFrom(string sourceName, string advice)
    {
        var source = Enum.Parse<CredentialSource>(sourceName);
        var (verdict, a) = TurnVerdicts.Explain(new TurnException(401, "401"), TurnStep.Allocate, "udp", "turn.example.org", 3478, source, false);
        Assert.Equal("Credentials refused (401).", verdict);
        Assert.Contains(advice, a, StringComparison.Ordinal);
    }

    [Fact]
    public void UdpWithoutAnswer_IsBlocked_AndSendsClientsToTcpOrTls()
    {
        var (verdict, advice) = TurnVerdicts.Explain(new TurnException(0, "no answer from the TURN server"), TurnStep.Allocate, "udp", "turn.example.org", 3478, CredentialSource.IceEndpoint, false);
        Assert.Equal("UDP 3478 on turn.example.org is blocked from here (no answer).", verdict);
        Assert.Equal("Clients will need TURN over TCP or TLS (ideally on port 443).", advice);
    }

    [Fact]
    public void TimeoutsAtEachStep_HaveTheirOwnVerdict()
    {
        var cancelled = new OperationCanceledException();
        Assert.Contains("firewall drops the connection", TurnVerdicts.Explain(cancelled, TurnStep.Connect, "tcp", "h", 443, CredentialSource.Secret, true).Verdict, StringComparison.Ordinal);
        var relay = TurnVerdicts.Explain(cancelled, TurnStep.Relay, "tls", "h", 443, CredentialSource.Secret, true);
        Assert.Contains("relayed address is not reachable", relay.Verdict, StringComparison.Ordinal);
        Assert.Contains("AdvertisedAddress", relay.Advice, StringComparison.Ordinal);
        Assert.Contains("did not answer the TURN request", TurnVerdicts.Explain(cancelled, TurnStep.Allocate, "tcp", "h", 443, CredentialSource.Secret, true).Verdict, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(486, "quota", "MaxAllocationsPerUser")]
    [InlineData(508, "no free relay port", "RelayMinPort")]
    [InlineData(437, "still holds an allocation", "Wait a minute")]
    [InlineData(442, "does not relay UDP", null)]
    [InlineData(499, "error 499", null)]
    public void TurnErrorCodes_AreExplained(int code, string verdictPart, string? advicePart)
    {
        var (verdict, advice) = TurnVerdicts.Explain(new TurnException(code, "x"), TurnStep.Allocate, "udp", "h", 3478, CredentialSource.Secret, false);
        Assert.Contains(verdictPart, verdict, StringComparison.Ordinal);
        if (advicePart is null)
        {
            Assert.Null(advice);
        }
        else
        {
            Assert.Contains(advicePart, advice, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void SocketAndTlsErrors_AreExplained()
    {
        Assert.Contains("refused the connection", TurnVerdicts.Explain(new SocketException((int)SocketError.ConnectionRefused), TurnStep.Connect, "tcp", "h", 3478, CredentialSource.Secret, false).Verdict, StringComparison.Ordinal);
        Assert.Contains("Nothing listens on UDP 3478", TurnVerdicts.Explain(new SocketException((int)SocketError.ConnectionRefused), TurnStep.Allocate, "udp", "h", 3478, CredentialSource.Secret, false).Verdict, StringComparison.Ordinal);
        Assert.Contains("does not resolve", TurnVerdicts.Explain(new SocketException((int)SocketError.HostNotFound), TurnStep.Resolve, "udp", "nowhere.invalid", 3478, CredentialSource.Secret, false).Verdict, StringComparison.Ordinal);
        var tls = TurnVerdicts.Explain(new AuthenticationException("The remote certificate is invalid"), TurnStep.Connect, "tls", "h", 443, CredentialSource.Secret, false);
        Assert.Contains("TLS handshake", tls.Verdict, StringComparison.Ordinal);
        Assert.Contains("--insecure", tls.Advice, StringComparison.Ordinal);
        var own = TurnVerdicts.Explain(new TurnException(403, "x"), TurnStep.Permission, "udp", "h", 3478, CredentialSource.Secret, false);
        Assert.Contains("refuses to relay to this machine's own address", own.Verdict, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("turn:turn.example.org", "turn", "turn.example.org", 3478, "udp", "udp")]
    [InlineData("turn:turn.example.org:443?transport=tcp", "turn", "turn.example.org", 443, "tcp", "tcp")]
    [InlineData("turns:turn.example.org?transport=tcp", "turns", "turn.example.org", 5349, "tcp", "tls")]
    [InlineData("TURNS:[2001:db8::1]:443", "turns", "2001:db8::1", 443, "tcp", "tls")]
    [InlineData("stun:stun.example.org:19302", "stun", "stun.example.org", 19302, "udp", "udp")]
    [InlineData("stun://10.0.0.1:3478", "stun", "10.0.0.1", 3478, "udp", "udp")]
    public void IceUrls_Parse(string text, string scheme, string host, int port, string transport, string clientTransport)
    {
        Assert.True(IceUrl.TryParse(text, IceUrlSyntax.Lenient, out var url, out var error), error);
        Assert.Equal((scheme, host, port, transport, clientTransport), (url.Scheme, url.Host, url.Port, url.Transport, url.ClientTransport));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("http://x", "not a stun:")]
    [InlineData("turn:", "missing or invalid host")]
    [InlineData("turn:h:0", "port must be")]
    [InlineData("turn:h:70000", "port must be")]
    [InlineData("turn:h:x", "port must be")]
    [InlineData("turn:h?transport=sctp", "transport must be")]
    [InlineData("turns:h?transport=udp", "turns: runs over TCP")]
    [InlineData("turn:2001:db8::1", "brackets")]
    [InlineData("turn:[2001:db8::1", "unclosed")]
    [InlineData("turn:a b:3478", "missing or invalid host")]
    public void BadIceUrls_SayWhatIsWrong(string text, string expected)
    {
        Assert.False(IceUrl.TryParse(text, IceUrlSyntax.Lenient, out _, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void StunOption_AcceptsHostPortWithoutScheme()
    {
        Assert.True(IceUrl.TryParse("127.0.0.1:3479", IceUrlSyntax.Lenient, out var url, out _, defaultScheme: "stun"));
        Assert.Equal(("stun", "127.0.0.1", 3479), (url.Scheme, url.Host, url.Port));
    }

    [Fact]
    public void ExitCode_FollowsTheEssentials()
    {
        Assert.True(new DoctorEssentials(true, true, true).AllOk);
        Assert.True(new DoctorEssentials(null, true, null).AllOk);
        Assert.False(new DoctorEssentials(false, true, true).AllOk);
        Assert.False(new DoctorEssentials(true, false, null).AllOk);
        Assert.False(new DoctorEssentials(true, true, false).AllOk);
    }
}
