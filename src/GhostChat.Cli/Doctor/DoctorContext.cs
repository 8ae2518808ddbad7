using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace GhostChat.Cli.Doctor;

/// <summary>
/// What the checks of one run share: the options, the observer that hears about each check as it starts and ends,
/// and the checks finished so far, in the order the report lists them.
/// </summary>
internal sealed class DoctorContext(DoctorOptions options, IDoctorObserver? observer)
{
    private readonly List<DoctorCheck> _checks = [];

    public DoctorOptions Options => options;

    /// <summary>The checks finished so far.</summary>
    public IReadOnlyList<DoctorCheck> Checks => _checks;

    public void Start(string id, string title) => observer?.Started(id, title);

    public void Add(DoctorCheck check)
    {
        _checks.Add(check);
        observer?.Completed(check);
    }

    /// <summary>A token that ends with <paramref name="cancellationToken"/> or after <see cref="DoctorOptions.Timeout"/>.</summary>
    public CancellationTokenSource Linked(CancellationToken cancellationToken)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(options.Timeout);
        return cts;
    }

    /// <summary>--insecure: certificates this machine does not trust are let through (the TURN check still reports them).</summary>
    public bool AcceptWhenInsecure(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        errors == SslPolicyErrors.None || options.Insecure;
}
