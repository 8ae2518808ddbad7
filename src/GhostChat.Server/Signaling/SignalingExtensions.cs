namespace GhostChat.Server.Signaling;

internal static class SignalingExtensions
{
    public static WebApplicationBuilder AddGhostChatSignaling(this WebApplicationBuilder builder) => builder;

    public static WebApplication MapGhostChatSignaling(this WebApplication app) => app;
}
