namespace GhostChat.Server.Ice.Providers;

/// <summary>The <c>Type</c> values: the embedded TURN server makes "embedded" (its <see cref="IIceProviderFactory"/>), the registry the rest.</summary>
internal static class IceProviderTypes
{
    public const string Embedded = "embedded";
    public const string RestSecret = "rest-secret";
    public const string Static = "static";
    public const string Twilio = "twilio";
    public const string Cloudflare = "cloudflare";
    public const string Metered = "metered";

    public static readonly string[] All = [Embedded, RestSecret, Static, Twilio, Cloudflare, Metered];
}
