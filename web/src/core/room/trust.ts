import { certificateInput, epochInput, type Certificate, type Epoch, type Signer, type Verifier } from "../auth/keys";

/** Applies `f` to a value that may or may not be a promise, staying synchronous when it is not. */
export function andThen<T, R>(value: T | Promise<T>, f: (v: T) => R | Promise<R>): R | Promise<R> {
  return value instanceof Promise ? value.then(f) : f(value);
}

/**
 * What a member of a room trusts (docs/protocol.md, "Member keys"): the authority's key (the host's,
 * named by the invite link), the room's current epoch, and which member certificates are good in it.
 * Shared by the session's handshakes and the room's gossip. The host also issues with it.
 */
export class RoomTrust {
  private current: Epoch | null;
  /** Checked certificates (what was signed and the signature → valid), bounded. */
  private readonly checked = new Map<string, boolean>();

  constructor(
    readonly room: string,
    /** The authority's public key. */
    readonly authority: string,
    /** This page's key. */
    readonly self: Signer,
    readonly verify: Verifier,
    epoch: Epoch | null = null,
  ) {
    this.current = epoch;
  }

  /** True on the host: this page holds the authority's key. */
  get isAuthority(): boolean {
    return this.self.key === this.authority;
  }

  /** The current epoch number (0 before the first removal). */
  get epoch(): number {
    return this.current?.e ?? 0;
  }

  /** The signed current membership, null in epoch 0. */
  get epochStatement(): Epoch | null {
    return this.current;
  }

  /**
   * Whether `cert` makes `key` the key of member `id` now: signed by the authority, and issued in the
   * current epoch or later, or for a member the current epoch names.
   */
  certifies(id: string, cert: Certificate): boolean | Promise<boolean> {
    if (cert.e < this.epoch && !this.current!.m.includes(id)) return false;
    const input = certificateInput(this.room, id, cert.k, cert.e);
    // Keyed by what was signed too: a signature that checked for one member says nothing of another.
    const key = `${input}|${cert.s}`;
    const cached = this.checked.get(key);
    if (cached !== undefined) return cached;
    return andThen(this.verify(this.authority, input, cert.s), (ok) => {
      this.checked.set(key, ok);
      if (this.checked.size > 1024) this.checked.delete(this.checked.keys().next().value!);
      return ok;
    });
  }

  /** Takes a newer epoch signed by the authority; false (and nothing changes) otherwise. */
  adopt(epoch: Epoch): boolean | Promise<boolean> {
    if (epoch.e <= this.epoch) return false;
    return andThen(this.verify(this.authority, epochInput(this.room, epoch.e, epoch.m), epoch.s), (ok) => {
      if (!ok || epoch.e <= this.epoch) return false;
      this.current = { e: epoch.e, m: [...epoch.m].sort(), s: epoch.s };
      return true;
    });
  }

  /** Host only: a certificate for a member it admitted, in the current epoch. */
  issue(id: string, key: string): Promise<Certificate> {
    this.mustBeAuthority();
    const e = this.epoch;
    return Promise.resolve(this.self.sign(certificateInput(this.room, id, key, e))).then((s) => ({ k: key, e, s }));
  }

  /** Host only: the next epoch, naming the members that remain (the host among them), adopted here. */
  async next(members: readonly string[]): Promise<Epoch> {
    this.mustBeAuthority();
    const e = this.epoch + 1;
    const m = [...new Set(members)].sort();
    const epoch = { e, m, s: await this.self.sign(epochInput(this.room, e, m)) };
    this.current = epoch;
    return epoch;
  }

  private mustBeAuthority(): void {
    if (!this.isAuthority) throw new Error("only the host issues certificates and epochs");
  }
}
