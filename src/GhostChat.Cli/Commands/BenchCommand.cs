using System.CommandLine;
using GhostChat.Cli.Bench;

namespace GhostChat.Cli.Commands;

/// <summary>`ghostchat bench …`: load generators that measure a running server from the outside.</summary>
internal static class BenchCommand
{
    public static Command Build()
    {
        var bench = new Command("bench", "Measure a running server from the outside (load generators).");
        bench.Subcommands.Add(BuildSignaling());
        return bench;
    }

    private static Command BuildSignaling()
    {
        var defaults = new SignalingBenchOptions();
        var url = new Option<string>("--url")
        {
            Description = "Base URL of any PeerJS server, including its path (http://, https://, ws:// or wss://).",
            DefaultValueFactory = _ => defaults.ServerUrl.ToString(),
        };
        var secondUrl = new Option<string?>("--second-url")
        {
            Description = "Cluster mode: a second node of the same service. Peer pairs are spread over both nodes so that half the pairs cross between them.",
        };
        var key = new Option<string>("--key") { Description = "PeerJS API key.", DefaultValueFactory = _ => defaults.Key };
        var pairs = new Option<int>("--pairs")
        {
            Description = "Peer pairs relaying OFFER/ANSWER messages in the throughput and latency phases.",
            DefaultValueFactory = _ => defaults.Pairs,
        };
        var duration = new Option<double>("--duration")
        {
            Description = "Seconds of each measured relay phase (throughput at saturation, latency at --rate; at least 2 s for latency).",
            DefaultValueFactory = _ => defaults.Duration.TotalSeconds,
        };
        var warmup = new Option<double>("--warmup")
        {
            Description = "Seconds of un-measured load before each relay phase (lets the server's JIT reach its steady tier).",
            DefaultValueFactory = _ => defaults.Warmup.TotalSeconds,
        };
        var rate = new Option<double>("--rate")
        {
            Description = "Fixed offered load in relayed messages per second (all pairs together) for the latency phase.",
            DefaultValueFactory = _ => defaults.Rate,
        };
        var window = new Option<int>("--window")
        {
            Description = "Messages in flight per pair in the throughput phase (closed loop: each ANSWER releases the next OFFER).",
            DefaultValueFactory = _ => defaults.Window,
        };
        var messageSize = new Option<int?>("--message-size")
        {
            Description = "Exact size in bytes of each relayed OFFER/ANSWER frame, 256..65536 (default: an SDP-sized frame of about 3.1 KB).",
        };
        var idlePeers = new Option<int>("--idle-peers")
        {
            Description = "Idle peers to register (heartbeating, silent) to measure connections per second and, with --server-pid, memory per peer.",
            DefaultValueFactory = _ => defaults.IdlePeers,
        };
        var hold = new Option<double>("--hold")
        {
            Description = "Seconds the idle peers stay registered and heartbeating before the server's memory and the peers still open are read (and its CPU over that time).",
            DefaultValueFactory = _ => defaults.SettleBeforeRss.TotalSeconds,
        };
        var connectConcurrency = new Option<int>("--connect-concurrency")
        {
            Description = "WebSocket handshakes in flight at once while registering peers.",
            DefaultValueFactory = _ => defaults.ConnectConcurrency,
        };
        var serverPid = new Option<int?>("--server-pid")
        {
            Description = "PID of the server process on this machine: its CPU time (/proc/PID/stat) is read around the throughput window and its VmRSS (/proc/PID/status) before and after the idle peers register.",
        };
        var phases = new Option<string[]>("--phases")
        {
            Description = "Phases to run, in this order: throughput, latency, idle (comma or space separated).",
            DefaultValueFactory = _ => ["throughput", "latency", "idle"],
            AllowMultipleArgumentsPerToken = true,
        };
        var json = new Option<bool>("--json") { Description = "Print the result as one JSON object on stdout instead of a table." };
        var quick = new Option<bool>("--quick")
        {
            Description = "Smoke run: 4 pairs, 2 s phases, 100 msg/s, 100 idle peers (explicit options still win).",
        };

        var command = new Command("signaling", "Load a PeerJS signaling server: relay throughput at saturation, relay latency at a fixed load, connections per second, memory per idle peer.")
        {
            url, secondUrl, key, pairs, duration, warmup, rate, window, messageSize, idlePeers, hold, connectConcurrency, serverPid, phases, json, quick,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = parse.GetValue(quick) ? SignalingBenchOptions.Quick() : new SignalingBenchOptions();
            if (!Uri.TryCreate(parse.GetValue(url), UriKind.Absolute, out var serverUrl))
            {
                Console.Error.WriteLine($"ghostchat bench signaling: --url must be an absolute URL, got '{parse.GetValue(url)}'.");
                return 2;
            }
            options.ServerUrl = serverUrl;
            if (parse.GetValue(secondUrl) is { } second)
            {
                if (!Uri.TryCreate(second, UriKind.Absolute, out var secondServer))
                {
                    Console.Error.WriteLine($"ghostchat bench signaling: --second-url must be an absolute URL, got '{second}'.");
                    return 2;
                }
                options.SecondServerUrl = secondServer;
            }
            options.Key = parse.GetValue(key) ?? options.Key;
            if (Given(parse, pairs)) options.Pairs = parse.GetValue(pairs);
            if (Given(parse, duration)) options.Duration = TimeSpan.FromSeconds(parse.GetValue(duration));
            if (Given(parse, warmup))
            {
                var seconds = parse.GetValue(warmup);
                options.Warmup = double.IsFinite(seconds) && Math.Abs(seconds) <= 1e6 ? TimeSpan.FromSeconds(seconds) : TimeSpan.MaxValue; // Validate names it
            }
            if (Given(parse, rate)) options.Rate = parse.GetValue(rate);
            if (Given(parse, window)) options.Window = parse.GetValue(window);
            if (Given(parse, messageSize)) options.MessageBytes = parse.GetValue(messageSize);
            if (Given(parse, idlePeers)) options.IdlePeers = parse.GetValue(idlePeers);
            if (Given(parse, hold)) options.SettleBeforeRss = TimeSpan.FromSeconds(parse.GetValue(hold));
            if (Given(parse, connectConcurrency)) options.ConnectConcurrency = parse.GetValue(connectConcurrency);
            options.ServerPid = parse.GetValue(serverPid);
            var selected = (parse.GetValue(phases) ?? []).SelectMany(p => p.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToHashSet(StringComparer.OrdinalIgnoreCase);
            var unknown = selected.Except(["throughput", "latency", "idle"], StringComparer.OrdinalIgnoreCase).ToList();
            if (unknown.Count > 0)
            {
                Console.Error.WriteLine($"ghostchat bench signaling: unknown phase(s) {string.Join(", ", unknown)}; use throughput, latency, idle.");
                return 2;
            }
            options.RunThroughput = selected.Contains("throughput");
            options.RunLatency = selected.Contains("latency");
            options.RunIdle = selected.Contains("idle");

            var errors = options.Validate();
            if (errors.Count > 0)
            {
                foreach (var error in errors) Console.Error.WriteLine($"ghostchat bench signaling: {error}");
                return 2;
            }

            var asJson = parse.GetValue(json);
            var progress = asJson ? TextWriter.Null : Console.Error;
            try
            {
                var report = await new SignalingBench(options, progress).RunAsync(cancellationToken).ConfigureAwait(false);
                Console.Out.WriteLine(asJson ? SignalingReportFormat.ToJson(report) : SignalingReportFormat.ToTable(report));
                return report.Failed ? 1 : 0;
            }
            catch (BenchException e)
            {
                Console.Error.WriteLine($"ghostchat bench signaling: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    private static bool Given<T>(ParseResult parse, Option<T> option) =>
        parse.GetResult(option) is { Implicit: false };
}
