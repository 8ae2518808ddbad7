import { randomBase64Url, type MessageId } from "../ids";
import { MAX_MESSAGE_LENGTH, type WireMessage } from "./wire";

export type MessageState = "sending" | "delivered" | "read" | "received";

export interface ChatMessage {
  readonly id: MessageId;
  readonly direction: "out" | "in";
  readonly text: string;
  readonly sentAt: number;
  readonly ttlMs: number | null;
  /** When this side removes it (self-destruct), counted from send or receipt here. */
  readonly expiresAt: number | null;
  state: MessageState;
}

export type ValidateResult = { ok: true; text: string } | { ok: false; reason: "empty" | "too-long" };

/** Trims trailing whitespace-only lines; refuses empty and over-long text. */
export function validateOutgoing(text: string): ValidateResult {
  const trimmed = text.replace(/\s+$/, "");
  if (trimmed.trim().length === 0) return { ok: false, reason: "empty" };
  if (trimmed.length > MAX_MESSAGE_LENGTH) return { ok: false, reason: "too-long" };
  return { ok: true, text: trimmed };
}

const STATE_ORDER: Record<MessageState, number> = { sending: 0, delivered: 1, read: 2, received: 0 };

/**
 * One 1:1 conversation on this side: ordered messages, their delivery state, self-destruct.
 * Pure: time comes in as arguments, nothing here touches the network or the DOM.
 */
export class Conversation {
  private readonly byId = new Map<string, ChatMessage>();
  private list: ChatMessage[] = [];

  get messages(): readonly ChatMessage[] {
    return this.list;
  }

  /** Creates an outgoing message and the wire frame to send. */
  compose(text: string, now: number, ttlMs: number | null, newId: () => string = () => randomBase64Url(12)): { message: ChatMessage; wire: WireMessage } {
    const checked = validateOutgoing(text);
    if (!checked.ok) throw new Error(`invalid message: ${checked.reason}`);
    const id = newId() as MessageId;
    const message: ChatMessage = { id, direction: "out", text: checked.text, sentAt: now, ttlMs, expiresAt: ttlMs === null ? null : now + ttlMs, state: "sending" };
    this.add(message);
    return { message, wire: { t: "msg", id, text: checked.text, sentAt: now, ttlMs } };
  }

  /** Applies a frame from the peer. Returns the replies to send (acks) and whether anything changed. */
  apply(wire: WireMessage, now: number): { changed: boolean; reply: WireMessage[]; received?: ChatMessage } {
    switch (wire.t) {
      case "msg": {
        const reply: WireMessage[] = [{ t: "ack", id: wire.id }];
        if (this.byId.has(wire.id)) return { changed: false, reply }; // duplicate: ack again, show once
        const message: ChatMessage = { id: wire.id, direction: "in", text: wire.text, sentAt: wire.sentAt, ttlMs: wire.ttlMs, expiresAt: wire.ttlMs === null ? null : now + wire.ttlMs, state: "received" };
        this.add(message);
        return { changed: true, reply, received: message };
      }
      case "ack":
        return { changed: this.advance(wire.id, "delivered"), reply: [] };
      case "read": {
        let changed = false;
        for (const id of wire.ids) changed = this.advance(id, "read") || changed;
        return { changed, reply: [] };
      }
      default:
        return { changed: false, reply: [] };
    }
  }

  /** Ids of received messages to report as read (each reported once). */
  takeUnreadReceived(): MessageId[] {
    const ids: MessageId[] = [];
    for (const m of this.list) {
      if (m.direction === "in" && m.state === "received") {
        m.state = "read";
        ids.push(m.id);
      }
    }
    return ids;
  }

  /** Removes messages whose self-destruct time has come; returns their ids. */
  expire(now: number): MessageId[] {
    const gone = this.list.filter((m) => m.expiresAt !== null && m.expiresAt <= now);
    if (gone.length === 0) return [];
    for (const m of gone) this.byId.delete(m.id);
    this.list = this.list.filter((m) => !(m.expiresAt !== null && m.expiresAt <= now));
    return gone.map((m) => m.id);
  }

  /** The next self-destruct time, for the caller's single timer. */
  nextExpiry(): number | null {
    let next: number | null = null;
    for (const m of this.list) if (m.expiresAt !== null && (next === null || m.expiresAt < next)) next = m.expiresAt;
    return next;
  }

  /** Panic: forget everything on this side. */
  clear(): void {
    this.list = [];
    this.byId.clear();
  }

  private add(message: ChatMessage): void {
    this.byId.set(message.id, message);
    this.list.push(message);
  }

  private advance(id: MessageId, to: MessageState): boolean {
    const m = this.byId.get(id);
    if (!m || m.direction !== "out" || STATE_ORDER[to] <= STATE_ORDER[m.state]) return false;
    m.state = to;
    return true;
  }
}
