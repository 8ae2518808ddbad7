namespace GhostChat.Server.AllocBench;

/// <summary>Counts the runtime's GCAllocationTick events by type name.</summary>
internal sealed class AllocationSampler : System.Diagnostics.Tracing.EventListener
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _types = new(StringComparer.Ordinal);

    protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)0x1);
        }
    }

    protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs eventData)
    {
        if (eventData.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) == true && eventData.PayloadNames is { } names)
        {
            var type = eventData.Payload![names.IndexOf("TypeName")] as string ?? "?";
            _types.AddOrUpdate(type, 1, static (_, n) => n + 1);
        }
    }

    public void Print()
    {
        foreach (var (type, count) in _types.OrderByDescending(p => p.Value))
        {
            Console.WriteLine($"  sampled {count,5}  {type}");
        }
    }
}
