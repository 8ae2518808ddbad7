using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace GhostChat.Cli.Bench;

/// <summary>
/// The signaling load generator. Speaks only the PeerJS wire protocol, so it measures any PeerJS
/// server. Phases, each optional:
/// 1. throughput: pairs relay OFFER → ANSWER in a closed loop (Window in flight per pair) for Duration;
/// 2. latency: the A side of each pair sends OFFERs at a fixed total Rate, open loop; the B side
///    records the one-way relay latency from the stamp in the payload (same clock, same process);
/// 3. idle: IdlePeers register (ConnectConcurrency handshakes in flight), heartbeat and stay silent;
///    gives connections per second and, with ServerPid, the server's VmRSS growth per peer.
/// </summary>
internal sealed class SignalingBench(SignalingBenchOptions options, TextWriter progress)
{
    private readonly string _runTag = RandomTag(6);

    public async Task<SignalingReport> RunAsync(CancellationToken cancellationToken)
    {
        // Receive loops are short continuations; never let them wait for thread injection.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 8), io);
        var socketBase = SocketBase(options.ServerUrl);
        var report = new SignalingReport
        {
            Url = options.ServerUrl.ToString(),
            SecondUrl = options.SecondServerUrl?.ToString(),
            Pairs = options.Pairs,
            PayloadBytes = new OfferPayload.Template("OFFER", "x", "dc_x", options.MessageBytes).Length,
        };

        if (options.RunThroughput || options.RunLatency)
        {
            progress.WriteLine($"registering {options.Pairs} pairs at {socketBase} …");
            var secondBase = options.SecondServerUrl is { } second ? SocketBase(second) : null;
            var (peers, _) = await RegisterAsync(p => secondBase is not null && NodeOf(p) == 1 ? secondBase : socketBase, "p", options.Pairs * 2, cancellationToken).ConfigureAwait(false);
            try
            {
                using var heartbeats = new CancellationTokenSource();
                var heartbeating = HeartbeatLoopAsync(peers, heartbeats.Token);
                if (options.RunThroughput)
                {
                    progress.WriteLine($"throughput: {options.Pairs} pairs, {options.Window} in flight each, {options.Duration.TotalSeconds:0.#} s …");
                    report.Throughput = await RunThroughputAsync(peers, cancellationToken).ConfigureAwait(false);
                }
                if (options.RunLatency)
                {
                    progress.WriteLine($"latency: {options.Rate:0.#} msg/s offered for {Math.Max(options.Duration.TotalSeconds, 2):0.#} s …");
                    report.Latency = await RunLatencyAsync(peers, cancellationToken).ConfigureAwait(false);
                }
                await heartbeats.CancelAsync().ConfigureAwait(false);
                await heartbeating.ConfigureAwait(false);
            }
            finally
            {
                await DisposeAllAsync(peers).ConfigureAwait(false);
            }
        }

        if (options.RunIdle)
        {
            progress.WriteLine($"idle: registering {options.IdlePeers} peers, {options.ConnectConcurrency} handshakes in flight …");
            report.Idle = await RunIdleAsync(socketBase, cancellationToken).ConfigureAwait(false);
        }
        return report;
    }

