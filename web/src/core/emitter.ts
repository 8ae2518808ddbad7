/** A typed emitter whose `on` returns its own unsubscribe. */
export class Emitter<Events extends Record<string, unknown>> {
  private readonly handlers = new Map<keyof Events, Set<(value: never) => void>>();

  on<K extends keyof Events>(event: K, handler: (value: Events[K]) => void): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(handler as (value: never) => void);
    return () => set.delete(handler as (value: never) => void);
  }

  emit<K extends keyof Events>(event: K, value: Events[K]): void {
    for (const h of [...(this.handlers.get(event) ?? [])]) (h as (v: Events[K]) => void)(value);
  }
}
