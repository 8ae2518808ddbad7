/** How often a typing "on" signal is repeated while the user keeps typing. */
export const TYPING_RESEND_MS = 2000;
/** The peer's indicator disappears this long after its last signal. */
export const TYPING_SHOW_MS = 4000;

/** Decides when to send typing on/off; time is passed in. */
export class TypingSender {
  private lastSent = -Infinity;
  private active = false;

  /** The user edited the draft. Returns the signal to send, if any. */
  input(now: number, draftEmpty: boolean): boolean | null {
    if (draftEmpty) return this.stop();
    if (!this.active || now - this.lastSent >= TYPING_RESEND_MS) {
      this.active = true;
      this.lastSent = now;
      return true;
    }
    return null;
  }

  /** The message was sent or the draft cleared. */
  stop(): false | null {
    if (!this.active) return null;
    this.active = false;
    this.lastSent = -Infinity;
    return false;
  }
}

/** Whether to show "peer is typing". */
export class TypingReceiver {
  private until = 0;

  signal(on: boolean, now: number): void {
    this.until = on ? now + TYPING_SHOW_MS : 0;
  }

  messageArrived(): void {
    this.until = 0;
  }

  isTyping(now: number): boolean {
    return now < this.until;
  }

  /** When to re-check (ms from now), or null. */
  recheckIn(now: number): number | null {
    return this.until > now ? this.until - now : null;
  }
}
