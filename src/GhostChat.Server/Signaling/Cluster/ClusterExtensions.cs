using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Signaling.Cluster;

internal static class ClusterExtensions
{
    /// <summary>
    /// Signaling on Redis: with <c>GhostChat:Redis:ConnectionString</c> set, the peer directory and
    /// relay bus are the Redis ones. It replaces signaling's in-memory defaults wherever it is called
    /// (a seam a test replaced stays replaced); without a connection string it only validates the section.
    /// </summary>
    public static SignalingBuilder UseRedis(this SignalingBuilder signaling)
    {
        var builder = signaling.Builder;
        var services = builder.Services;
        services.AddOptions<ClusterOptions>().Bind(builder.Configuration.GetSection(ClusterOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ClusterOptions>, ClusterOptionsValidator>());

        if (string.IsNullOrWhiteSpace(builder.Configuration[ClusterOptions.SectionName + ":ConnectionString"]))
        {
            return signaling;
        }

        services.RemoveAll(d => d.ServiceType == typeof(IPeerDirectory) && d.ImplementationType == typeof(InMemoryPeerDirectory));
        services.RemoveAll(d => d.ServiceType == typeof(IRelayBus) && d.ImplementationType == typeof(InMemoryRelayBus));
        services.TryAddSingleton<ClusterTrust>();
        services.TryAddSingleton<RedisConnection>();
        services.TryAddSingleton<ClusterMetrics>();
        services.TryAddSingleton<RedisPeerDirectory>();
        services.TryAddSingleton<IPeerDirectory>(sp => sp.GetRequiredService<RedisPeerDirectory>());
        services.TryAddSingleton<RedisRelayBus>();
        services.TryAddSingleton<IRelayBus>(sp => sp.GetRequiredService<RedisRelayBus>());
        services.AddHostedService(sp => sp.GetRequiredService<RedisRelayBus>());
        services.AddHealthChecks().AddCheck<RedisConnection.HealthCheck>("redis", tags: [Ops.OpsExtensions.ReadyTag]);
        return signaling;
    }

    private static void RemoveAll(this IServiceCollection services, Func<ServiceDescriptor, bool> match)
    {
        for (var i = services.Count - 1; i >= 0; i--)
        {
            if (match(services[i]))
            {
                services.RemoveAt(i);
            }
        }
    }
}
