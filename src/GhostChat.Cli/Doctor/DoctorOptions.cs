using GhostChat.Turn.Client;
namespace GhostChat.Cli.Doctor;

/// <summary>What <c>ghostchat doctor</c> checks and how long it waits.</summary>
internal sealed class DoctorOptions
{
    /// <summary>The GhostChat server (signaling and /api/ice); null checks only <see cref="Stun"/> and <see cref="Turn"/>.</summary>
    public Uri? Url { get; init; }

    /// <summary>PeerJS API key (the path segment of <c>/peerjs/id</c> and the WebSocket's <c>key</c>). Default "peerjs".</summary>
    public string Key { get; init; } = "peerjs";

    /// <summary>STUN servers given on the command line.</summary>
    public IReadOnlyList<IceUrl> Stun { get; init; } = [];

    /// <summary>TURN servers given on the command line.</summary>
    public IReadOnlyList<IceUrl> Turn { get; init; } = [];

    /// <summary>TURN REST API secret to mint credentials for <see cref="Turn"/>.</summary>
    public string? Secret { get; init; }

    /// <summary>Static TURN username for <see cref="Turn"/>.</summary>
    public string? Username { get; init; }

    /// <summary>Static TURN password for <see cref="Turn"/>.</summary>
    public string? Password { get; init; }

    /// <summary>How long each network exchange may take. Default 5 s.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Accept TLS certificates this machine does not trust (reported as a warning).</summary>
    public bool Insecure { get; init; }
}
