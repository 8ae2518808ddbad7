using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Signaling;

/// <summary>The single-node peer directory.</summary>
internal sealed class InMemoryPeerDirectory : IPeerDirectory
{
    private readonly IOptionsMonitor<SignalingOptions> _options;
    private readonly ConcurrentDictionary<string, PeerSession> _peers;
    private readonly ConcurrentDictionary<string, PeerSession>.AlternateLookup<ReadOnlySpan<char>> _byChars;
    private readonly Lock _gate = new();

    public InMemoryPeerDirectory(IOptionsMonitor<SignalingOptions> options)
    {
        _options = options;
        _peers = new(StringComparer.Ordinal);
        _byChars = _peers.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int Count => _peers.Count;

    public IEnumerable<PeerSession> LocalSessions => _peers.Values;

    public ValueTask<RegistrationResult> RegisterAsync(PeerSession session, CancellationToken cancellationToken)
    {
        var id = session.Id ?? throw new ArgumentException("The session has no id.", nameof(session));
        lock (_gate)
        {
            if (_peers.TryGetValue(id, out var current))
            {
                if (!TokensEqual(current.Token, session.Token))
                {
                    return ValueTask.FromResult(new RegistrationResult(RegistrationOutcome.IdTaken));
                }
                _peers[id] = session;
                return ValueTask.FromResult(new RegistrationResult(RegistrationOutcome.Reattached, current));
            }
            if (_peers.Count >= _options.CurrentValue.ConcurrentLimit)
            {
                return ValueTask.FromResult(new RegistrationResult(RegistrationOutcome.LimitReached));
            }
            _peers[id] = session;
            return ValueTask.FromResult(new RegistrationResult(RegistrationOutcome.Registered));
        }
    }

    public ValueTask<bool> UnregisterAsync(PeerSession session, CancellationToken cancellationToken)
    {
        if (session.Id is null)
        {
            return ValueTask.FromResult(false);
        }
        lock (_gate)
        {
            return ValueTask.FromResult(_peers.TryRemove(new KeyValuePair<string, PeerSession>(session.Id, session)));
        }
    }

    public PeerSession? FindLocal(string id) => _peers.TryGetValue(id, out var session) ? session : null;

    public PeerSession? FindLocal(ReadOnlySpan<byte> idUtf8) => LocalSessionLookup.Find(_byChars, idUtf8);

    public ValueTask<IReadOnlyList<string>> ListIdsAsync(CancellationToken cancellationToken)
        => ValueTask.FromResult<IReadOnlyList<string>>([.. _peers.Keys]);

    public ValueTask RefreshAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    internal static bool TokensEqual(string a, string b)
        => CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));
}
