using Microsoft.Extensions.Options;

namespace GhostChat.Server.Signaling.Cluster;

/// <summary>
/// Several nodes sharing signaling state through Redis (section <c>GhostChat:Redis</c>). Off unless
/// <see cref="ConnectionString"/> is set; then the peer directory, cross-node relay and offline
/// queues live in Redis and any node can serve any client.
/// </summary>
public sealed class ClusterOptions
{
    public const string SectionName = "GhostChat:Redis";

    /// <summary>StackExchange.Redis connection string, e.g. <c>redis:6379,password=…</c>. Empty: single node, in memory.</summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>Prefix of every key and channel, so several deployments can share one Redis. Default <c>ghostchat:</c>.</summary>
    public string KeyPrefix { get; set; } = "ghostchat:";

    /// <summary>This node's name in the directory. Empty: a random one at each start (recommended).</summary>
    public string NodeId { get; set; } = "";

    /// <summary>
    /// How long a directory entry outlives its last refresh. Live sessions are refreshed every third of
    /// this; a dead node's ids are free for other tokens after it (same-token reconnects are accepted at
    /// once). Default 2 minutes.
    /// </summary>
    public TimeSpan PeerLease { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Timeout of one Redis operation; past it the operation counts as failed. Default 2 s.</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(2);

    internal bool Enabled => !string.IsNullOrWhiteSpace(ConnectionString);
}

internal sealed class ClusterOptionsValidator : IValidateOptions<ClusterOptions>
{
    public ValidateOptionsResult Validate(string? name, ClusterOptions o)
    {
        var errors = new List<string>();
        const string S = ClusterOptions.SectionName;
        if (o.Enabled)
        {
            try
            {
                _ = StackExchange.Redis.ConfigurationOptions.Parse(o.ConnectionString);
            }
            catch (ArgumentException ex)
            {
                errors.Add($"{S}:ConnectionString is not a valid Redis connection string: {ex.Message}");
            }
        }
        if (string.IsNullOrEmpty(o.KeyPrefix) || o.KeyPrefix.Length > 64)
        {
            errors.Add($"{S}:KeyPrefix must be 1-64 characters.");
        }
        if (o.NodeId.Length > 64 || o.NodeId.Any(c => c is '\n' or ' '))
        {
            errors.Add($"{S}:NodeId must be at most 64 characters without spaces.");
        }
        if (o.PeerLease < TimeSpan.FromSeconds(3))
        {
            errors.Add($"{S}:PeerLease must be at least 00:00:03.");
        }
        if (o.OperationTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{S}:OperationTimeout must be positive.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
