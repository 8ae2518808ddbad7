using GhostChat.Turn.Stun;

namespace GhostChat.Turn.Server;

/// <summary>
/// One STUN request or indication as the handlers see it: the bytes, what parsing found in them, the way back to the
/// client (its transport and source address: <see cref="ClientLink.Remote"/>, <see cref="ClientLink.IsStream"/>),
/// the client's allocation on that 5-tuple if any, its credential once checked, and room for the answer. Built per datagram or frame on the
/// stack by a listener; nothing in it outlives the call.
/// </summary>
internal readonly ref struct TurnRequest
{
    /// <summary>The size of <see cref="Response"/>: every answer we build fits in it.</summary>
    public const int ResponseBufferSize = 1024;

    private readonly ref readonly StunMessage _message;

    public TurnRequest(ReadOnlySpan<byte> packet, ref readonly StunMessage message, ClientLink link, Allocation? allocation, Span<byte> response)
        : this(packet, in message, link, allocation, response, default)
    {
    }

    private TurnRequest(ReadOnlySpan<byte> packet, ref readonly StunMessage message, ClientLink link, Allocation? allocation, Span<byte> response, CheckedCredential credential)
    {
        Packet = packet;
        _message = ref message;
        Link = link;
        Allocation = allocation;
        Response = response;
        Credential = credential;
    }

    /// <summary>The whole message as received.</summary>
    public ReadOnlySpan<byte> Packet { get; }

    /// <summary>Where each attribute lies in <see cref="Packet"/>.</summary>
    public ref readonly StunMessage Message => ref _message;

    /// <summary>The client: its transport address and the way to answer it.</summary>
    public ClientLink Link { get; }

    /// <summary>The allocation this 5-tuple holds, or null.</summary>
    public Allocation? Allocation { get; }

    /// <summary>The buffer answers are written into (<see cref="ResponseBufferSize"/> bytes).</summary>
    public Span<byte> Response { get; }

    /// <summary>The checked credential of a TURN method's request (default before authentication and for Binding).</summary>
    public CheckedCredential Credential { get; }

    public int Method => _message.Method;

    public ReadOnlySpan<byte> TransactionId => StunMessage.TransactionId(Packet);

    /// <summary>The same request, its credential checked.</summary>
    public TurnRequest Authenticated(CheckedCredential credential) => new(Packet, in _message, Link, Allocation, Response, credential);
}
