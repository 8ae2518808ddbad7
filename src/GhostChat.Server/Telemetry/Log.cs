namespace GhostChat.Server.Telemetry;

/// <summary>Field data log events. None carries an address, a report's content or feedback text.</summary>
internal static partial class Log
{
    [LoggerMessage(7000, LogLevel.Information, "Field data: {Store}, kept {Retention}; /stats is {Access}")]
    public static partial void Started(ILogger logger, string store, TimeSpan retention, string access);

    [LoggerMessage(7001, LogLevel.Debug, "Field data refused: {Reason}")]
    public static partial void Refused(ILogger logger, string reason);

    [LoggerMessage(7002, LogLevel.Warning, "Field data store failed ({ErrorType}); the report was not counted")]
    public static partial void StoreFailed(ILogger logger, string errorType);

    [LoggerMessage(7003, LogLevel.Debug, "Field data: pruned hours before {Before:u}")]
    public static partial void Pruned(ILogger logger, DateTimeOffset before);

    [LoggerMessage(7004, LogLevel.Warning, "Field data: pruning failed ({ErrorType})")]
    public static partial void PruneFailed(ILogger logger, string errorType);
}
