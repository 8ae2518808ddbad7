using System.CommandLine;
using GhostChat.Server.Hosting;

namespace GhostChat.Cli.Commands;

/// <summary>
/// <c>ghostchat serve [server options]</c>: the same server as <c>dotnet run --project src/GhostChat.Server</c>
/// (same composition root, configuration and defaults), so the published CLI is all an operator needs.
/// Every argument after <c>serve</c> goes to the server unchanged: <c>--urls</c>, <c>--GhostChat:Section:Key=value</c>.
/// </summary>
internal static class ServeCommand
{
    public static Command Build()
    {
        var serverArgs = new Argument<string[]>("server-options")
        {
            Description = "Passed to the server unchanged, e.g. --urls http://0.0.0.0:8080 --GhostChat:Signaling:Key=secret (see README, Configuration).",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var command = new Command("serve", "Run the GhostChat server: signaling, STUN/TURN, the web app, health and metrics in one process.")
        {
            serverArgs,
        };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction((parse, _) =>
            GhostChatHost.RunAsync([.. parse.GetValue(serverArgs) ?? [], .. parse.UnmatchedTokens]));
        return command;
    }
}
