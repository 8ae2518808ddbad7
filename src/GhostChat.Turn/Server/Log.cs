using Microsoft.Extensions.Logging;

namespace GhostChat.Turn.Server;

/// <summary>Log messages of the TURN server, with stable event ids. No payloads, secrets or client addresses.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "TURN server listening: UDP {Udp}; TCP {Tcp}; TLS {Tls}; relayed address {Advertised}")]
    public static partial void Started(ILogger logger, string udp, string tcp, string tls, string advertised);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Debug, Message = "Allocation created")]
    public static partial void AllocationCreated(ILogger logger);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Debug, Message = "Allocation closed")]
    public static partial void AllocationClosed(ILogger logger);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Debug, Message = "Request refused with {Code}")]
    public static partial void Refused(ILogger logger, int code);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Debug, Message = "Stream closed: {Reason}")]
    public static partial void StreamClosed(ILogger logger, string reason);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Warning, Message = "Unexpected {ExceptionType} while handling one packet; the server goes on")]
    public static partial void HandlerFault(ILogger logger, string exceptionType, Exception exception);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Debug, Message = "Peer refused by the peer policy")]
    public static partial void PeerDenied(ILogger logger);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Information, Message = "STUN NAT behaviour discovery (RFC 5780) on: {EndPoints}")]
    public static partial void NatDiscovery(ILogger logger, string endPoints);

    [LoggerMessage(EventId = 3009, Level = LogLevel.Information, Message = "TURN abuse limit {Reason}: {Count} refused since the last report")]
    public static partial void AbuseLimit(ILogger logger, string reason, long count);
}
