/**
 * Resolves in a task of its own, after the tasks already queued on this thread (a MessageChannel
 * message: no 4 ms clamp as nested timeouts have, and no priority over other tasks as
 * `scheduler.yield()` continuations have).
 */
let channel: MessageChannel | null = null;
const waiting: (() => void)[] = [];

export function yieldToTasks(): Promise<void> {
  if (!channel) {
    channel = new MessageChannel();
    channel.port1.onmessage = () => waiting.shift()?.();
  }
  const port = channel.port2;
  return new Promise<void>((resolve) => {
    waiting.push(resolve);
    port.postMessage(0);
  });
}
