namespace GhostChat.Cli.Commands;

/// <summary>The GhostChat server address stats and feedback take, as doctor does: <c>host:port</c> or an http(s) URL.</summary>
internal static class ServerUrl
{
    public const string Default = DoctorCommand.DefaultUrl;

    /// <summary>
    /// <paramref name="text"/> as an absolute http(s) URL ending in '/' (so relative paths such as <c>api/stats</c> stay
    /// under a path prefix); "http://" is assumed when no scheme is given. False with <paramref name="error"/> otherwise.
    /// </summary>
    public static bool TryParse(string text, out Uri url, out string error)
    {
        if (!text.Contains("://", StringComparison.Ordinal))
        {
            text = "http://" + text;
        }
        if (!Uri.TryCreate(text, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https"))
        {
            url = null!;
            error = $"'{text}' is not an http:// or https:// URL.";
            return false;
        }
        url = parsed.AbsolutePath.EndsWith('/') ? parsed : new UriBuilder(parsed) { Path = parsed.AbsolutePath + "/" }.Uri;
        error = "";
        return true;
    }
}
