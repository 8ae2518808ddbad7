// Bytes allocated per relayed signaling message on the product's path (bench/signaling-alloc.sh): the real GhostChat
// server (the product's composition root, socket loop on as shipped) in this process on 127.0.0.1, two peers on raw
// loopback TCP sockets that speak WebSocket themselves, and per round a burst of OFFERs (500-byte payload) from one
// to the other, read whole on the other side. The clients allocate nothing per message (pre-masked frames, blocking
// Send/Receive into fixed buffers), so GC.GetTotalAllocatedBytes — every thread of the process — counts the
// server's relay path (plus its idle timers, spread over all the messages). Prints one line: bytes per message.
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using GhostChat.Server.AllocBench;
using GhostChat.Testing;

const int Burst = 16;
var warmup = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 50_000;
var measured = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 200_000;

var app = await GhostChatInProcess.StartAsync(new Dictionary<string, string?>(StringComparer.Ordinal)
{
    ["GhostChat:Turn:Enabled"] = "false",
    ["GhostChat:Signaling:SocketLoop"] = "true",
    ["GhostChat:Signaling:Limits:MessagesPerSecond"] = "1000000",
    ["GhostChat:Signaling:Limits:MessageBurst"] = "1000000",
    ["Logging:LogLevel:Default"] = "Warning",
});
var port = new Uri(app.Urls.First()).Port;
using var a = Connect(port, "alloca");
using var b = Connect(port, "allocb");

var payload = "\"" + new string('x', 498) + "\"";
var json = Encoding.UTF8.GetBytes($$"""{"type":"OFFER","dst":"allocb","payload":{{payload}}}""");
var relayed = Encoding.UTF8.GetBytes($$"""{"type":"OFFER","src":"alloca","dst":"allocb","payload":{{payload}}}""");
var clientFrame = Masked(json);
var burst = new byte[clientFrame.Length * Burst];
for (var i = 0; i < Burst; i++)
{
    clientFrame.CopyTo(burst, i * clientFrame.Length);
}
var expected = (relayed.Length < 126 ? 2 : 4) + relayed.Length; // one server frame
var receive = new byte[expected * Burst];

Round(warmup / Burst, checkFirst: true);
// ALLOC_TYPES=1: also name what is allocated during the measured rounds (the runtime's sampled allocation events,
// one per ~100 KB), to find what is left on the path.
using var sampler = Environment.GetEnvironmentVariable("ALLOC_TYPES") == "1" ? new AllocationSampler() : null;
var cpuBefore = Environment.CpuUsage.TotalTime;
var before = GC.GetTotalAllocatedBytes(precise: true);
Round(measured / Burst, checkFirst: false);
var after = GC.GetTotalAllocatedBytes(precise: true);
var cpu = Environment.CpuUsage.TotalTime - cpuBefore;
sampler?.Print();

using (var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") })
{
    var metrics = await http.GetStringAsync("metrics");
    if (!metrics.Split('\n').Any(l => l.StartsWith("ghostchat_signaling_connections_total{", StringComparison.Ordinal)
        && l.Contains("path=\"loop\"", StringComparison.Ordinal) && l.EndsWith(" 2", StringComparison.Ordinal)))
    {
        Console.Error.WriteLine("the peers were not served by the socket loop:\n" + metrics);
        return 1;
    }
}
await app.DisposeAsync();
var perMessage = (after - before) / (double)(measured / Burst * Burst);
Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
    $"relayed {measured / Burst * Burst} messages ({relayed.Length}-byte frames) after {warmup} warm-up: {after - before} bytes allocated, {perMessage:F2} bytes per relayed message; process CPU {cpu.TotalMicroseconds / (measured / Burst * Burst):F2} µs per message (server and both peers)"));
return 0;

void Round(int rounds, bool checkFirst)
{
    for (var r = 0; r < rounds; r++)
    {
        a.Send(burst);
        var got = 0;
        while (got < receive.Length)
        {
            var n = b.Receive(receive, got, receive.Length - got, SocketFlags.None);
            if (n == 0)
            {
                throw new InvalidOperationException("the server closed the receiving peer");
            }
            got += n;
        }
        if (checkFirst && r == 0 && !receive.AsSpan(expected - relayed.Length, relayed.Length).SequenceEqual(relayed))
        {
            throw new InvalidOperationException("unexpected relayed frame: " + Encoding.UTF8.GetString(receive, 0, expected));
        }
    }
}

static Socket Connect(int port, string id)
{
    var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = 10_000 };
    s.Connect(new IPEndPoint(IPAddress.Loopback, port));
    s.Send(Encoding.ASCII.GetBytes($"GET /peerjs?key=peerjs&id={id}&token=tok-{id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n" +
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
    // The 101 response, then the OPEN frame: read until OPEN has arrived.
    var seen = new List<byte>();
    var one = new byte[1024];
    while (!Encoding.ASCII.GetString([.. seen]).Contains("\"OPEN\"", StringComparison.Ordinal))
    {
        var n = s.Receive(one);
        if (n == 0)
        {
            throw new InvalidOperationException("the server closed the connection: " + Encoding.ASCII.GetString([.. seen]));
        }
        seen.AddRange(one.AsSpan(0, n));
    }
    return s;
}

static byte[] Masked(byte[] payload)
{
    var header = payload.Length < 126 ? 2 : 4;
    var frame = new byte[header + 4 + payload.Length];
    frame[0] = 0x81;
    if (header == 2)
    {
        frame[1] = (byte)(0x80 | payload.Length);
    }
    else
    {
        frame[1] = 0x80 | 126;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)payload.Length);
    }
    byte[] mask = [0x12, 0x34, 0x56, 0x78];
    mask.CopyTo(frame, header);
    for (var i = 0; i < payload.Length; i++)
    {
        frame[header + 4 + i] = (byte)(payload[i] ^ mask[i & 3]);
    }
    return frame;
}

