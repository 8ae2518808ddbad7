using System.Net.Sockets;
using System.Security.Authentication;
using GhostChat.Turn.Client;

namespace GhostChat.Cli.Doctor;

/// <summary>Where a TURN check's credentials came from: the advice for a 401 depends on it.</summary>
internal enum CredentialSource
{
    /// <summary>Short-lived credentials handed out by the GhostChat server's /api/ice.</summary>
    IceEndpoint,

    /// <summary>Minted here from <c>--secret</c> (TURN REST API).</summary>
    Secret,

    /// <summary>Given as <c>--username</c>/<c>--password</c>.</summary>
    Static,

    /// <summary>None given.</summary>
    None,
}

/// <summary>At which step a TURN check stopped.</summary>
internal enum TurnStep
{
    Resolve,
    Connect,
    Allocate,
    Permission,
    Relay,
}

/// <summary>Plain-language verdicts for TURN failures (kept apart from the network code so they can be unit-tested).</summary>
internal static class TurnVerdicts
{
    /// <summary>Verdict and advice for an exception at <paramref name="step"/>.</summary>
    public static (string Verdict, string? Advice) Explain(
        Exception error, TurnStep step, string transport, string host, int port, CredentialSource credentials, bool timedOut)
    {
        ArgumentNullException.ThrowIfNull(error);
        string where = $"{transport.ToUpperInvariant()} {port} on {host}";
        string fallback = transport == "udp"
            ? "Clients will need TURN over TCP or TLS (ideally on port 443)."
            : "Clients on strict networks need another path: TURN over TLS on port 443, or UDP where it is allowed.";
        if (timedOut || error is OperationCanceledException || error is TimeoutException
            || (error is TurnException { Code: 0 } t0 && t0.Message.StartsWith("no answer", StringComparison.Ordinal)))
        {
            return step switch
            {
                TurnStep.Connect => ($"{where} does not answer: a firewall drops the connection.", fallback),
                TurnStep.Relay => (
                    "The allocation works, but nothing came through the relay in time: the relayed address is not reachable from here.",
                    "Check the advertised relay address (GhostChat:Turn:AdvertisedAddress / coturn external-ip) and that the "
                        + "relay port range (UDP 49152–65535 by default) is open in the server's firewall."),
                _ when transport == "udp" => ($"{where} is blocked from here (no answer).", fallback),
                _ => ($"{where} accepted the connection but did not answer the TURN request in time.",
                    "Is a TURN server (and not another service) listening on that port?"),
            };
        }
        switch (error)
        {
            case SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain }:
                return ($"The name '{host}' does not resolve from here.", "Check the host name in the TURN URL and its DNS record.");
            case SocketException { SocketErrorCode: SocketError.ConnectionRefused }:
                return (transport == "udp"
                        ? $"Nothing listens on {where} (port unreachable)."
                        : $"{where} refused the connection: nothing listens there, or a firewall rejects it.",
                    transport == "udp"
                        ? "Is the TURN server running, on this port?"
                        : $"Is TURN over {transport.ToUpperInvariant()} enabled on that port? {fallback}");
            case SocketException se:
                return ($"{where}: network error ({se.SocketErrorCode}).", fallback);
            case AuthenticationException ae:
                return ($"The TLS handshake with {host}:{port} failed: {ae.Message}",
                    "Browsers refuse turns: servers whose certificate is not valid for the host name. Install a certificate "
                        + "for that name (or use --insecure to test the rest).");
            case TurnException te when te.Code == 401:
                return ("Credentials refused (401).", credentials switch
                {
                    CredentialSource.IceEndpoint => "The REST secret differs between GhostChat and this TURN server (coturn "
                        + "static-auth-secret), or the clocks differ by more than the credential lifetime.",
                    CredentialSource.Secret => "--secret is not this server's REST secret (coturn static-auth-secret), or "
                        + "the server's clock is far off.",
                    CredentialSource.Static => "Wrong --username or --password for this server.",
                    _ => "This server needs credentials: pass --secret (REST API) or --username/--password.",
                });
            case TurnException te when te.Code == 403 && step == TurnStep.Permission:
                return ("The relay works, but the server refuses to relay to this machine's own address (403): it denies "
                    + "private and loopback peers, which is the safe default.",
                    null);
            case TurnException te:
                return (te.Code switch
                {
                    400 => "The server refused the request as malformed (400).",
                    403 => "The server forbids this request (403).",
                    437 => "The server still holds an allocation for this address (437).",
                    438 => "The server keeps answering Stale Nonce (438).",
                    441 => "The server refused the credentials for this allocation (441).",
                    442 => "The server does not relay UDP for this client (442 Unsupported Transport).",
                    486 => "Allocation quota reached (486): too many allocations for this user or in total.",
                    508 => "The server has no free relay port (508 Insufficient Capacity).",
                    0 when te.Message.Contains("closed", StringComparison.Ordinal) => $"{where} closed the connection.",
                    0 => $"{where} answered, but not with STUN/TURN ({te.Message}).",
                    _ => $"The server answered with error {te.Code}.",
                }, te.Code switch
                {
                    437 => "Wait a minute and try again (the old allocation expires).",
                    438 => "Check the server's clock and nonce lifetime.",
                    486 => "Raise the quota (GhostChat:Turn:MaxAllocationsPerUser / MaxAllocations, coturn user-quota / total-quota).",
                    508 => "Widen the relay port range (GhostChat:Turn:RelayMinPort/RelayMaxPort, coturn min-port/max-port).",
                    0 when te.Message.Contains("closed", StringComparison.Ordinal) => "A proxy in front of the port, or TLS "
                        + "expected where plain TCP was sent (turns: vs turn:)?",
                    0 => "Is a TURN server (and not another service) listening on that port?",
                    _ => null,
                });
            default:
                return ($"{where}: {error.Message}", null);
        }
    }
}
