using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using GhostChat.Turn.Client;

namespace GhostChat.Cli.Doctor;

/// <summary>
/// A UDP socket here stands in for a peer: it sends to the relayed address (the server relays it as a Data
/// indication, which also tells us the peer's address as the relay sees it), the client answers with a Send
/// indication, then both directions again over a bound channel (ChannelData).
/// </summary>
internal static class TurnRelayRoundTrip
{
    public static async Task RunAsync(TurnClient client, TurnAllocation allocation, CancellationToken cancellationToken)
    {
        using var peer = new Socket(allocation.Relayed.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        peer.Bind(new IPEndPoint(allocation.Relayed.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0));
        var nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));

        var ping = Encoding.ASCII.GetBytes("ghostchat-doctor-ping-" + nonce);
        var fromPeer = await RepeatUntilAsync(
            () => peer.SendToAsync(ping, SocketFlags.None, allocation.Relayed, cancellationToken).AsTask(),
            async ct =>
            {
                var d = await client.ReceiveAsync(ct).ConfigureAwait(false);
                return d.Data.AsSpan().SequenceEqual(ping) ? d.Peer : null;
            }, cancellationToken).ConfigureAwait(false);

        var pong = Encoding.ASCII.GetBytes("ghostchat-doctor-pong-" + nonce);
        await RepeatUntilAsync(
            () =>
            {
                client.Send(fromPeer, pong);
                return Task.CompletedTask;
            },
            ct => ReceiveMatchingAsync(peer, pong, ct), cancellationToken).ConfigureAwait(false);

        const ushort channel = 0x4000;
        await client.ChannelBindAsync(channel, fromPeer, cancellationToken).ConfigureAwait(false);
        var viaChannel = Encoding.ASCII.GetBytes("ghostchat-doctor-channel-" + nonce);
        await RepeatUntilAsync(
            () =>
            {
                client.SendChannel(channel, viaChannel);
                return Task.CompletedTask;
            },
            ct => ReceiveMatchingAsync(peer, viaChannel, ct), cancellationToken).ConfigureAwait(false);
        var back = Encoding.ASCII.GetBytes("ghostchat-doctor-back-" + nonce);
        await RepeatUntilAsync(
            () => peer.SendToAsync(back, SocketFlags.None, allocation.Relayed, cancellationToken).AsTask(),
            async ct =>
            {
                var d = await client.ReceiveAsync(ct).ConfigureAwait(false);
                return d.ViaChannel && d.Data.AsSpan().SequenceEqual(back) ? "ok" : null;
            }, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<string?> ReceiveMatchingAsync(Socket peer, byte[] expected, CancellationToken cancellationToken)
    {
        var buffer = new byte[2048];
        var any = new IPEndPoint(peer.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);
        var r = await peer.ReceiveFromAsync(buffer, SocketFlags.None, any, cancellationToken).ConfigureAwait(false);
        return buffer.AsSpan(0, r.ReceivedBytes).SequenceEqual(expected) ? "ok" : null;
    }

    /// <summary>
    /// Sends, then waits a little for the matching answer; sends again (UDP loses packets) until
    /// <paramref name="cancellationToken"/> ends it.
    /// </summary>
    private static async Task<T> RepeatUntilAsync<T>(
        Func<Task> send, Func<CancellationToken, Task<T?>> receive, CancellationToken cancellationToken)
        where T : class
    {
        var wait = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await send().ConfigureAwait(false);
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt.CancelAfter(wait);
            try
            {
                while (true)
                {
                    if (await receive(attempt.Token).ConfigureAwait(false) is { } result)
                    {
                        return result;
                    }
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                wait = TimeSpan.FromMilliseconds(Math.Min(wait.TotalMilliseconds * 2, 1000));
            }
            catch (SocketException) when (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
