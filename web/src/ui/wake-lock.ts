/** The little of a wake lock the app uses (the platform's WakeLockSentinel, or a test's fake). */
export interface ScreenLock {
  addEventListener(type: "release", listener: () => void): void;
  release(): Promise<void>;
}

/** What the wake lock needs of the page: the real navigator and document, or fakes (test/phone.test.ts). */
export interface WakeLockEnv {
  readonly navigator: { readonly wakeLock?: { request(type: "screen"): Promise<ScreenLock> } };
  readonly document: { readonly visibilityState: DocumentVisibilityState };
}

/**
 * Keeps the screen on while someone is in the room. Where the browser has no Screen Wake Lock API
 * (iOS Safari before 16.4, Firefox before 126) or refuses it (battery saver, policy, a hidden page),
 * nothing happens and the chat works as before: the screen may sleep, and coming back resumes the
 * room (ui/resume.ts). The system releases the lock when the page is hidden; the room page takes it
 * again when the page is shown.
 */
export class WakeLock {
  private sentinel: ScreenLock | null = null;
  private requesting = false;
  /** Bumped by release(): a request still under way when the room let go is given back at once. */
  private generation = 0;

  constructor(private readonly env: WakeLockEnv = { navigator, document }) {}

  /** The browser has the API at all. */
  get supported(): boolean {
    return typeof this.env.navigator.wakeLock?.request === "function";
  }

  /** The screen is being kept on now. */
  get held(): boolean {
    return this.sentinel !== null;
  }

  async acquire(): Promise<void> {
    const api = this.env.navigator.wakeLock;
    if (!this.supported || !api || this.sentinel || this.requesting || this.env.document.visibilityState !== "visible") return;
    const generation = this.generation;
    this.requesting = true;
    try {
      const sentinel = await api.request("screen");
      if (generation !== this.generation) {
        void sentinel.release().catch(() => undefined); // the room let go meanwhile
        return;
      }
      this.sentinel = sentinel;
      sentinel.addEventListener("release", () => {
        if (this.sentinel === sentinel) this.sentinel = null;
      });
    } catch {
      // refused: the chat works without it
    } finally {
      this.requesting = false;
    }
  }

  release(): void {
    this.generation++;
    const sentinel = this.sentinel;
    this.sentinel = null;
    void sentinel?.release().catch(() => undefined);
  }
}
