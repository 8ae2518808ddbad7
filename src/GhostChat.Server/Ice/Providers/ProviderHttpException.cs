using System.Net;

namespace GhostChat.Server.Ice.Providers;

/// <summary>A provider's API answered with an error status.</summary>
internal sealed class ProviderHttpException(HttpStatusCode status, string message, TimeSpan? retryAfter) : Exception(message)
{
    public HttpStatusCode Status { get; } = status;

    public TimeSpan? RetryAfter { get; } = retryAfter;
}
