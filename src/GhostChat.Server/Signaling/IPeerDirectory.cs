using System.Collections.Concurrent;

namespace GhostChat.Server.Signaling;

/// <summary>How a registration ended.</summary>
internal enum RegistrationOutcome
{
    /// <summary>The id was free and is now this session's.</summary>
    Registered,
    /// <summary>The id was held with the same token: this session replaces <see cref="RegistrationResult.Replaced"/>.</summary>
    Reattached,
    /// <summary>The id is held with another token.</summary>
    IdTaken,
    /// <summary>The concurrent limit is reached.</summary>
    LimitReached,
}

/// <summary>The outcome of <see cref="IPeerDirectory.RegisterAsync"/>; <see cref="Replaced"/> is set for a reattach.</summary>
internal readonly record struct RegistrationResult(RegistrationOutcome Outcome, PeerSession? Replaced = null);

/// <summary>
/// Which id belongs to which session. The in-memory implementation serves one node; a Redis one
/// (several nodes) keeps ids unique across nodes and knows which node holds each id.
/// </summary>
internal interface IPeerDirectory
{
    /// <summary>Registered ids (on this node).</summary>
    int Count { get; }

    /// <summary>Registers <paramref name="session"/> under its <see cref="PeerSession.Id"/> and token.</summary>
    ValueTask<RegistrationResult> RegisterAsync(PeerSession session, CancellationToken cancellationToken);

    /// <summary>Removes the session's id if the session still holds it; true if it did.</summary>
    ValueTask<bool> UnregisterAsync(PeerSession session, CancellationToken cancellationToken);

    /// <summary>The session holding <paramref name="id"/> on this node, if any.</summary>
    PeerSession? FindLocal(string id);

    /// <summary>
    /// As <see cref="FindLocal(string)"/> for an id given as UTF-8 (a <c>dst</c> in the receive
    /// buffer); the directories of this project look it up without making a string.
    /// </summary>
    PeerSession? FindLocal(ReadOnlySpan<byte> idUtf8) => FindLocal(System.Text.Encoding.UTF8.GetString(idUtf8));

    /// <summary>Registered ids, for discovery (<c>/peers</c>).</summary>
    ValueTask<IReadOnlyList<string>> ListIdsAsync(CancellationToken cancellationToken);

    /// <summary>Sessions registered on this node, for liveness sweeps.</summary>
    IEnumerable<PeerSession> LocalSessions { get; }

    /// <summary>Called every sweep: a shared directory refreshes the lease of live local sessions here.</summary>
    ValueTask RefreshAsync(CancellationToken cancellationToken);
}

/// <summary>Looks up a table of local sessions by an id in UTF-8, through a char-span view of it: no string made.</summary>
internal static class LocalSessionLookup
{
    public static PeerSession? Find(ConcurrentDictionary<string, PeerSession>.AlternateLookup<ReadOnlySpan<char>> sessions, ReadOnlySpan<byte> idUtf8)
    {
        // No valid id is longer than PeerIds.MaxIdLength characters (each at least one byte): such a
        // dst names nobody, and the stack copy below stays small.
        if (idUtf8.IsEmpty || idUtf8.Length > PeerIds.MaxIdLength)
        {
            return null;
        }
        Span<char> id = stackalloc char[PeerIds.MaxIdLength];
        if (System.Text.Unicode.Utf8.ToUtf16(idUtf8, id, out _, out var written, replaceInvalidSequences: false) != System.Buffers.OperationStatus.Done)
        {
            return null;
        }
        return sessions.TryGetValue(id[..written], out var session) ? session : null;
    }
}

/// <summary>
/// Shared signaling state (Redis) cannot be reached: new registrations are refused with a clear
/// reason while local sessions keep being served.
/// </summary>
internal sealed class SignalingUnavailableException : Exception
{
    public SignalingUnavailableException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}
