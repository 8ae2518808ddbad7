using GhostChat.Turn.Auth;
using GhostChat.Turn.Security;
using GhostChat.Turn.Stun;

namespace GhostChat.Turn.Server;

/// <summary>
/// Long-term credentials with REST usernames (RFC 8489 §9.2.4) for every TURN method. A request that fails is
/// answered here: 401/438 challenges within the source's challenge budget, other codes as errors.
/// </summary>
internal sealed class RequestAuthenticator(TurnServerOptions options, NonceIssuer nonces, TimeProvider time, TurnMetrics metrics, StunResponder responder)
{
    private readonly ChallengeLimiter _challenges = new(options.UnauthorizedPerSecondPerSource, time);

    /// <summary>True with the request's credential; false when the request was refused (and answered, if at all).</summary>
    public bool TryAuthenticate(in TurnRequest request, out CheckedCredential credential)
    {
        int code = Authenticate(in request, out credential);
        if (code == 0)
        {
            return true;
        }
        if (code is StunError.Unauthorized or StunError.StaleNonce)
        {
            if (!_challenges.TryTake(request.Link.Remote))
            {
                metrics.Refuse(Refusal.ChallengeRate);
                return false;
            }
            responder.SendChallenge(in request, code);
        }
        else
        {
            responder.SendError(in request, code, null);
        }
        return false;
    }

    /// <summary>
    /// Returns 0 and the credential, or the error code. Requests on an existing allocation must use its username
    /// (441), are checked with its key, and are refused (401) once the username's expiry has passed: an allocation
    /// does not outlive its credential.
    /// </summary>
    private int Authenticate(in TurnRequest request, out CheckedCredential credential)
    {
        credential = default;
        var packet = request.Packet;
        ref readonly var message = ref request.Message;
        var existing = request.Allocation;
        // Step 1: no MESSAGE-INTEGRITY → 401 with REALM and NONCE.
        if (message.IntegrityOffset == 0)
        {
            return StunError.Unauthorized;
        }
        // Step 2: USERNAME, REALM and NONCE are all required with MESSAGE-INTEGRITY.
        if (!message.Username.Present || !message.Realm.Present || !message.Nonce.Present || message.Username.Length > 512)
        {
            return StunError.BadRequest;
        }
        // Step 3: a nonce we did not make, or an old one → 438 with a fresh nonce.
        if (!nonces.IsFresh(message.Nonce.Of(packet)))
        {
            return StunError.StaleNonce;
        }
        string username = StunMessage.ReadString(packet, message.Username);
        if (existing is not null && string.Equals(existing.Username, username, StringComparison.Ordinal))
        {
            if (!StunIntegrity.Verify(packet, message.IntegrityOffset, existing.Key))
            {
                return StunError.Unauthorized;
            }
            if (existing.CredentialExpiry <= time.GetUtcNow().ToUnixTimeSeconds())
            {
                metrics.Refuse(Refusal.CredentialExpired);
                return StunError.Unauthorized;
            }
            credential = existing.Credential;
            return 0;
        }
        if (existing is not null && message.Method != StunConst.Allocate)
        {
            return StunError.WrongCredentials;
        }
        // An Allocate from a 5-tuple that already holds an allocation under other credentials (a client
        // reusing a port whose old allocation is still alive) is authenticated on its own; the Allocate handler
        // then answers 437 (RFC 8656 §7.2), which clients retry from a new port. 441 would end them.
        // Step 4: REST username "expiry:user": not expired, not too far ahead.
        if (!TurnRestCredentials.TryParseUsername(username, out long expiry, out var user))
        {
            return StunError.Unauthorized;
        }
        long now = time.GetUtcNow().ToUnixTimeSeconds();
        if (expiry <= now || expiry > now + (long)options.MaxCredentialLifetime.TotalSeconds)
        {
            if (expiry <= now && message.Method != StunConst.Allocate)
            {
                // A Refresh (or permission, or channel) after the credential's expiry: its allocation has ended with it.
                metrics.Refuse(Refusal.CredentialExpired);
            }
            return StunError.Unauthorized;
        }
        // Step 5: try each active secret (rotation).
        foreach (var secret in options.Secrets)
        {
            var candidate = StunIntegrity.LongTermKey(username, options.Realm, TurnRestCredentials.Password(secret, username));
            if (StunIntegrity.Verify(packet, message.IntegrityOffset, candidate))
            {
                credential = new CheckedCredential(candidate, username, user, expiry);
                return 0;
            }
        }
        return StunError.Unauthorized;
    }
}
