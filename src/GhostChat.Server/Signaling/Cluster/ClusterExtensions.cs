using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Signaling.Cluster;

internal static class ClusterExtensions
{
    /// <summary>
    /// With <c>GhostChat:Redis:ConnectionString</c> set, the peer directory and relay bus are the
    /// Redis ones (registered before signaling's in-memory defaults, which then stand aside).
    /// </summary>
    public static WebApplicationBuilder AddGhostChatCluster(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ClusterOptions>().Bind(builder.Configuration.GetSection(ClusterOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ClusterOptions>, ClusterOptionsValidator>());

        if (string.IsNullOrWhiteSpace(builder.Configuration[ClusterOptions.SectionName + ":ConnectionString"]))
        {
            return builder;
        }

        services.TryAddSingleton<RedisConnection>();
        services.TryAddSingleton<ClusterMetrics>();
        services.TryAddSingleton<RedisPeerDirectory>();
        services.TryAddSingleton<IPeerDirectory>(sp => sp.GetRequiredService<RedisPeerDirectory>());
        services.TryAddSingleton<RedisRelayBus>();
        services.TryAddSingleton<IRelayBus>(sp => sp.GetRequiredService<RedisRelayBus>());
        services.AddHostedService(sp => sp.GetRequiredService<RedisRelayBus>());
        services.AddHealthChecks().AddCheck<RedisConnection.HealthCheck>("redis", tags: [Ops.OpsExtensions.ReadyTag]);
        return builder;
    }
}