    private async Task<ThroughputResult> RunThroughputAsync(BenchPeer[] peers, CancellationToken cancellationToken)
    {
        var pairs = options.Pairs;
        var running = 1; // 1 while OFFERs are released, 0 to drain
        var counting = 0;
        long received = 0;
        var latencies = new LatencySample(200_000);
        var errors = 0L;

        var offers = new OfferPayload.Template[pairs];
        var answers = new OfferPayload.Template[pairs];
        for (var i = 0; i < pairs; i++)
        {
            var (a, b) = (peers[2 * i], peers[2 * i + 1]);
            offers[i] = new OfferPayload.Template("OFFER", b.Id, "dc_t" + i, options.MessageBytes);
            answers[i] = new OfferPayload.Template("ANSWER", a.Id, "dc_t" + i, options.MessageBytes);
            var pair = i;
            // B answers every OFFER; A releases the next OFFER for every ANSWER.
            b.Relayed = (self, frame) => OnRelayed(self, frame, answers[pair], release: true);
            a.Relayed = (self, frame) => OnRelayed(self, frame, offers[pair], release: Volatile.Read(ref running) == 1);
        }

        async ValueTask OnRelayed(BenchPeer self, ReadOnlyMemory<byte> frame, OfferPayload.Template reply, bool release)
        {
            var stamp = OfferPayload.ReadStamp(frame.Span);
            if (stamp < 0) return;
            if (Volatile.Read(ref counting) == 1)
            {
                Interlocked.Increment(ref received);
                latencies.Add(OfferPayload.MillisecondsSince(stamp));
            }
            if (!release) return;
            // The receive loop awaits its reply: a slow server slows the loop, which is the point.
            try
            {
                await self.SendAsync(reply.Stamp(Stopwatch.GetTimestamp()), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is System.Net.WebSockets.WebSocketException or IOException or ObjectDisposedException)
            {
                Interlocked.Increment(ref errors);
            }
        }

        var start = new List<Task>(pairs * options.Window);
        for (var i = 0; i < pairs; i++)
            for (var w = 0; w < options.Window; w++)
                start.Add(peers[2 * i].SendAsync(offers[i].Stamp(Stopwatch.GetTimestamp()), cancellationToken));
        await Task.WhenAll(start).ConfigureAwait(false);

        await Task.Delay(options.Warmup, cancellationToken).ConfigureAwait(false);
        var cpuBefore = ReadCpuSeconds();
        var clock = Stopwatch.StartNew();
        Volatile.Write(ref counting, 1);
        await Task.Delay(options.Duration, cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref counting, 0);
        var elapsed = clock.Elapsed.TotalSeconds;
        var count = Interlocked.Read(ref received);
        var cpu = ReadCpuSeconds() - cpuBefore;
        Volatile.Write(ref running, 0);
        // Let the frames in flight land before the latency phase reuses these peers.
        await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
        foreach (var peer in peers) peer.Relayed = null;

        return new ThroughputResult
        {
            Seconds = Math.Round(elapsed, 3),
            Messages = count,
            MessagesPerSecond = Math.Round(count / elapsed, 1),
            P50Ms = latencies.Percentile(50),
            P99Ms = latencies.Percentile(99),
            SendErrors = Interlocked.Read(ref errors),
            ServerCpuPercent = cpu is { } c ? Math.Round(c / elapsed * 100, 1) : null,
            ServerCpuMicrosecondsPerMessage = cpu is { } m && count > 0 ? Math.Round(m * 1e6 / count, 2) : null,
        };
    }

    private async Task<LatencyResult> RunLatencyAsync(BenchPeer[] peers, CancellationToken cancellationToken)
    {
        var pairs = options.Pairs;
        var duration = options.Duration > TimeSpan.FromSeconds(2) ? options.Duration : TimeSpan.FromSeconds(2);
        long countFrom = long.MaxValue; // stamps (due times) at or after this are measured
        var closed = 0;
        long received = 0, sent = 0, late = 0;
        var latencies = new LatencySample((int)Math.Min(2_000_000, options.Rate * duration.TotalSeconds * 1.2 + 16));
        var lag = new LatencySample((int)Math.Min(2_000_000, options.Rate * (duration + options.Warmup).TotalSeconds * 1.2 + 16));
        var offers = new OfferPayload.Template[pairs];
        for (var i = 0; i < pairs; i++)
        {
            offers[i] = new OfferPayload.Template("OFFER", peers[2 * i + 1].Id, "dc_l" + i, options.MessageBytes);
            peers[2 * i + 1].Relayed = (_, frame) =>
            {
                var stamp = OfferPayload.ReadStamp(frame.Span);
                if (stamp >= Volatile.Read(ref countFrom) && Volatile.Read(ref closed) == 0)
                {
                    Interlocked.Increment(ref received);
                    latencies.Add(OfferPayload.MillisecondsSince(stamp));
                }
                return ValueTask.CompletedTask;
            };
        }

        // Open loop: message n is due at n / Rate seconds; the scheduler sends whatever is due,
        // stamped with its due time, so a sender that falls behind shows up as latency too.
        var origin = Stopwatch.GetTimestamp();
        var ticksPerMessage = Stopwatch.Frequency / options.Rate;
        Volatile.Write(ref countFrom, origin + (long)(options.Warmup.TotalSeconds * Stopwatch.Frequency));
        var end = options.Warmup + duration;
        // A dedicated thread: Thread.Sleep(1) keeps to about a millisecond where a timer-based
        // Task.Delay(1) can oversleep by 10 ms and more on a loaded machine.
        var senderDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sender = new Thread(() =>
        {
            try
            {
                SendOnSchedule();
                senderDone.TrySetResult();
            }
            catch (Exception e)
            {
                senderDone.TrySetException(e);
            }
        })
        { IsBackground = true, Name = "bench-latency-sender" };

        void SendOnSchedule()
        {
            long n = 0;
            while (!cancellationToken.IsCancellationRequested)
            {
                var now = Stopwatch.GetElapsedTime(origin);
                if (now >= end) break;
                var due = (long)(now.TotalSeconds * options.Rate);
                if (due - n > Math.Max(options.Rate / 10, 10)) late++; // more than 100 ms behind
                for (; n < due; n++)
                {
                    var pair = (int)(n % pairs);
                    var dueAt = origin + (long)(n * ticksPerMessage);
                    var sendAt = Stopwatch.GetTimestamp();
                    lag.Add((sendAt - dueAt) * 1000.0 / Stopwatch.Frequency);
                    var send = peers[2 * pair].SendAsync(offers[pair].Stamp(sendAt), cancellationToken);
                    if (!send.IsCompleted) send.GetAwaiter().GetResult();
                    if (sendAt >= countFrom) sent++;
                }
                Thread.Sleep(1);
            }
        }
        // Awaited, not joined: a thread-pool thread blocked in Join would starve the receive loops
        // on a one-core generator until the pool injects another thread (about half a second).
        sender.Start();
        await senderDone.Task.ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        // Wait (bounded) for the last ones, then stop counting.
        var drainUntil = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 10;
        while (Interlocked.Read(ref received) < sent && Stopwatch.GetTimestamp() < drainUntil)
            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref closed, 1);
        foreach (var peer in peers) peer.Relayed = null;

        return new LatencyResult
        {
            OfferedPerSecond = options.Rate,
            Seconds = Math.Round(duration.TotalSeconds, 3),
            Sent = sent,
            Received = Interlocked.Read(ref received),
            P50Ms = latencies.Percentile(50),
            P99Ms = latencies.Percentile(99),
            P999Ms = latencies.Percentile(99.9),
            MaxMs = latencies.Percentile(100),
            GeneratorLagged = late > 0,
            SendLagP50Ms = lag.Percentile(50),
            SendLagP99Ms = lag.Percentile(99),
        };
    }

