using GhostChat.Server.Signaling;
using GhostChat.Server.Signaling.Cluster;

namespace GhostChat.Server.Tests.Cluster;

/// <summary><c>AddGhostChatSignaling().UseRedis()</c>: the Redis seams replace the in-memory defaults, whatever was registered first.</summary>
public sealed class ClusterRegistrationTests
{
    private static WebApplicationBuilder Builder(string? connectionString)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration["GhostChat:Redis:ConnectionString"] = connectionString;
        builder.Configuration["GhostChat:Signaling:ConnectionFastPath"] = "false";
        return builder;
    }

    private static Type? Seam<T>(WebApplicationBuilder builder) => builder.Services.Single(d => d.ServiceType == typeof(T)).ImplementationType;

    [Fact]
    public void UseRedis_WithAConnectionString_ReplacesTheInMemorySeams()
    {
        var builder = Builder("127.0.0.1:6379");
        builder.AddGhostChatSignaling().UseRedis();
        Assert.Null(Seam<IPeerDirectory>(builder)); // a factory for the Redis directory
        Assert.DoesNotContain(builder.Services, d => d.ImplementationType == typeof(InMemoryPeerDirectory) || d.ImplementationType == typeof(InMemoryRelayBus));
        Assert.Contains(builder.Services, d => d.ServiceType == typeof(RedisRelayBus));
    }

    [Fact]
    public void UseRedis_WithoutAConnectionString_KeepsTheInMemorySeams()
    {
        var builder = Builder(null);
        builder.AddGhostChatSignaling().UseRedis();
        Assert.Equal(typeof(InMemoryPeerDirectory), Seam<IPeerDirectory>(builder));
        Assert.Equal(typeof(InMemoryRelayBus), Seam<IRelayBus>(builder));
    }

    [Fact]
    public void UseRedis_KeepsASeamReplacedBeforehand()
    {
        var builder = Builder("127.0.0.1:6379");
        builder.Services.AddSingleton<IPeerDirectory, ReplacedDirectory>(); // as a test replacing the seam does, first
        builder.AddGhostChatSignaling().UseRedis();
        Assert.Equal(typeof(ReplacedDirectory), Seam<IPeerDirectory>(builder));
    }

    private sealed class ReplacedDirectory : IPeerDirectory
    {
        public int Count => 0;

        public IEnumerable<PeerSession> LocalSessions => [];

        public ValueTask<RegistrationResult> RegisterAsync(PeerSession session, CancellationToken cancellationToken) => throw new NotSupportedException();

        public ValueTask<bool> UnregisterAsync(PeerSession session, CancellationToken cancellationToken) => throw new NotSupportedException();

        public PeerSession? FindLocal(string id) => null;

        public ValueTask<IReadOnlyList<string>> ListIdsAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

        public ValueTask RefreshAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
