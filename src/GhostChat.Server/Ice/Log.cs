namespace GhostChat.Server.Ice;

/// <summary>
/// ICE service log events. None carries a secret, a credential or a client address; provider names and the
/// TURN servers' own host:port (operator configuration) are fine at any level.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(5000, LogLevel.Information, "ICE service: {Count} provider(s): {Providers}")]
    public static partial void Providers(ILogger logger, int count, string providers);

    [LoggerMessage(5001, LogLevel.Warning, "ICE provider {Provider} ({Type}) skipped: {Reason}")]
    public static partial void ProviderSkipped(ILogger logger, string provider, string type, string reason);

    [LoggerMessage(5002, LogLevel.Debug, "ICE provider {Provider} ({Type}) fetched {Count} server(s), valid for {Ttl}")]
    public static partial void ProviderFetched(ILogger logger, string provider, string type, int count, TimeSpan ttl);

    [LoggerMessage(5003, LogLevel.Information, "ICE provider {Provider} did not answer within {Budget}; answered without it")]
    public static partial void ProviderOverBudget(ILogger logger, string provider, TimeSpan budget);

    [LoggerMessage(5004, LogLevel.Information, "ICE provider {Provider}: {Server} is now {State} ({Detail})")]
    public static partial void ServerState(ILogger logger, string provider, string server, IceHealthState state, string detail);

    [LoggerMessage(5005, LogLevel.Debug, "ICE probe {Provider} {Server}: {Result}")]
    public static partial void Probe(ILogger logger, string provider, string server, string result);

    [LoggerMessage(5006, LogLevel.Debug, "ICE request refused: {Reason}")]
    public static partial void Refused(ILogger logger, string reason);

    [LoggerMessage(5007, LogLevel.Warning, "ICE prober: a round failed unexpectedly")]
    public static partial void ProbeRoundFailed(ILogger logger, Exception exception);
}
