using System.Text.Json;
using GhostChat.Turn.Client;

namespace GhostChat.Cli.Doctor;

/// <summary>One URL of one RTCIceServer in /api/ice, with its credentials and the provider that gave it.</summary>
internal sealed record IceAnswerServer(IceUrl Url, string? Username, string? Credential, string? Provider);

/// <summary>What /api/ice said (contract C2), reduced to what the checks need.</summary>
internal sealed record IceAnswer(IReadOnlyList<IceAnswerServer> Servers, IReadOnlyList<IceUrl> StunProbes)
{
    /// <summary>
    /// Reads an /api/ice body. False with <paramref name="problem"/> when it is not the JSON GhostChat sends; URLs
    /// that cannot be read are left out and listed in <paramref name="ignored"/>.
    /// </summary>
    public static bool TryParse(string body, out IceAnswer answer, out string problem, out List<string> ignored)
    {
        answer = null!;
        problem = "";
        ignored = [];
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body);
        }
        catch (JsonException ex)
        {
            problem = "not JSON (" + ex.Message.Split('.')[0] + ")";
            return false;
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("iceServers", out var list) || list.ValueKind != JsonValueKind.Array)
            {
                problem = "no \"iceServers\" array";
                return false;
            }
            string?[] providers = root.TryGetProperty("providers", out var pv) && pv.ValueKind == JsonValueKind.Array
                ? [.. pv.EnumerateArray().Select(p => p.ValueKind == JsonValueKind.String ? p.GetString() : null)]
                : [];
            var servers = new List<IceAnswerServer>();
            int index = 0;
            foreach (var server in list.EnumerateArray())
            {
                if (server.ValueKind != JsonValueKind.Object || !server.TryGetProperty("urls", out var urls))
                {
                    problem = $"iceServers[{index}] has no \"urls\"";
                    return false;
                }
                var texts = urls.ValueKind switch
                {
                    JsonValueKind.String => [urls.GetString()],
                    JsonValueKind.Array => urls.EnumerateArray()
                        .Select(u => u.ValueKind == JsonValueKind.String ? u.GetString() : null).ToList(),
                    _ => null,
                };
                if (texts is null || texts.Any(t => t is null))
                {
                    problem = $"iceServers[{index}].urls is not a string or a list of strings";
                    return false;
                }
                string? username = StringOrNull(server, "username");
                string? credential = StringOrNull(server, "credential");
                string? provider = index < providers.Length ? providers[index] : null;
                foreach (var text in texts)
                {
                    if (IceUrl.TryParse(text, IceUrlSyntax.Lenient, out var url, out var error))
                    {
                        servers.Add(new IceAnswerServer(url, username, credential, provider));
                    }
                    else
                    {
                        ignored.Add(error);
                    }
                }
                index++;
            }
            answer = new IceAnswer(servers, StunProbesOf(root, ignored));
            return true;
        }
    }

    private static string? StringOrNull(JsonElement server, string name) =>
        server.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>The embedded server's two STUN ports (RFC 5780 without OTHER-ADDRESS), when the answer names them.</summary>
    private static List<IceUrl> StunProbesOf(JsonElement root, List<string> ignored)
    {
        var probes = new List<IceUrl>();
        if (root.TryGetProperty("stunProbes", out var sp) && sp.ValueKind == JsonValueKind.Array)
        {
            foreach (var p in sp.EnumerateArray())
            {
                if (p.ValueKind == JsonValueKind.String && IceUrl.TryParse(p.GetString(), IceUrlSyntax.Lenient, out var url, out _) && !url.IsTurn)
                {
                    probes.Add(url);
                }
                else
                {
                    ignored.Add("stunProbes: " + (p.ValueKind == JsonValueKind.String ? p.GetString() : p.ValueKind.ToString()));
                }
            }
        }
        return probes;
    }
}
