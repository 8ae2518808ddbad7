using GhostChat.Turn.Auth;
using GhostChat.Turn.Stun;
using Microsoft.Extensions.Logging;

namespace GhostChat.Turn.Server;

/// <summary>
/// The answers every handler shares: errors (signed when the request's credential is known), 401/438 challenges
/// with REALM and a fresh NONCE, empty successes, 420 with UNKNOWN-ATTRIBUTES. Each carries SOFTWARE when configured
/// and a FINGERPRINT, and is written into the request's response buffer.
/// </summary>
internal sealed class StunResponder(TurnServerOptions options, NonceIssuer nonces, ILogger logger)
{
    public void SendError(in TurnRequest request, int code, byte[]? key)
    {
        Log.Refused(logger, code);
        var w = new StunWriter(request.Response, request.Method, StunClass.Error, request.TransactionId);
        w.AddErrorCode(code);
        AddSoftware(ref w);
        if (key is not null)
        {
            w.AddMessageIntegrity(key);
        }
        w.AddFingerprint();
        request.Link.Send(w.Written);
    }

    public void SendChallenge(in TurnRequest request, int code)
    {
        Log.Refused(logger, code);
        var w = new StunWriter(request.Response, request.Method, StunClass.Error, request.TransactionId);
        w.AddErrorCode(code);
        w.AddString(StunConst.Realm, options.Realm);
        w.AddString(StunConst.Nonce, nonces.Issue());
        AddSoftware(ref w);
        w.AddFingerprint();
        request.Link.Send(w.Written);
    }

    public void SendEmptySuccess(in TurnRequest request, byte[] key)
    {
        var w = new StunWriter(request.Response, request.Method, StunClass.Success, request.TransactionId);
        AddSoftware(ref w);
        w.AddMessageIntegrity(key);
        w.AddFingerprint();
        request.Link.Send(w.Written);
    }

    /// <summary>420 listing the unknown comprehension-required attributes, but <paramref name="except"/>.</summary>
    public void SendUnknownAttributes(in TurnRequest request, ushort except = 0, string? reason = null)
    {
        Log.Refused(logger, StunError.UnknownAttribute);
        ref readonly var message = ref request.Message;
        var w = new StunWriter(request.Response, message.Method, StunClass.Error, request.TransactionId);
        w.AddErrorCode(StunError.UnknownAttribute, reason);
        Span<ushort> types = stackalloc ushort[message.UnknownCount];
        int count = 0;
        for (int i = 0; i < message.UnknownCount; i++)
        {
            if (message.Unknown[i] != except)
            {
                types[count++] = message.Unknown[i];
            }
        }
        w.AddUnknownAttributes(types[..count]);
        AddSoftware(ref w);
        w.AddFingerprint();
        request.Link.Send(w.Written);
    }

    /// <summary>SOFTWARE (RFC 8489 §14.14), at most 100 characters, when one is configured.</summary>
    public void AddSoftware(ref StunWriter w)
    {
        if (options.Software is { Length: > 0 } software)
        {
            w.AddString(StunConst.Software, software.Length > 100 ? software[..100] : software);
        }
    }
}
