using GhostChat.Server.Signaling.Cluster;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace GhostChat.Server.Tests.Cluster;

/// <summary>The seal on node-to-node messages and the token hashes, on a fake clock; the key's configuration.</summary>
public sealed class ClusterTrustTests
{
    private const string Key = "0123456789abcdef0123456789abcdef";

    private static ClusterTrust Trust(TimeProvider time, string key = Key) => new(Options.Create(new ClusterOptions { ClusterKey = key }), time);

    [Fact]
    public void Seal_OpensOnItsChannelOnly_AndNotWithAnotherKey()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var sealedMessage = Trust(time).Seal("p:node:a", "R\nbob"u8);
        Assert.Equal(ClusterDrop.None, Trust(time).Open("p:node:a", sealedMessage, ClusterTrust.MessageWindow, once: true, out var body));
        Assert.Equal("R\nbob"u8.ToArray(), body.ToArray());
        Assert.Equal(ClusterDrop.Unauthenticated, Trust(time).Open("p:node:b", sealedMessage, ClusterTrust.MessageWindow, once: true, out _));
        Assert.Equal(ClusterDrop.Unauthenticated, Trust(time, Key + "x").Open("p:node:a", sealedMessage, ClusterTrust.MessageWindow, once: true, out _));
        for (var i = 0; i < sealedMessage.Length; i++)
        {
            var tampered = (byte[])sealedMessage.Clone();
            tampered[i] ^= 1;
            Assert.Equal(ClusterDrop.Unauthenticated, Trust(time).Open("p:node:a", tampered, ClusterTrust.MessageWindow, once: false, out _));
        }
        Assert.Equal(ClusterDrop.Unauthenticated, Trust(time).Open("p:node:a", sealedMessage[..^1], ClusterTrust.MessageWindow, once: false, out _));
        Assert.Equal(ClusterDrop.Unauthenticated, Trust(time).Open("p:node:a", [], ClusterTrust.MessageWindow, once: false, out _));
    }

    [Fact]
    public void Open_ReplayRefused_ReorderingWithinTheWindowAccepted()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var sender = Trust(time);
        var receiver = Trust(time);
        var messages = Enumerable.Range(0, 1100).Select(_ => sender.Seal("c", "F\nbob"u8)).ToArray();
        foreach (var i in new[] { 5, 3, 4, 0, 1, 2 })
        {
            Assert.Equal(ClusterDrop.None, receiver.Open("c", messages[i], ClusterTrust.MessageWindow, once: true, out _));
        }
        Assert.Equal(ClusterDrop.Replayed, receiver.Open("c", messages[3], ClusterTrust.MessageWindow, once: true, out _));
        Assert.Equal(ClusterDrop.None, receiver.Open("c", messages[1099], ClusterTrust.MessageWindow, once: true, out _));
        Assert.Equal(ClusterDrop.Replayed, receiver.Open("c", messages[10], ClusterTrust.MessageWindow, once: true, out _)); // older than the window
        Assert.Equal(ClusterDrop.None, receiver.Open("c", messages[1000], ClusterTrust.MessageWindow, once: true, out _));
        Assert.Equal(ClusterDrop.None, receiver.Open("c", messages[3], ClusterTrust.MessageWindow, once: false, out _)); // queue items: no replay state
    }

    [Fact]
    public void Open_StaleOrFromTheFuture_Refused()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var message = Trust(time).Seal("c", "F\nbob"u8);
        time.Advance(ClusterTrust.MessageWindow + TimeSpan.FromSeconds(1));
        Assert.Equal(ClusterDrop.Stale, Trust(time).Open("c", message, ClusterTrust.MessageWindow, once: true, out _));
        Assert.Equal(ClusterDrop.None, Trust(time).Open("c", message, TimeSpan.FromMinutes(2), once: true, out _));
        var future = Trust(new FakeTimeProvider(time.GetUtcNow() + ClusterTrust.MessageWindow + TimeSpan.FromSeconds(1))).Seal("c", "F\nbob"u8);
        Assert.Equal(ClusterDrop.Stale, Trust(time).Open("c", future, ClusterTrust.MessageWindow, once: true, out _));
    }

    [Fact]
    public void HashToken_KeyedAndBoundToTheId()
    {
        var time = TimeProvider.System;
        var hash = Trust(time).HashToken("alice", "token-of-alice");
        Assert.Equal(hash, Trust(time).HashToken("alice", "token-of-alice"));
        Assert.DoesNotContain("token-of-alice", hash, StringComparison.Ordinal);
        Assert.NotEqual(hash, Trust(time).HashToken("bob", "token-of-alice"));
        Assert.NotEqual(hash, Trust(time, Key + "x").HashToken("alice", "token-of-alice"));
    }

    [Fact]
    public void Options_ClusterWithoutAUsableKey_RefusedWithOneClearMessageEach()
    {
        var validator = new ClusterOptionsValidator();
        string[] Errors(ClusterOptions o) => [.. validator.Validate(null, o).Failures ?? []];
        var file = Path.Combine(Directory.CreateTempSubdirectory("ghostchat-key-").FullName, "key");
        File.WriteAllText(file, "  " + Key + "\n");

        Assert.Empty(Errors(new ClusterOptions())); // single node: no key needed
        Assert.Empty(Errors(new ClusterOptions { ConnectionString = "127.0.0.1:6379", ClusterKey = Key }));
        Assert.Empty(Errors(new ClusterOptions { ConnectionString = "127.0.0.1:6379", ClusterKeyFile = file }));
        Assert.Contains("GhostChat:Redis:ClusterKey (or GhostChat:Redis:ClusterKeyFile) must be set", Assert.Single(Errors(new ClusterOptions { ConnectionString = "127.0.0.1:6379" })), StringComparison.Ordinal);
        Assert.Contains("at least 32 characters", Assert.Single(Errors(new ClusterOptions { ConnectionString = "127.0.0.1:6379", ClusterKey = "short" })), StringComparison.Ordinal);
        Assert.Contains("both set", Assert.Single(Errors(new ClusterOptions { ConnectionString = "127.0.0.1:6379", ClusterKey = Key, ClusterKeyFile = file })), StringComparison.Ordinal);
        Assert.Contains("cannot be read", Assert.Single(Errors(new ClusterOptions { ConnectionString = "127.0.0.1:6379", ClusterKeyFile = file + ".missing" })), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Server_ClusterModeWithoutKey_RefusesToStart()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["GhostChat:Redis:ConnectionString"] = "127.0.0.1:1",
        }));
        Assert.Contains(ex.Failures, f => f.Contains("ClusterKey", StringComparison.Ordinal));
    }
}
