namespace GhostChat.Turn.Server;

/// <summary>
/// A request's long-term credential once checked (RFC 8489 §9.2): the REST username, the user part of it that quotas
/// count, the key answers are signed with, and when the credential expires (Unix seconds).
/// </summary>
internal readonly record struct CheckedCredential(byte[] Key, string Username, string User, long Expiry);
