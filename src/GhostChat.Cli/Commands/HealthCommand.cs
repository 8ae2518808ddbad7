using System.CommandLine;

namespace GhostChat.Cli.Commands;

/// <summary>
/// <c>ghostchat health [--url U]</c>: exit 0 when the server's readiness endpoint answers 200, 1
/// otherwise — for container HEALTHCHECKs and scripts on images that have no curl.
/// </summary>
internal static class HealthCommand
{
    public static Command Build()
    {
        var url = new Option<string>("--url")
        {
            Description = "Readiness URL to ask.",
            DefaultValueFactory = _ => "http://127.0.0.1:8080/readyz",
        };
        var timeout = new Option<double>("--timeout") { Description = "Seconds to wait for the answer.", DefaultValueFactory = _ => 3 };
        var command = new Command("health", "Check a running server's readiness (exit 0 when ready, 1 when not or unreachable).") { url, timeout };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!Uri.TryCreate(parse.GetValue(url), UriKind.Absolute, out var target) || target.Scheme is not ("http" or "https"))
            {
                await Console.Error.WriteLineAsync("ghostchat health: --url must be an absolute http(s) URL.");
                return 2;
            }
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(Math.Clamp(parse.GetValue(timeout), 0.1, 60)) };
            try
            {
                using var response = await http.GetAsync(target, cancellationToken);
                await Console.Out.WriteLineAsync($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
                return response.IsSuccessStatusCode ? 0 : 1;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                await Console.Error.WriteLineAsync($"ghostchat health: {target} did not answer ({ex.Message}).");
                return 1;
            }
        });
        return command;
    }
}
