using System.Net.Sockets;

namespace GhostChat.Turn.Server.Udp;

/// <summary>
/// A socket other than a relay socket that the <see cref="RelayPoller"/> reads for its owner: a listening UDP socket.
/// The poller receives a batch from <see cref="Socket"/> when it is readable and hands it to <see cref="OnBatch"/> on
/// the poller's thread, so clients' datagrams and peers' datagrams are served by one thread and one wake-up.
/// </summary>
internal abstract class PolledSocket(Socket socket)
{
    public Socket Socket { get; } = socket;

    /// <summary>The poller's registration; 0 when not served by it.</summary>
    public long PollId { get; set; }

    /// <summary>
    /// Handles datagrams 0..<paramref name="count"/>-1 of <paramref name="batch"/> (on the poller's thread; must not
    /// throw). Datagrams towards peers may be queued on <paramref name="sends"/> (null: send each now): the poller
    /// flushes it afterwards.
    /// </summary>
    public abstract void OnBatch(UdpBatch batch, int count, PeerSendQueue? sends);
}
