namespace GhostChat.Turn.Server;

/// <summary>
/// Why an abuse limit refused a request or a connection: the <c>reason</c> tag of
/// <c>ghostchat.turn.refusals</c> and the word in the log.
/// </summary>
internal static class Refusal
{
    /// <summary>A 401/438 challenge not sent: the source's challenge budget for this second is spent.</summary>
    public const string ChallengeRate = "challenge_rate";

    /// <summary>Allocate refused 486: the REST user's quota.</summary>
    public const string UserQuota = "user_quota";

    /// <summary>Allocate refused 486: the source's (IPv4 address or IPv6 /64) quota.</summary>
    public const string SourceQuota = "source_quota";

    /// <summary>Allocate refused 486: the server's total.</summary>
    public const string TotalQuota = "total_quota";

    /// <summary>
    /// Refresh, CreatePermission or ChannelBind refused 401: its REST credential has expired (the allocation made with
    /// it ended then).
    /// </summary>
    public const string CredentialExpired = "credential_expired";

    /// <summary>TCP/TLS connection closed at accept: the server's connection cap.</summary>
    public const string ConnectionCap = "connection_cap";

    /// <summary>TCP/TLS connection closed at accept: the source's connection cap.</summary>
    public const string SourceConnectionCap = "source_connection_cap";

    /// <summary>TCP/TLS connection closed: no TLS handshake and first STUN message in time.</summary>
    public const string FirstMessageTimeout = "first_message_timeout";

    /// <summary>TCP/TLS connection without an allocation closed: no well-formed STUN message for the idle timeout.</summary>
    public const string IdleTimeout = "idle_timeout";

    /// <summary>Data for a TCP/TLS client dropped: its send queue is full.</summary>
    public const string SendQueueFull = "send_queue_full";

    /// <summary>TCP/TLS client disconnected: it did not accept a write within the write timeout.</summary>
    public const string WriteTimeout = "write_timeout";
}
