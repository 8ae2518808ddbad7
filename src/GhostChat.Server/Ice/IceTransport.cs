namespace GhostChat.Server.Ice;

/// <summary>How a TURN/STUN URL is reached.</summary>
internal enum IceTransport
{
    Udp,
    Tcp,
    Tls,
}
