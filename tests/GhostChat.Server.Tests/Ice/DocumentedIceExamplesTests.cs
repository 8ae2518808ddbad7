using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using GhostChat.Server.EmbeddedTurn;
using GhostChat.Server.Ice;
using GhostChat.Server.Ice.Providers;
using GhostChat.Turn.Server;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Tests.Ice;

/// <summary>
/// The configuration examples of docs/operator-guide.md, section "ICE servers: providers, health and failover",
/// stay true: every ```json example binds (no unknown keys) and passes the server's validation, every provider type
/// has one, and each is followed by a ```sh block of environment variables that binds to the same options.
/// </summary>
public sealed partial class DocumentedIceExamplesTests
{
    private const string Heading = "### ICE servers: providers, health and failover";

    private static readonly Lazy<List<Example>> All = new(Load);

    [Fact]
    public void Section_ExistsWithPairedJsonAndEnvironmentExamples()
    {
        // Load() asserts the pairing; here, that there is something to check at all.
        Assert.True(All.Value.Count >= IceProviderTypes.All.Length, $"expected at least {IceProviderTypes.All.Length} examples, found {All.Value.Count}");
    }

    [Fact]
    public void EveryJsonExample_BindsWithoutUnknownKeys_AndPassesValidation()
    {
        var problems = new List<string>();
        foreach (var example in All.Value)
        {
            try
            {
                var config = FromJson(example.Json);
                var outside = config.AsEnumerable()
                    .Where(kv => kv.Value is not null)
                    .Select(kv => kv.Key)
                    .Where(k => !k.StartsWith(IceOptions.SectionName + ":", StringComparison.OrdinalIgnoreCase)
                        && !k.StartsWith(EmbeddedTurnExtensions.SectionName + ":", StringComparison.OrdinalIgnoreCase))
                    .ToList();
                if (outside.Count > 0)
                {
                    problems.Add($"line {example.Line}: keys outside {IceOptions.SectionName} and {EmbeddedTurnExtensions.SectionName}: {string.Join(", ", outside)}");
                }
                var result = Validate(config);
                if (result.Failed)
                {
                    problems.Add($"line {example.Line}: {result.FailureMessage}");
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException or FormatException or JsonException or InvalidDataException)
            {
                problems.Add($"line {example.Line}: {ex.Message} {ex.InnerException?.Message}");
            }
        }
        Assert.True(problems.Count == 0, "Documented ICE examples that the server would refuse:\n" + string.Join("\n", problems));
    }

    [Fact]
    public void EveryProviderType_HasAnExample()
    {
        var documented = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var example in All.Value)
        {
            foreach (var provider in BindIce(FromJson(example.Json)).Providers.Values)
            {
                if (provider.Type is not null)
                {
                    documented.Add(provider.Type);
                }
            }
        }
        var missing = IceProviderTypes.All.Where(t => !documented.Contains(t)).ToList();
        Assert.True(missing.Count == 0, $"{Heading} has no example for provider type(s): {string.Join(", ", missing)}");
    }

