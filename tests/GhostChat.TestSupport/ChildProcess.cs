using System.Diagnostics;
using System.Text;

namespace GhostChat.Testing;

/// <summary>
/// A server a test starts and stops: coturn, redis-server, a GhostChat node. Its output is kept (for failure messages)
/// and watched line by line; it is stopped by its own process id and waited for (at most 10 s).
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly Func<string, bool>? _ready;
    private readonly TaskCompletionSource _readySeen = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ChildProcess(ProcessStartInfo psi, Func<string, bool>? ready)
    {
        _ready = ready;
        _process = Process.Start(psi) ?? throw new InvalidOperationException(psi.FileName + " did not start");
        _process.OutputDataReceived += (_, e) => Line(e.Data);
        _process.ErrorDataReceived += (_, e) => Line(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Everything it printed so far.</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Starts <paramref name="psi"/> (output must be redirected; see <see cref="ProcessRunner.StartInfo"/>).</summary>
    /// <param name="psi">What to run.</param>
    /// <param name="ready">A line that says the program is ready (see <see cref="WaitReadyAsync"/>).</param>
    public static ChildProcess Start(ProcessStartInfo psi, Func<string, bool>? ready = null) => new(psi, ready);

    /// <summary>Waits for the ready line; fails when the program exits first or the timeout passes.</summary>
    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        var exited = _process.WaitForExitAsync();
        var done = await Task.WhenAny(_readySeen.Task, exited, Task.Delay(timeout));
        if (done != _readySeen.Task)
        {
            throw new InvalidOperationException($"{_process.StartInfo.FileName} {(done == exited ? "exited" : "was not ready in " + timeout.TotalSeconds + " s")}:\n{Log}");
        }
    }

    /// <summary>Stops it by its own process id, no goodbye, and waits for it to exit.</summary>
    public async Task KillAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _process.WaitForExitAsync(cts.Token);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }

    private void Line(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_log)
        {
            _log.AppendLine(line);
        }
        if (_ready?.Invoke(line) == true)
        {
            _readySeen.TrySetResult();
        }
    }
}
