namespace GhostChat.Server.Files;

/// <summary>
/// Files and pictures (browser to browser; the server never carries them). Section <c>GhostChat:Files</c>.
/// The server only announces the limit: browsers learn it from <c>GET /api/ice</c> (<c>maxFileBytes</c>), the
/// one call every room page makes before it connects. Senders refuse to offer a larger file and receivers refuse
/// larger offers.
/// </summary>
internal sealed class FilesOptions
{
    public const string SectionName = "GhostChat:Files";

    /// <summary>The most the file protocol can describe (2^46 bytes, 64 TiB: <c>web/src/core/files/wire.ts</c>).</summary>
    public const long ProtocolMaxBytes = 1L << 46;

    /// <summary>Largest file the app sends or receives, in bytes. Default 4 GiB; 1 to 2^46 (64 TiB).</summary>
    public long MaxBytes { get; set; } = 4L << 30;
}
