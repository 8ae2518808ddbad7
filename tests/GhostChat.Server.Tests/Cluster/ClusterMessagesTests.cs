using System.Text;
using GhostChat.Server.Signaling;
using GhostChat.Server.Signaling.Cluster;

namespace GhostChat.Server.Tests.Cluster;

/// <summary>What nodes tell each other over Redis: round trips, and malformed messages refused without throwing.</summary>
public sealed class ClusterMessagesTests
{
    [Fact]
    public void Relay_RoundTrips_FrameWithNewlinesIntact()
    {
        var frame = Encoding.UTF8.GetBytes("{\"type\":\"OFFER\",\"payload\":\n{\"sdp\":\"v=0\\r\\n\"}\n}");
        var bytes = ClusterMessages.Relay("bob", MessageType.Offer, "alice", frame);
        Assert.True(ClusterMessages.TryParse(bytes, out var kind, out var fields, out var parsed));
        Assert.Equal('R', kind);
        Assert.Equal(["bob", ((int)MessageType.Offer).ToString(System.Globalization.CultureInfo.InvariantCulture), "alice"], fields);
        Assert.Equal(frame, parsed);
    }

    [Fact]
    public void KickAndFlush_RoundTrip()
    {
        Assert.True(ClusterMessages.TryParse(ClusterMessages.Kick("alice", "n1:7"), out var kind, out var fields, out _));
        Assert.Equal('K', kind);
        Assert.Equal("alice", fields[0]);
        Assert.Equal("n1:7", fields[1]);
        Assert.True(ClusterMessages.TryParse(ClusterMessages.Flush("bob"), out kind, out fields, out _));
        Assert.Equal('F', kind);
        Assert.Equal("bob", Assert.Single(fields));
    }

    [Fact]
    public void QueueItem_RoundTrips()
    {
        var frame = "{\"x\":\n1}"u8.ToArray();
        Assert.True(ClusterMessages.TryParseQueueItem(ClusterMessages.QueueItem(MessageType.Candidate, "alice", frame), out var type, out var src, out var parsed));
        Assert.Equal((MessageType.Candidate, "alice"), (type, src));
        Assert.Equal(frame, parsed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("R")]
    [InlineData("X\nbob")]
    [InlineData("R\nbob")]
    [InlineData("R\nbob\n2")]
    [InlineData("K\nalice")]
    [InlineData("Rbob\n1\nalice\n{}")]
    public void TryParse_MalformedChannelMessage_RefusedWithoutThrowing(string text)
        => Assert.False(ClusterMessages.TryParse(Encoding.UTF8.GetBytes(text), out _, out _, out _));

    [Theory]
    [InlineData("")]
    [InlineData("1")]
    [InlineData("1\nalice")]
    [InlineData("x\nalice\n{}")]
    public void TryParseQueueItem_Malformed_RefusedWithoutThrowing(string text)
        => Assert.False(ClusterMessages.TryParseQueueItem(Encoding.UTF8.GetBytes(text), out _, out _, out _));

    [Fact]
    public void TryParse_RandomBytes_NeverThrows()
    {
        var random = new Random(20261125);
        for (var i = 0; i < 5000; i++)
        {
            var bytes = new byte[random.Next(0, 40)];
            random.NextBytes(bytes);
            if (i % 2 == 0 && bytes.Length > 1)
            {
                bytes[0] = (byte)"RKF"[i % 3];
                bytes[1] = (byte)'\n';
            }
            if (ClusterMessages.TryParse(bytes, out var kind, out var fields, out _))
            {
                Assert.Equal(kind switch { 'R' => 3, 'K' => 2, 'F' => 1, _ => -1 }, fields.Length);
            }
            if (ClusterMessages.TryParseQueueItem(bytes, out _, out var src, out _))
            {
                Assert.DoesNotContain('\n', src);
            }
        }
    }
}
