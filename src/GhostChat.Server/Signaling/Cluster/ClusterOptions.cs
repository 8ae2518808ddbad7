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

    /// <summary>
    /// The secret every node of the cluster shares (32+ characters, e.g. <c>openssl rand -hex 32</c>).
    /// Nodes authenticate every message they publish to each other with it, and Redis holds PeerJS
    /// tokens only as keyed hashes made with it. Required when <see cref="ConnectionString"/> is set:
    /// without it the node refuses to start. Set this or <see cref="ClusterKeyFile"/>, not both.
    /// </summary>
    public string ClusterKey { get; set; } = "";

    /// <summary>A file holding <see cref="ClusterKey"/> (e.g. a container secret under <c>/run/secrets</c>); surrounding whitespace is ignored.</summary>
    public string ClusterKeyFile { get; set; } = "";

    internal const int MinClusterKeyLength = 32;

    internal bool Enabled => !string.IsNullOrWhiteSpace(ConnectionString);

    /// <summary>The cluster key from <see cref="ClusterKey"/> or <see cref="ClusterKeyFile"/>; null with <paramref name="error"/> when there is no usable one.</summary>
    internal string? ResolveClusterKey(out string? error)
    {
        const string S = SectionName;
        error = null;
        var key = ClusterKey;
        if (ClusterKeyFile.Length > 0)
        {
            if (key.Length > 0)
            {
                error = $"{S}:ClusterKey and {S}:ClusterKeyFile are both set; set one.";
                return null;
            }
            try
            {
                key = File.ReadAllText(ClusterKeyFile).Trim();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                error = $"{S}:ClusterKeyFile {ClusterKeyFile} cannot be read: {ex.Message}";
                return null;
            }
        }
        if (key.Length == 0)
        {
            error = $"{S}:ClusterKey (or {S}:ClusterKeyFile) must be set when {S}:ConnectionString is: every node of the cluster needs the same "
                + $"secret key of {MinClusterKeyLength}+ characters (e.g. `openssl rand -hex 32`) to authenticate the others and to keep tokens in Redis hashed.";
            return null;
        }
        if (key.Length < MinClusterKeyLength)
        {
            error = $"{S}:ClusterKey must be at least {MinClusterKeyLength} characters (got {key.Length}).";
            return null;
        }
        return key;
    }
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
            if (o.ResolveClusterKey(out var keyError) is null)
            {
                errors.Add(keyError!);
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