    private async Task<IdleResult> RunIdleAsync(Uri socketBase, CancellationToken cancellationToken)
    {
        var before = ReadRssKiB();
        var clock = Stopwatch.StartNew();
        var (peers, failures) = await RegisterAsync(_ => socketBase, "i", options.IdlePeers, cancellationToken, tolerateFailures: true).ConfigureAwait(false);
        var seconds = clock.Elapsed.TotalSeconds;
        try
        {
            using var heartbeats = new CancellationTokenSource();
            var heartbeating = HeartbeatLoopAsync(peers, heartbeats.Token);
            var cpuBefore = ReadCpuSeconds();
            var held = Stopwatch.StartNew();
            await Task.Delay(options.SettleBeforeRss, cancellationToken).ConfigureAwait(false);
            var after = options.ServerPid is null ? null : ReadRssKiB();
            var cpuHeld = ReadCpuSeconds() - cpuBefore;
            var heldSeconds = held.Elapsed.TotalSeconds;
            var stillOpen = peers.Count(p => p.IsOpen);
            await heartbeats.CancelAsync().ConfigureAwait(false);
            await heartbeating.ConfigureAwait(false);
            return new IdleResult
            {
                Peers = options.IdlePeers,
                Registered = peers.Length,
                Failed = failures,
                StillOpen = stillOpen,
                Seconds = Math.Round(seconds, 3),
                ConnectionsPerSecond = Math.Round(peers.Length / seconds, 1),
                HeldSeconds = Math.Round(heldSeconds, 1),
                ServerCpuPercentWhileHeld = cpuHeld is { } c && heldSeconds > 0 ? Math.Round(100 * c / heldSeconds, 2) : null,
                RssBeforeKiB = before,
                RssAfterKiB = after,
                BytesPerPeer = before is { } b && after is { } a && peers.Length > 0 ? Math.Round((a - b) * 1024.0 / peers.Length, 0) : null,
            };
        }
        finally
        {
            await DisposeAllAsync(peers).ConfigureAwait(false);
        }
    }

    /// <summary>Registers <paramref name="count"/> peers with bounded concurrency; all must succeed unless tolerated.</summary>
    /// <summary>
    /// Cluster mode: the node (0 or 1) of relay peer <paramref name="p"/> (pair p/2, A when p is even).
    /// A sits on node pair%2 and B on node (pair/2)%2, so a quarter of the pairs live on each node
    /// and half of them cross: both nodes carry the same load.
    /// </summary>
    internal static int NodeOf(int p) => p % 2 == 0 ? (p / 2) % 2 : (p / 4) % 2;

