using System.Security.Cryptography;
using System.Text;

namespace GhostChat.Server.Tests.Infrastructure;

/// <summary>Token-bound ids as docs/protocol.md defines them, and an attacker that wants one of them.</summary>
public static class Squatter
{
    /// <summary>"gc1-" and the first 16 bytes of SHA-256(UTF-8 token) in lowercase hex (computed here, not by the server's code).</summary>
    public static string TokenBoundId(string token)
        => "gc1-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)).AsSpan(0, 16));

    /// <summary>
    /// Tries to register <paramref name="id"/> with <paramref name="token"/> as soon as the id is free:
    /// connects again while the server still answers ID-TAKEN (the holder's close may not have been
    /// processed yet). Returns the first other answer and the client (still open if it got OPEN).
    /// </summary>
    public static async Task<(Received Answer, PeerClient Client)> TakeAsync(TestServer server, string id, string token)
    {
        var deadline = DateTime.UtcNow + Eventually.DefaultTimeout;
        while (true)
        {
            var client = await PeerClient.ConnectAsync(server.WebSocketUri(id, token));
            var answer = await client.ReceiveAsync();
            if (answer.Type != "ID-TAKEN")
            {
                return (answer, client);
            }
            await client.DisposeAsync();
            Assert.True(DateTime.UtcNow < deadline, $"{id} stayed taken");
            await Task.Delay(25);
        }
    }
}
