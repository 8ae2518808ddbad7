namespace GhostChat.Server.Web;

/// <summary>Where the built web app lives. Section <c>GhostChat:Web</c>.</summary>
public sealed class WebOptions
{
    public const string SectionName = "GhostChat:Web";

    /// <summary>
    /// Folder holding the built app (index.html, sw.js, assets/). Default: <c>webapp</c> beside the
    /// server's dll, where the build copies <c>web/dist</c>. When it has no index.html, a plain page
    /// says the app is not built.
    /// </summary>
    public string? RootPath { get; set; }

    /// <summary>Cache lifetime of content-hashed files under <c>/assets/</c>. Default: one year, immutable.</summary>
    public TimeSpan HashedAssetMaxAge { get; set; } = TimeSpan.FromDays(365);
}