    private async Task<(BenchPeer[] Peers, int Failures)> RegisterAsync(Func<int, Uri> socketBaseFor, string prefix, int count, CancellationToken cancellationToken, bool tolerateFailures = false)
    {
        var peers = new BenchPeer?[count];
        var failures = 0;
        string? firstError = null;
        var next = -1;
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        async Task Worker()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count && !abort.IsCancellationRequested)
            {
                try
                {
                    peers[i] = await BenchPeer.ConnectAsync(socketBaseFor(i), options.Key, $"gcb{_runTag}{prefix}{i}", RandomTag(16), options.OpenTimeout, abort.Token).ConfigureAwait(false);
                }
                catch (BenchException e)
                {
                    Interlocked.Increment(ref failures);
                    Interlocked.CompareExchange(ref firstError, e.Message, null);
                    if (!tolerateFailures || Volatile.Read(ref failures) > Math.Max(10, count / 100)) await abort.CancelAsync().ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (abort.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    return;
                }
            }
        }
        var workers = Enumerable.Range(0, Math.Min(options.ConnectConcurrency, count)).Select(_ => Task.Run(Worker, CancellationToken.None));
        await Task.WhenAll(workers).ConfigureAwait(false);
        var registered = peers.Where(p => p is not null).Cast<BenchPeer>().ToArray();
        if (abort.IsCancellationRequested)
        {
            await DisposeAllAsync(registered).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            throw new BenchException($"{failures} of {count} peers could not register; first: {firstError}");
        }
        return (registered, failures);
    }

    private async Task HeartbeatLoopAsync(BenchPeer[] peers, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(options.HeartbeatInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                foreach (var peer in peers)
                {
                    if (!peer.IsOpen) continue;
                    try
                    {
                        await peer.SendHeartbeatAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is System.Net.WebSockets.WebSocketException or IOException or ObjectDisposedException)
                    {
                        // A dropped peer is counted where it matters (StillOpen, Received).
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>User + system CPU seconds of the server process so far (/proc/PID/stat), when its PID is known.</summary>
    private double? ReadCpuSeconds()
    {
        if (options.ServerPid is not { } pid) return null;
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (1-based).
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks / (double)ClockTicksPerSecond;
    }

    /// <summary>USER_HZ: 100 on every Linux architecture .NET runs on.</summary>
    private const int ClockTicksPerSecond = 100;

    private long? ReadRssKiB()
    {
        if (options.ServerPid is not { } pid) return null;
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (!line.StartsWith("VmRSS:", StringComparison.Ordinal)) continue;
            var digits = line["VmRSS:".Length..].Trim().Split(' ')[0];
            return long.Parse(digits, CultureInfo.InvariantCulture);
        }
        throw new BenchException($"/proc/{pid}/status has no VmRSS line");
    }

    private static async Task DisposeAllAsync(IEnumerable<BenchPeer> peers)
    {
        foreach (var peer in peers) await peer.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>ws(s)://host:port/path/ for an http(s) or ws(s) base URL, with a trailing slash.</summary>
    internal static Uri SocketBase(Uri url)
    {
        var builder = new UriBuilder(url)
        {
            Scheme = url.Scheme is "https" or "wss" ? "wss" : "ws",
            Query = string.Empty,
            Fragment = string.Empty,
        };
        if (!builder.Path.EndsWith('/')) builder.Path += "/";
        return builder.Uri;
    }

    private static string RandomTag(int length)
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
        var text = new StringBuilder(length);
        for (var i = 0; i < length; i++) text.Append(alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)]);
        return text.ToString();
    }
}

/// <summary>A thread-safe, bounded sample of latencies in milliseconds.</summary>
internal sealed class LatencySample(int capacity)
{
    private readonly double[] _values = new double[Math.Max(1, capacity)];
    private int _count;

    public void Add(double milliseconds)
    {
        var i = Interlocked.Increment(ref _count) - 1;
        if (i < _values.Length) _values[i] = milliseconds;
        else _values[Random.Shared.Next(_values.Length)] = milliseconds; // past capacity: keep a rough reservoir
    }

    public double? Percentile(double p)
    {
        var n = Math.Min(Volatile.Read(ref _count), _values.Length);
        if (n == 0) return null;
        var sorted = _values.AsSpan(0, n).ToArray();
        Array.Sort(sorted);
        var rank = (int)Math.Ceiling(p / 100.0 * n) - 1;
        return Math.Round(sorted[Math.Clamp(rank, 0, n - 1)], 3);
    }
}
