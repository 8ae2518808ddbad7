using System.CommandLine;

namespace GhostChat.Cli.Commands;

/// <summary>The root of the `ghostchat` command tree. New verbs (serve, doctor) add one line here.</summary>
internal static class CommandTree
{
    public static RootCommand Build()
    {
        var root = new RootCommand("GhostChat: private, ephemeral peer-to-peer chat. Server, diagnostics, benchmarks and field data.");
        root.Subcommands.Add(ServeCommand.Build());
        root.Subcommands.Add(HealthCommand.Build());
        root.Subcommands.Add(DoctorCommand.Build());
        root.Subcommands.Add(BenchCommand.Build());
        root.Subcommands.Add(StatsCommand.Build());
        root.Subcommands.Add(FeedbackCommand.Build());
        return root;
    }
}
