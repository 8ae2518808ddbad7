using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace GhostChat.Server.Files;

/// <summary>
/// Files (issue 16): the operator's size limit, <c>GhostChat:Files:MaxBytes</c>, checked at start. It reaches
/// browsers in the <c>/api/ice</c> answer (<see cref="Ice.IceExtensions"/>); no endpoint of its own.
/// </summary>
internal static class FilesExtensions
{
    public static WebApplicationBuilder AddGhostChatFiles(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<FilesOptions>().Bind(builder.Configuration.GetSection(FilesOptions.SectionName)).ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FilesOptions>, FilesOptionsValidator>());
        return builder;
    }

    /// <summary>
    /// Reads the options once while the app is built, so a bad value (not a number, out of range) stops the start
    /// with the host's clear configuration message, before the host runs and would log it with a stack trace.
    /// </summary>
    public static WebApplication MapGhostChatFiles(this WebApplication app)
    {
        _ = app.Services.GetRequiredService<IOptions<FilesOptions>>().Value;
        return app;
    }
}
