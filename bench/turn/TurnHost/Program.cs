// A standalone GhostChat.Turn server for the benchmark (bench/turn.sh) and the browser interop test.
// Usage: TurnHost --listen 127.0.0.1 --port 3478 --secret S [--realm R] [--allow-peer CIDR]... [--min-port N --max-port N] [--loops N]
//        [--user-quota N] [--source-quota N] [--max-bps N] [--unauth-rate N] [--stdin-stop]
//        TurnHost --alloc-bench <server> <secret> <total> <concurrency>   (allocations per second)
//        TurnHost --alloc-hold <server> <secret> <n>                       (makes n allocations, holds them until stdin closes)
//        TurnHost --throughput <server> <secret> <size> <window> <seconds> (relayed MB/s of one allocation; prints "MB/s back lost")
// Prints "READY udp=<ep> tcp=<ep>" when listening; stops on SIGTERM/SIGINT or when stdin closes (with --stdin-stop).
using GhostChat.Turn.Server;
using TurnHost;

if (args.Length == 5 && args[0] == "--alloc-bench")
{
    return await AllocBench.RunAsync(System.Net.IPEndPoint.Parse(args[1]), args[2], int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture), int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture));
}

if (args.Length == 6 && args[0] == "--throughput")
{
    var ci = System.Globalization.CultureInfo.InvariantCulture;
    return await ThroughputBench.RunAsync(System.Net.IPEndPoint.Parse(args[1]), args[2], int.Parse(args[3], ci), int.Parse(args[4], ci), int.Parse(args[5], ci));
}

if (args.Length == 4 && args[0] == "--alloc-hold")
{
    return await AllocBench.HoldAsync(System.Net.IPEndPoint.Parse(args[1]), args[2], int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture));
}

var options = new TurnServerOptions { ListenAddresses = [], Secrets = [] };
bool stdinStop = false;
for (int i = 0; i < args.Length; i++)
{
    string Next() => args[++i];
    switch (args[i])
    {
        case "--listen": options.ListenAddresses.Add(Next()); break;
        case "--port": options.UdpPort = options.TcpPort = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
        case "--secret": options.Secrets.Add(Next()); break;
        case "--realm": options.Realm = Next(); break;
        case "--allow-peer": options.AllowedPeers.Add(Next()); break;
        case "--min-port": options.RelayMinPort = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
        case "--max-port": options.RelayMaxPort = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
        case "--loops": options.UdpReceiveLoops = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
        case "--user-quota": options.MaxAllocationsPerUser = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
        // Every benchmark client comes from 127.0.0.1: one source for the per-source allocation and connection caps.
        case "--source-quota": options.MaxAllocationsPerSource = options.MaxStreamConnectionsPerSource = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
        case "--max-bps": options.MaxBytesPerSecondPerAllocation = long.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
        case "--unauth-rate": options.UnauthorizedPerSecondPerSource = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
        case "--stdin-stop": stdinStop = true; break;
        default:
            Console.Error.WriteLine("unknown argument " + args[i]);
            return 2;
    }
}
var errors = options.Validate();
if (errors.Count > 0)
{
    Console.Error.WriteLine(string.Join(Environment.NewLine, errors));
    return 2;
}
await using var server = new TurnServer(options);
await server.StartAsync();
Console.WriteLine($"READY udp={string.Join(',', server.UdpEndPoints)} tcp={string.Join(',', server.TcpEndPoints)}");
var done = new TaskCompletionSource();
using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; done.TrySetResult(); });
using var interrupt = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, c => { c.Cancel = true; done.TrySetResult(); });
if (stdinStop)
{
    _ = Task.Run(() => { while (Console.In.ReadLine() is not null) { } done.TrySetResult(); });
}
await done.Task;
Console.WriteLine($"STOPPED relayed={server.RelayedPackets} dropped={server.DroppedPackets} faults={server.HandlerFaults}");
return 0;