    [Fact]
    public void EveryEnvironmentExample_BindsToTheSameOptionsAsItsJsonTwin()
    {
        var problems = new List<string>();
        foreach (var example in All.Value)
        {
            var json = FromJson(example.Json);
            var env = new ConfigurationBuilder().AddInMemoryCollection(example.Env).Build();

            var jsonKeys = Leaves(json);
            var envKeys = Leaves(env);
            var onlyJson = jsonKeys.Except(envKeys, StringComparer.OrdinalIgnoreCase).ToList();
            var onlyEnv = envKeys.Except(jsonKeys, StringComparer.OrdinalIgnoreCase).ToList();
            if (onlyJson.Count > 0 || onlyEnv.Count > 0)
            {
                problems.Add($"line {example.Line}: only in JSON: [{string.Join(", ", onlyJson)}]; only in the environment block (line {example.EnvLine}): [{string.Join(", ", onlyEnv)}]");
                continue;
            }
            try
            {
                var fromJson = Describe(BindIce(json), BindTurn(json));
                var fromEnv = Describe(BindIce(env), BindTurn(env));
                if (fromJson != fromEnv)
                {
                    problems.Add($"line {example.Line} / {example.EnvLine}: the two forms bind differently:\n  json: {fromJson}\n  env:  {fromEnv}");
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException or FormatException)
            {
                problems.Add($"line {example.Line} / {example.EnvLine}: {ex.Message} {ex.InnerException?.Message}");
            }
        }
        Assert.True(problems.Count == 0, "Environment examples that differ from their JSON twins:\n" + string.Join("\n", problems));
    }

    [Fact]
    public void TheChecks_RefuseABrokenExample()
    {
        // The same checks on an example that is wrong in the ways the docs could drift.
        const string Broken = """{ "GhostChat": { "Ice": { "Providers": { "fleet": { "Type": "rest-secret", "Urls": [ "turn:t.example.org" ], "Secrets": [ "short" ] } } } } }""";
        Assert.True(Validate(FromJson(Broken)).Failed);
        const string Stale = """{ "GhostChat": { "Ice": { "Providers": { "tw": { "Type": "twilio", "AccountSid": "AC0", "AuthToken": "x", "Sid": "renamed" } } } } }""";
        Assert.Throws<InvalidOperationException>(() => BindIce(FromJson(Stale)));
        Assert.Throws<FormatException>(() => ParseEnvironment("GhostChat__Ice__Providers__x__Urls__0=turn:h:3478?transport=udp", 1));
    }

    private sealed record Example(int Line, string Json, int EnvLine, Dictionary<string, string?> Env);

    private sealed record Block(string Info, string Text, int Line);

    /// <summary>As the host checks GhostChat:Ice: the ICE service's validator and the embedded TURN server's.</summary>
    private static ValidateOptionsResult Validate(IConfiguration config)
    {
        var ice = BindIce(config);
        IValidateOptions<IceOptions>[] validators = [new IceOptionsValidator(), new EmbeddedIceOptionsValidator(Options.Create(BindTurn(config)))];
        var failures = validators.Select(v => v.Validate(null, ice)).Where(r => r.Failed).SelectMany(r => r.Failures ?? []).ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static IConfiguration FromJson(string json) =>
        new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();

    private static IceOptions BindIce(IConfiguration config)
    {
        var options = new IceOptions();
        config.GetSection(IceOptions.SectionName).Bind(options, b => b.ErrorOnUnknownConfiguration = true);
        return options;
    }

    private static TurnServerOptions BindTurn(IConfiguration config)
    {
        var options = new TurnServerOptions();
        config.GetSection(EmbeddedTurnExtensions.SectionName).Bind(options, b => b.ErrorOnUnknownConfiguration = true);
        return options;
    }

    private static List<string> Leaves(IConfiguration config) =>
        [.. config.AsEnumerable().Where(kv => kv.Value is not null).Select(kv => kv.Key)];

    private static readonly JsonSerializerOptions DescribeOptions = new() { WriteIndented = false };

    /// <summary>The bound options as text (the embedded TURN server's only field that matters here is Enabled).</summary>
    private static string Describe(IceOptions ice, TurnServerOptions turn) =>
        JsonSerializer.Serialize(ice, DescribeOptions) + " turn.Enabled=" + turn.Enabled;

    private static List<Example> Load()
    {
        var blocks = Blocks(Section());
        var examples = new List<Example>();
        for (int i = 0; i < blocks.Count; i++)
        {
            var block = blocks[i];
            if (block.Info == "sh")
            {
                throw new InvalidOperationException($"docs/operator-guide.md line {block.Line}: a ```sh block in \"{Heading}\" must follow the ```json example it repeats.");
            }
            if (block.Info != "json")
            {
                continue; // samples such as the ```jsonc /api/ice answer are not configuration
            }
            var next = blocks.Skip(i + 1).FirstOrDefault(b => b.Info is "json" or "sh");
            if (next is null || next.Info != "sh")
            {
                throw new InvalidOperationException($"docs/operator-guide.md line {block.Line}: the ```json example has no ```sh block of environment variables after it.");
            }
            examples.Add(new Example(block.Line, block.Text, next.Line, ParseEnvironment(next.Text, next.Line)));
            i = blocks.IndexOf(next);
        }
        return examples;
    }

    [GeneratedRegex(@"^(?:export\s+)?(?<key>GhostChat__[A-Za-z0-9_.-]+)=(?<value>.*)$", RegexOptions.ExplicitCapture, matchTimeoutMilliseconds: 1000)]
    private static partial Regex Assignment();

    [GeneratedRegex(@"^[A-Za-z0-9_.:/@+,-]*$", RegexOptions.None, matchTimeoutMilliseconds: 1000)]
    private static partial Regex PlainValue();

    /// <summary>NAME=value lines (values plain or in single or double quotes); '#' comments and blank lines skipped.</summary>
    private static Dictionary<string, string?> ParseEnvironment(string text, int line)
    {
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (raw, n) in text.Split('\n').Select((l, n) => (l.Trim(), n)))
        {
            if (raw.Length == 0 || raw.StartsWith('#'))
            {
                continue;
            }
            var m = Assignment().Match(raw);
            if (!m.Success)
            {
                throw new FormatException($"line {line + 1 + n}: not a GhostChat__…=value assignment: {raw}");
            }
            var value = m.Groups["value"].Value;
            if (value.Length >= 2 && ((value[0] == '\'' && value[^1] == '\'') || (value[0] == '"' && value[^1] == '"')))
            {
                value = value[1..^1];
            }
            else if (!PlainValue().IsMatch(value))
            {
                throw new FormatException($"line {line + 1 + n}: quote this value for the shell: {raw}");
            }
            var key = m.Groups["key"].Value.Replace("__", ":", StringComparison.Ordinal);
            if (!values.TryAdd(key, value))
            {
                throw new FormatException($"line {line + 1 + n}: {key} is set twice");
            }
        }
        return values;
    }

    /// <summary>The section's text, from its heading to the next heading of level 2 or 3 outside a code block.</summary>
    private static List<(string Text, int Line)> Section()
    {
        var path = Path.Combine(RepositoryRoot(), "docs", "operator-guide.md");
        var lines = File.ReadAllText(path).Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        int start = Array.IndexOf(lines, Heading);
        Assert.True(start >= 0, $"docs/operator-guide.md has no heading \"{Heading}\"");
        var section = new List<(string, int)>();
        bool fenced = false;
        for (int i = start + 1; i < lines.Length; i++)
        {
            if (lines[i].StartsWith("```", StringComparison.Ordinal))
            {
                fenced = !fenced;
            }
            else if (!fenced && (lines[i].StartsWith("## ", StringComparison.Ordinal) || lines[i].StartsWith("### ", StringComparison.Ordinal)))
            {
                break;
            }
            section.Add((lines[i], i + 1));
        }
        return section;
    }

    private static List<Block> Blocks(List<(string Text, int Line)> lines)
    {
        var blocks = new List<Block>();
        for (int i = 0; i < lines.Count; i++)
        {
            if (!lines[i].Text.StartsWith("```", StringComparison.Ordinal))
            {
                continue;
            }
            var info = lines[i].Text[3..].Trim();
            var body = new StringBuilder();
            int j = i + 1;
            for (; j < lines.Count && !lines[j].Text.StartsWith("```", StringComparison.Ordinal); j++)
            {
                body.Append(lines[j].Text).Append('\n');
            }
            Assert.True(j < lines.Count, $"docs/operator-guide.md line {lines[i].Line}: code block not closed");
            blocks.Add(new Block(info, body.ToString(), lines[i].Line));
            i = j;
        }
        return blocks;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "GhostChat.slnx")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"GhostChat.slnx not found above {AppContext.BaseDirectory}");
    }
}
