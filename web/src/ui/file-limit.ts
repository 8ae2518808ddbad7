/**
 * The operator's file size limit as this page learned it (GhostChat:Files:MaxBytes, in the /api/ice
 * answer the room page fetches: ui/room-page.ts sets it, ui/files.ts reads it). Null while unknown
 * and where the settings give the ICE servers themselves (no /api/ice): the app's own limit applies.
 */
let limit: number | null = null;
const listeners = new Set<(bytes: number | null) => void>();

export const serverFileLimit = {
  get: (): number | null => limit,
  set(bytes: number | null): void {
    if (bytes === limit) return;
    limit = bytes;
    for (const fn of listeners) fn(bytes);
  },
  /** Calls `fn` on every change; returns its unsubscribe. */
  on(fn: (bytes: number | null) => void): () => void {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
};
