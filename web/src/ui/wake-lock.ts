/** Keeps the screen on while someone is in the room; refused (battery saver, policy) is fine. */
export class WakeLock {
  private sentinel: WakeLockSentinel | null = null;

  async acquire(): Promise<void> {
    if (!("wakeLock" in navigator) || this.sentinel || document.visibilityState !== "visible") return;
    try {
      const sentinel = await navigator.wakeLock.request("screen");
      this.sentinel = sentinel;
      sentinel.addEventListener("release", () => {
        if (this.sentinel === sentinel) this.sentinel = null;
      });
    } catch {
      // refused: the chat works without it
    }
  }

  release(): void {
    void this.sentinel?.release();
    this.sentinel = null;
  }
}
