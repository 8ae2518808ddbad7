using Microsoft.Extensions.Options;

namespace GhostChat.Server.Signaling;

/// <summary>
/// The PeerJS-compatible signaling broker (configuration section <c>GhostChat:Signaling</c>).
/// Defaults match the reference server <c>peer@1.0.2</c> where a client could notice.
/// </summary>
public sealed class SignalingOptions
{
    public const string SectionName = "GhostChat:Signaling";

    /// <summary>Base path of the HTTP endpoints and the WebSocket (<c>{Path}peerjs</c>). Default <c>/</c>.</summary>
    public string Path { get; set; } = "/";

    /// <summary>The PeerJS API key clients must present on the WebSocket. Default <c>peerjs</c>.</summary>
    public string Key { get; set; } = "peerjs";

    /// <summary>Whether <c>GET {Path}{key}/peers</c> lists registered ids. Off by default (401).</summary>
    public bool AllowDiscovery { get; set; }

    /// <summary>How long messages for an offline peer are kept before the senders get EXPIRE. Default 5 s.</summary>
    public TimeSpan ExpireTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A socket that sends nothing (no frame of any kind) for this long is closed. Default 60 s.</summary>
    public TimeSpan AliveTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How often liveness and offline-queue expiry are checked. Default 1 s.</summary>
    public TimeSpan CleanupInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Most registered ids at once on this node. Default 5000.</summary>
    public int ConcurrentLimit { get; set; } = 5000;

    /// <summary>
    /// Origins allowed to use the broker (CORS on the HTTP endpoints, Origin check on the WebSocket).
    /// Empty (the default) allows every origin, like the reference server.
    /// </summary>
    public List<string> AllowedOrigins { get; } = [];

    /// <summary>
    /// Accept only ids this server handed out from <c>/id</c> (signed, so no state is kept) and token-bound
    /// ids (<see cref="PeerIds.TokenBoundPrefix"/>, which nobody can choose without their token). Default off.
    /// </summary>
    public bool ServerGeneratedIdsOnly { get; set; }

    /// <summary>
    /// Key (at least 32 characters) that signs server-generated ids. Empty: a random key made at start,
    /// so ids handed out before a restart are refused after it; set it when several nodes share clients.
    /// </summary>
    public string IdSigningKey { get; set; } = "";

    /// <summary>
    /// Serve WebSocket upgrades to the signaling path straight from the connection, without the HTTP
    /// pipeline (plain-HTTP listeners; a third of the memory per idle peer). Default on.
    /// </summary>
    public bool ConnectionFastPath { get; set; } = true;

    /// <summary>
    /// With <see cref="ConnectionFastPath"/>: on 64-bit Linux, accept TCP connections on our own
    /// socket loops (epoll, one per core) and serve signaling upgrades there, outside Kestrel's
    /// per-connection machinery; everything else is handed to Kestrel. Default on (the listener keeps
    /// a reserve of descriptors so a flood to the descriptor limit cannot take the process down).
    /// </summary>
    public bool SocketLoop { get; set; } = true;

    /// <summary>Abuse limits.</summary>
    public SignalingLimits Limits { get; set; } = new();
}

/// <summary>Limits of the signaling broker (<c>GhostChat:Signaling:Limits</c>).</summary>
public sealed class SignalingLimits
{
    /// <summary>Largest accepted frame in bytes; larger frames are discarded and counted as malformed. Default 64 KiB.</summary>
    public int MaxFrameBytes { get; set; } = 64 * 1024;

    /// <summary>Deepest JSON nesting accepted in a frame. Default 16.</summary>
    public int MaxJsonDepth { get; set; } = 16;

    /// <summary>Sustained frames per second per socket. Default 50.</summary>
    public double MessagesPerSecond { get; set; } = 50;

    /// <summary>Burst of frames a socket may send at once. Default 100.</summary>
    public int MessageBurst { get; set; } = 100;

    /// <summary>Frames over the rate are dropped; after this many the socket is closed (1008). Default 200.</summary>
    public int OverRateFramesBeforeClose { get; set; } = 200;

    /// <summary>Malformed frames are ignored; after this many the socket is closed (1008). Default 10.</summary>
    public int MalformedFramesBeforeClose { get; set; } = 10;

    /// <summary>Open signaling sockets per client address (IPv6: per /64). Default 64.</summary>
    public int MaxSocketsPerIp { get; set; } = 64;

    /// <summary>New signaling sockets per second per client address, sustained. Default 10.</summary>
    public double ConnectsPerSecondPerIp { get; set; } = 10;

    /// <summary>New signaling sockets a client address may open at once. Default 20.</summary>
    public int ConnectBurstPerIp { get; set; } = 20;

    /// <summary>Open signaling sockets on this node in total. Default 20000.</summary>
    public int MaxSockets { get; set; } = 20000;

    /// <summary>Messages kept for one offline peer. Default 64.</summary>
    public int MaxQueuedMessagesPerPeer { get; set; } = 64;

    /// <summary>Bytes kept for one offline peer. Default 256 KiB.</summary>
    public int MaxQueuedBytesPerPeer { get; set; } = 256 * 1024;

    /// <summary>Bytes kept for all offline peers together. Default 64 MiB.</summary>
    public long MaxQueuedBytesTotal { get; set; } = 64L * 1024 * 1024;

