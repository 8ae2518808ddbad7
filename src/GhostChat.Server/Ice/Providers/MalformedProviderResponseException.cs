namespace GhostChat.Server.Ice.Providers;

/// <summary>A provider answered with something we cannot use (wrong shape, wrong types).</summary>
internal sealed class MalformedProviderResponseException(string message) : Exception(message);
