using System.Diagnostics;

namespace GhostChat.Testing;

/// <summary>What a finished process printed and how it ended.</summary>
public sealed record ProcessResult(int Exit, string Stdout, string Stderr)
{
    /// <summary>Standard output then standard error.</summary>
    public string Output => Stdout + Stderr;
}

/// <summary>
/// Runs a program to its end with a timeout. A program that overruns is stopped by its own process id (never by name,
/// the machine is shared) and the run fails with <see cref="TimeoutException"/>.
/// </summary>
public static class ProcessRunner
{
    public static Task<ProcessResult> RunAsync(string file, params string[] args) => RunAsync(file, args, TimeSpan.FromSeconds(120));

    public static async Task<ProcessResult> RunAsync(string file, IEnumerable<string> args, TimeSpan timeout, IDictionary<string, string>? environment = null)
    {
        var psi = StartInfo(file, args, environment);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException(file + " did not start");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException ex)
        {
            p.Kill(); // this process's own id
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeout.TotalSeconds:0} s", ex);
        }
        return new ProcessResult(p.ExitCode, await stdout, await stderr);
    }

    /// <summary>Output redirected, no shell, the arguments as given (no quoting rules).</summary>
    public static ProcessStartInfo StartInfo(string file, IEnumerable<string> args, IDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }
        return psi;
    }
}