    /// <summary>Frames waiting to be written to one socket; a socket this far behind is closed as too slow. Default 512.</summary>
    public int MaxOutboundFramesPerSocket { get; set; } = 512;

    /// <summary>
    /// Bytes of frames waiting to be written to one socket, the one being written included; a socket
    /// this far behind (it stopped reading) is closed as too slow. At least twice
    /// <see cref="MaxFrameBytes"/>. Default 1 MiB.
    /// </summary>
    public int MaxOutboundBytesPerSocket { get; set; } = 1024 * 1024;

    /// <summary>
    /// Bytes of frames waiting to be written to all sockets of this node together; once it is used
    /// up, a socket that is behind is closed instead of queueing more (a socket that has nothing
    /// waiting still gets its frame). At least twice <see cref="MaxFrameBytes"/>. Default 64 MiB.
    /// </summary>
    public long MaxOutboundBytesTotal { get; set; } = 64L * 1024 * 1024;
}

/// <summary>Collects every configuration error so the host can refuse to start with one clear message.</summary>
internal sealed class SignalingOptionsValidator : IValidateOptions<SignalingOptions>
{
    public ValidateOptionsResult Validate(string? name, SignalingOptions o)
    {
        var errors = new List<string>();
        const string S = SignalingOptions.SectionName;
        if (string.IsNullOrEmpty(o.Path) || !o.Path.StartsWith('/') || o.Path.Contains("//", StringComparison.Ordinal) || o.Path.Contains('?') || o.Path.Contains('#'))
        {
            errors.Add($"{S}:Path must start with '/' and be a plain URL path (got '{o.Path}').");
        }
        if (string.IsNullOrEmpty(o.Key) || o.Key.Contains('/') || o.Key.Length > 64)
        {
            errors.Add($"{S}:Key must be 1-64 characters without '/' (got '{o.Key}').");
        }
        Positive(errors, $"{S}:ExpireTimeout", o.ExpireTimeout);
        Positive(errors, $"{S}:AliveTimeout", o.AliveTimeout);
        Positive(errors, $"{S}:CleanupInterval", o.CleanupInterval);
        AtLeast(errors, $"{S}:ConcurrentLimit", o.ConcurrentLimit, 1);
        foreach (var origin in o.AllowedOrigins)
        {
            if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.AbsolutePath != "/" || origin.EndsWith('/'))
            {
                errors.Add($"{S}:AllowedOrigins entries must be origins such as https://chat.example.org (got '{origin}').");
            }
        }
        if (o.IdSigningKey.Length is > 0 and < 32)
        {
            errors.Add($"{S}:IdSigningKey must be at least 32 characters, or empty for a random key.");
        }

        var l = o.Limits;
        const string L = S + ":Limits";
        AtLeast(errors, $"{L}:MaxFrameBytes", l.MaxFrameBytes, 1024);
        AtLeast(errors, $"{L}:MaxJsonDepth", l.MaxJsonDepth, 4);
        Positive(errors, $"{L}:MessagesPerSecond", l.MessagesPerSecond);
        AtLeast(errors, $"{L}:MessageBurst", l.MessageBurst, 1);
        AtLeast(errors, $"{L}:OverRateFramesBeforeClose", l.OverRateFramesBeforeClose, 1);
        AtLeast(errors, $"{L}:MalformedFramesBeforeClose", l.MalformedFramesBeforeClose, 1);
        AtLeast(errors, $"{L}:MaxSocketsPerIp", l.MaxSocketsPerIp, 1);
        Positive(errors, $"{L}:ConnectsPerSecondPerIp", l.ConnectsPerSecondPerIp);
        AtLeast(errors, $"{L}:ConnectBurstPerIp", l.ConnectBurstPerIp, 1);
        AtLeast(errors, $"{L}:MaxSockets", l.MaxSockets, 1);
        AtLeast(errors, $"{L}:MaxQueuedMessagesPerPeer", l.MaxQueuedMessagesPerPeer, 0);
        AtLeast(errors, $"{L}:MaxQueuedBytesPerPeer", l.MaxQueuedBytesPerPeer, 0);
        AtLeast(errors, $"{L}:MaxQueuedBytesTotal", l.MaxQueuedBytesTotal, 0);
        AtLeast(errors, $"{L}:MaxOutboundFramesPerSocket", l.MaxOutboundFramesPerSocket, 8);
        if (l.MaxOutboundBytesPerSocket < 2L * l.MaxFrameBytes)
        {
            errors.Add($"{L}:MaxOutboundBytesPerSocket must be at least twice {L}:MaxFrameBytes ({2L * l.MaxFrameBytes}) (got {l.MaxOutboundBytesPerSocket}).");
        }
        if (l.MaxOutboundBytesTotal < 2L * l.MaxFrameBytes)
        {
            errors.Add($"{L}:MaxOutboundBytesTotal must be at least twice {L}:MaxFrameBytes ({2L * l.MaxFrameBytes}) (got {l.MaxOutboundBytesTotal}).");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void Positive(List<string> errors, string key, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            errors.Add($"{key} must be a positive duration such as 00:00:05 (got {value}).");
        }
    }

    private static void Positive(List<string> errors, string key, double value)
    {
        if (!(value > 0))
        {
            errors.Add($"{key} must be greater than 0 (got {value}).");
        }
    }

    private static void AtLeast(List<string> errors, string key, long value, long min)
    {
        if (value < min)
        {
            errors.Add($"{key} must be at least {min} (got {value}).");
        }
    }
}
