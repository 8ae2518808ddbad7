using System.Text;

namespace GhostChat.Cli.FieldData;

/// <summary>
/// Text from the server (feedback people typed, keys of the aggregates) made safe to print: control characters other
/// than newline and tab, and direction overrides, become U+FFFD, so no answer can move the cursor, recolour the
/// terminal or reorder what the operator reads. The server refuses such feedback already; this does not trust it to.
/// </summary>
internal static class TerminalText
{
    public static string Safe(string text)
    {
        if (!text.Any(IsUnsafe))
        {
            return text;
        }
        var builder = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            builder.Append(IsUnsafe(c) ? '\uFFFD' : c);
        }
        return builder.ToString();
    }

    private static bool IsUnsafe(char c) =>
        (char.IsControl(c) && c is not ('\n' or '\t')) || c is (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069');
}
