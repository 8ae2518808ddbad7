using GhostChat.Cli.Commands;

// The `ghostchat` command. Each sub-command lives in Commands/ and adds itself to the tree; the
// command tree is the only place that prints or picks an exit code.
return await CommandTree.Build().Parse(args).InvokeAsync().ConfigureAwait(false);
