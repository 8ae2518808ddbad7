using GhostChat.Server.Hosting;

return await GhostChatHost.RunAsync(args);
