namespace GhostChat.Cli.Bench;

/// <summary>What `ghostchat bench signaling` does. Defaults suit a 2-core machine; see --quick.</summary>
internal sealed class SignalingBenchOptions
{
    /// <summary>Base URL of the PeerJS server including its path. Default http://127.0.0.1:9000/.</summary>
    public Uri ServerUrl { get; set; } = new("http://127.0.0.1:9000/");

    /// <summary>
    /// A second node of the same service (cluster mode): pairs are spread so that half of them have
    /// their two peers on different nodes. Null: every peer on <see cref="ServerUrl"/>.
    /// </summary>
    public Uri? SecondServerUrl { get; set; }

    /// <summary>PeerJS API key. Default "peerjs".</summary>
    public string Key { get; set; } = "peerjs";

    /// <summary>Peer pairs for the relay phases. Default 50.</summary>
    public int Pairs { get; set; } = 50;

    /// <summary>Length of each measured relay phase. Default 10 s.</summary>
    public TimeSpan Duration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Un-measured run-in before each relay phase. Default 1 s.</summary>
    public TimeSpan Warmup { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Fixed offered load (messages/s, all pairs) of the latency phase. Default 1000.</summary>
    public double Rate { get; set; } = 1000;

    /// <summary>Messages in flight per pair at saturation. Default 4.</summary>
    public int Window { get; set; } = 4;

    /// <summary>
    /// Exact size in bytes of each relayed OFFER/ANSWER frame (the SDP text is cut or repeated to
    /// fit). Null: an SDP-sized frame of about 3.1 KB, as the official client sends.
    /// </summary>
    public int? MessageBytes { get; set; }

    /// <summary>Idle peers registered for the connection-rate and memory phase. Default 10,000.</summary>
    public int IdlePeers { get; set; } = 10_000;

    /// <summary>WebSocket handshakes in flight at once. Default 32.</summary>
    public int ConnectConcurrency { get; set; } = 32;

    /// <summary>Time to wait for a peer's OPEN. Default 30 s.</summary>
    public TimeSpan OpenTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Heartbeat period, as the official client (5 s).</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long the idle peers stay registered, heartbeating, before the server's RSS and the peers
    /// still open are read (--hold). Default 2 s.
    /// </summary>
    public TimeSpan SettleBeforeRss { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Run the closed-loop throughput phase. Default true.</summary>
    public bool RunThroughput { get; set; } = true;

    /// <summary>Run the fixed-rate latency phase. Default true.</summary>
    public bool RunLatency { get; set; } = true;

    /// <summary>Run the idle-peer (connections/s, memory) phase. Default true.</summary>
    public bool RunIdle { get; set; } = true;

    /// <summary>Server process whose VmRSS is read around the idle phase; null = not measured.</summary>
    public int? ServerPid { get; set; }

    /// <summary>The smoke-run preset behind --quick.</summary>
    public static SignalingBenchOptions Quick() => new()
    {
        Pairs = 4,
        Window = 2,
        Duration = TimeSpan.FromSeconds(2),
        Warmup = TimeSpan.FromMilliseconds(300),
        Rate = 100,
        IdlePeers = 100,
        SettleBeforeRss = TimeSpan.FromMilliseconds(500),
    };

    /// <summary>Every problem with these options, empty when they are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        var scheme = ServerUrl.Scheme;
        if (!ServerUrl.IsAbsoluteUri || scheme is not ("http" or "https" or "ws" or "wss"))
            errors.Add($"--url must be an absolute http(s):// or ws(s):// URL, got '{ServerUrl}'.");
        if (SecondServerUrl is { } second && (!second.IsAbsoluteUri || second.Scheme is not ("http" or "https" or "ws" or "wss")))
            errors.Add($"--second-url must be an absolute http(s):// or ws(s):// URL, got '{second}'.");
        if (string.IsNullOrEmpty(Key)) errors.Add("--key must not be empty.");
        if (Pairs is < 1 or > 5000) errors.Add($"--pairs must be 1..5000, got {Pairs}.");
        if (Duration <= TimeSpan.Zero || Duration > TimeSpan.FromMinutes(10)) errors.Add("--duration must be more than 0 and at most 600 seconds.");
        if (Warmup < TimeSpan.Zero || Warmup > TimeSpan.FromMinutes(10)) errors.Add("--warmup must be 0..600 seconds.");
        if (Rate is <= 0 or > 1_000_000 || double.IsNaN(Rate)) errors.Add($"--rate must be more than 0 and at most 1000000, got {Rate}.");
        if (Window is < 1 or > 1024) errors.Add($"--window must be 1..1024, got {Window}.");
        if (MessageBytes is < 256 or > 65_536) errors.Add($"--message-size must be 256..65536 bytes, got {MessageBytes}.");
        if (IdlePeers is < 1 or > 100_000) errors.Add($"--idle-peers must be 1..100000, got {IdlePeers}.");
        if (ConnectConcurrency is < 1 or > 1024) errors.Add($"--connect-concurrency must be 1..1024, got {ConnectConcurrency}.");
        if (SettleBeforeRss < TimeSpan.Zero || SettleBeforeRss > TimeSpan.FromHours(1)) errors.Add("--hold must be 0..3600 seconds.");
        if (ServerPid is <= 0) errors.Add("--server-pid must be a positive process id.");
        if (!RunThroughput && !RunLatency && !RunIdle) errors.Add("nothing to do: --phases is empty.");
        return errors;
    }
}

/// <summary>A benchmark that cannot go on (server unreachable, registration refused …).</summary>
internal sealed class BenchException(string message, Exception? inner = null) : Exception(message, inner);
