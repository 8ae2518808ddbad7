// The UDP relay path under BenchmarkDotNet's MemoryDiagnoser (bench/turn-alloc.sh): a real GhostChat.Turn server on
// 127.0.0.1, one allocation with a channel bound to a peer socket, and per operation one datagram relayed client →
// peer and one peer → client through real loopback sockets. The client and peer here allocate nothing per datagram,
// so what the diagnoser counts (every thread of the process) is the server's relay path.
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters.Csv;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using GhostChat.Turn.RelayBench;

var config = ManualConfig.CreateEmpty()
    .AddColumnProvider(BenchmarkDotNet.Columns.DefaultColumnProviders.Instance)
    .AddLogger(BenchmarkDotNet.Loggers.ConsoleLogger.Default)
    .AddExporter(CsvExporter.Default)
    .AddExporter(BenchmarkDotNet.Exporters.MarkdownExporter.GitHub)
    .AddDiagnoser(MemoryDiagnoser.Default)
    .AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(3).WithIterationCount(8).WithLaunchCount(1))
    .WithArtifactsPath(args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), "ghostchat-relay-bench"));
var summary = BenchmarkRunner.Run<RelayPathBenchmark>(config);
return summary.HasCriticalValidationErrors || summary.Reports.Any(r => !r.Success) ? 1 : 0;
