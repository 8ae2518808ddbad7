namespace GhostChat.TestSupport;

/// <summary>
/// A <see cref="TimeProvider"/> that passes everything to another one (a fake clock, usually) and counts the timers
/// made through it that are armed now: what a test asserts when the point is that nothing wakes an idle component,
/// seen from outside it. A timer is armed from a finite due time until it fires without a period, is changed to an
/// infinite due time, or is disposed.
/// </summary>
public sealed class TimerWatch(TimeProvider inner) : TimeProvider
{
    private int _armed;

    /// <summary>Timers made through this provider that will fire unless changed.</summary>
    public int Armed => Volatile.Read(ref _armed);

    public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

    public override long GetTimestamp() => inner.GetTimestamp();

    public override long TimestampFrequency => inner.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var watched = new Watched(this);
        watched.Set(dueTime, period);
        watched.Inner = inner.CreateTimer(s =>
        {
            watched.Fired();
            callback(s);
        }, state, dueTime, period);
        return watched;
    }

    private sealed class Watched(TimerWatch owner) : ITimer
    {
        private readonly Lock _gate = new();
        private bool _armed;
        private bool _periodic;
        private bool _disposed;

        internal ITimer? Inner { get; set; }

        internal void Set(TimeSpan dueTime, TimeSpan period)
        {
            lock (_gate)
            {
                _periodic = period != Timeout.InfiniteTimeSpan && period != TimeSpan.Zero;
                Arm(!_disposed && dueTime != Timeout.InfiniteTimeSpan);
            }
        }

        internal void Fired()
        {
            lock (_gate)
            {
                if (!_periodic)
                {
                    Arm(false);
                }
            }
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            Set(dueTime, period);
            return Inner!.Change(dueTime, period);
        }

        public void Dispose()
        {
            lock (_gate)
            {
                _disposed = true;
                Arm(false);
            }
            Inner?.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }

        private void Arm(bool armed)
        {
            if (armed != _armed)
            {
                _armed = armed;
                Interlocked.Add(ref owner._armed, armed ? 1 : -1);
            }
        }
    }
}
