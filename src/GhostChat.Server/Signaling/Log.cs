namespace GhostChat.Server.Signaling;

/// <summary>
/// Signaling log events. Information-level events carry no peer id, token, address or payload;
/// ids appear only at Debug, for operators who turn it on while investigating.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(1000, LogLevel.Information, "Signaling broker listening at {WebSocketPath} (key length {KeyLength}, discovery {Discovery}, server ids only {ServerIdsOnly})")]
    public static partial void BrokerStarted(ILogger logger, string webSocketPath, int keyLength, bool discovery, bool serverIdsOnly);

    [LoggerMessage(1001, LogLevel.Debug, "Peer {PeerId} registered")]
    public static partial void Registered(ILogger logger, string peerId);

    [LoggerMessage(1002, LogLevel.Debug, "Peer {PeerId} reattached with its token; the previous socket is closed")]
    public static partial void Reattached(ILogger logger, string peerId);

    [LoggerMessage(1003, LogLevel.Debug, "Peer {PeerId} disconnected")]
    public static partial void Disconnected(ILogger logger, string peerId);

    [LoggerMessage(1004, LogLevel.Information, "Refused a signaling socket: {Reason}")]
    public static partial void Refused(ILogger logger, string reason);

    [LoggerMessage(1005, LogLevel.Debug, "Ignored a malformed frame ({Kind}) from peer {PeerId}")]
    public static partial void MalformedFrame(ILogger logger, MalformedKind kind, string? peerId);

    [LoggerMessage(1006, LogLevel.Information, "Closed a signaling socket: {Reason}")]
    public static partial void ClosedForAbuse(ILogger logger, string reason);

    [LoggerMessage(1007, LogLevel.Debug, "Peer {PeerId} sent nothing for {Timeout}; closing its socket")]
    public static partial void AliveTimeout(ILogger logger, string peerId, TimeSpan timeout);

    [LoggerMessage(1008, LogLevel.Debug, "Signaling socket ended with an error")]
    public static partial void SocketError(ILogger logger, Exception exception);

    [LoggerMessage(1009, LogLevel.Warning, "Signaling sweep failed")]
    public static partial void SweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(1010, LogLevel.Information, "Closed a signaling socket that is too slow to receive: {Reason}")]
    public static partial void ClosedSlowConsumer(ILogger logger, string reason);

    [LoggerMessage(1020, LogLevel.Warning, "The process is out of file descriptors: the signaling listener stops accepting (new connections wait in the kernel's backlog) and gives its reserve of {Reserve} descriptors to the runtime until connections close; raise the descriptor limit (LimitNOFILE) if this is not an attack")]
    public static partial void OutOfDescriptors(ILogger logger, int reserve);

    [LoggerMessage(1021, LogLevel.Information, "The signaling listener accepts connections again: descriptors are free")]
    public static partial void DescriptorsFreeAgain(ILogger logger);
}
