using System.Net;
using GhostChat.Turn.Auth;
using GhostChat.Turn.Client;

namespace GhostChat.Turn.Tests;

/// <summary>
/// The setup turnutils_uclient (coturn 4.6.1) sends, asked of our server and of coturn: same answers. Per session it
/// allocates from a fresh port (a port whose earlier allocation is alive gets 437, and it retries from another), then
/// binds a random channel number in 0x4000–0x7FFF to the peer's port + 1, twice, and another random number to the
/// peer, twice. When the two random numbers are equal (1 session in 16,384) the third bind asks for a number bound to
/// another peer: RFC 8656 §11.2 makes that 400, and both servers answer 400, which ends uclient ("channel bind: error
/// 400"; seen once in docs/benchmarks.md's 20,000 msg/s step).
/// </summary>
public sealed class UclientSetupParityTests
{
    [Fact]
    public async Task ChannelBindSequence_OfUclient_SameAnswersFromOursAndCoturn()
    {
        await using var ours = await TestServer.StartAsync(o => o.AllowedPeers = ["127.0.0.1/32"]);
        await using var coturn = await CoturnProcess.StartAsync("coturn-test-secret-0123456789");
        var oursAnswers = await AnswersAsync(ours.Udp, TestServer.Secret);
        var coturnAnswers = await AnswersAsync(coturn.Udp, coturn.Secret);
        Assert.Equal(["ok", "ok", "ok", "ok", "437", "ok", "ok", "400"], oursAnswers);
        Assert.Equal(coturnAnswers, oursAnswers);
    }

    /// <summary>uclient's sequence with distinct numbers, a second Allocate on the same 5-tuple, then the equal-numbers case.</summary>
    private static async Task<List<string>> AnswersAsync(IPEndPoint server, string secret)
    {
        var peer = new IPEndPoint(IPAddress.Loopback, 3480);
        var peerPlusOne = new IPEndPoint(IPAddress.Loopback, 3481);
        var answers = new List<string>();
        var credential = TurnRestCredentials.Create(secret, "bench", TimeSpan.FromHours(1), DateTimeOffset.UtcNow);

        await using (var session = TurnClient.ConnectUdp(server))
        {
            await session.AllocateAsync(credential.Username, credential.Password);
            answers.Add(await AnswerAsync(() => session.ChannelBindAsync(0x5123, peerPlusOne)));
            answers.Add(await AnswerAsync(() => session.ChannelBindAsync(0x5123, peerPlusOne)));
            answers.Add(await AnswerAsync(() => session.ChannelBindAsync(0x7001, peer)));
            answers.Add(await AnswerAsync(() => session.ChannelBindAsync(0x7001, peer)));
            // An Allocate on a 5-tuple that holds an allocation (uclient's new socket on a port an earlier one used).
            answers.Add(await AnswerAsync(() => session.AllocateAsync(credential.Username, credential.Password)));
        }

        await using (var unlucky = TurnClient.ConnectUdp(server))
        {
            await unlucky.AllocateAsync(credential.Username, credential.Password);
            answers.Add(await AnswerAsync(() => unlucky.ChannelBindAsync(0x4abc, peerPlusOne)));
            answers.Add(await AnswerAsync(() => unlucky.ChannelBindAsync(0x4abc, peerPlusOne)));
            answers.Add(await AnswerAsync(() => unlucky.ChannelBindAsync(0x4abc, peer)));
        }
        return answers;
    }

    private static async Task<string> AnswerAsync(Func<Task> request)
    {
        try
        {
            await request();
            return "ok";
        }
        catch (TurnException ex)
        {
            return ex.Code.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }
}
