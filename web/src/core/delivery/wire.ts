import type { MessageId } from "../ids";

/** Longest message text a user may send (characters). */
export const MAX_MESSAGE_LENGTH = 2000;
/** Self-destruct choices in milliseconds; null = off. */
export const SELF_DESTRUCT_CHOICES: readonly (number | null)[] = [null, 5_000, 30_000, 60_000, 300_000];

/** What travels over the data channel (JSON). Everything received is validated first. */
export type WireMessage =
  | { t: "msg"; id: MessageId; text: string; sentAt: number; ttlMs: number | null }
  | { t: "ack"; id: MessageId }
  | { t: "read"; ids: MessageId[] }
  | { t: "typing"; on: boolean }
  | { t: "bye" };

const ID = /^[A-Za-z0-9_-]{1,64}$/;

function isId(v: unknown): v is MessageId {
  return typeof v === "string" && ID.test(v);
}

/** Returns the message when `data` is a well-formed wire message, otherwise null. */
export function decodeWire(data: unknown): WireMessage | null {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return null;
  const m = data as Record<string, unknown>;
  switch (m.t) {
    case "msg": {
      const ttl = m.ttlMs;
      const ttlOk = ttl === null || (typeof ttl === "number" && SELF_DESTRUCT_CHOICES.includes(ttl));
      if (!isId(m.id) || typeof m.text !== "string" || m.text.length === 0 || m.text.length > MAX_MESSAGE_LENGTH) return null;
      if (typeof m.sentAt !== "number" || !Number.isFinite(m.sentAt) || !ttlOk) return null;
      return { t: "msg", id: m.id, text: m.text, sentAt: m.sentAt, ttlMs: ttl as number | null };
    }
    case "ack":
      return isId(m.id) ? { t: "ack", id: m.id } : null;
    case "read":
      return Array.isArray(m.ids) && m.ids.length <= 500 && m.ids.every(isId) ? { t: "read", ids: m.ids as MessageId[] } : null;
    case "typing":
      return typeof m.on === "boolean" ? { t: "typing", on: m.on } : null;
    case "bye":
      return { t: "bye" };
    default:
      return null;
  }
}
