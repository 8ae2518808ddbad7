/**
 * A simulated network for the mesh engine: a virtual clock with an event queue, links between
 * members that go up and down, and frames that are dropped, duplicated and reordered, all driven by
 * a seeded PRNG so a failing seed replays exactly.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";
import { certificateInput, type Certificate, type Signer, type Verifier } from "../src/core/auth/keys";
import { MeshRoom, type Clock, type LinksPort, type MeshOptions } from "../src/core/room/mesh";
import { RoomTrust } from "../src/core/room/trust";

/** mulberry32: small, fast, good enough to drive a simulation. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Member keys on node:crypto, synchronous (the simulation runs thousands of rooms): the same P-256
 * ECDSA, raw public keys and IEEE P1363 signatures as core/auth/keys.ts on WebCrypto.
 */
export interface SyncSigner {
  readonly key: string;
  sign(data: string): string;
}

export function syncSigner(): SyncSigner {
  // The pair comes back encoded and the signing key is made from its bytes: exporting a KeyObject that
  // generateKeyPairSync has just returned (publicKey.export(), as this did) can deadlock Node.js — a garbage
  // collection inside the export runs the finished key-generation job's destructor, which waits for the
  // mutex the export holds. Seen as a test worker asleep for good (native stack: ExportJWKEcKey → GC →
  // ~KeyGenJob → pthread_mutex_lock) about once in ten thousand simulated members.
  const { privateKey: pkcs8, publicKey: spki } = generateKeyPairSync("ec", {
    namedCurve: "P-256",
    publicKeyEncoding: { type: "spki", format: "der" },
    privateKeyEncoding: { type: "pkcs8", format: "der" },
  });
  const privateKey = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
  // A P-256 SubjectPublicKeyInfo ends with the uncompressed point: 0x04, x, y.
  const raw = spki.subarray(spki.length - 65);
  if (spki.length !== 91 || raw[0] !== 4) throw new Error("unexpected P-256 public key encoding");
  return {
    key: raw.toString("base64url"),
    sign: (data) => nodeSign("sha256", Buffer.from(data), { key: privateKey, dsaEncoding: "ieee-p1363" }).toString("base64url"),
  };
}

const publicKeys = new Map<string, KeyObject>();
export const syncVerify: Verifier = (key, data, sig) => {
  try {
    let k = publicKeys.get(key);
    if (!k) {
      const raw = Buffer.from(key, "base64url");
      if (raw.length !== 65 || raw[0] !== 4) return false;
      k = createPublicKey({
        key: { kty: "EC", crv: "P-256", x: raw.subarray(1, 33).toString("base64url"), y: raw.subarray(33).toString("base64url") },
        format: "jwk",
      });
      publicKeys.set(key, k);
    }
    const bytes = Buffer.from(sig, "base64url");
    return bytes.length === 64 && nodeVerify("sha256", Buffer.from(data), { key: k, dsaEncoding: "ieee-p1363" }, bytes);
  } catch {
    return false;
  }
};

/** The simulated room's authority: the host's key, which certifies every member. */
export const AUTHORITY = syncSigner();

/** A member's trust in the simulated room and the certificate the authority gave it (epoch `e`). */
export function credentials(id: string, signer: Signer = syncSigner(), e = 0, verify: Verifier = syncVerify) {
  const cert: Certificate = { k: signer.key, e, s: AUTHORITY.sign(certificateInput(ROOM, id, signer.key, e)) };
  return { trust: new RoomTrust(ROOM, AUTHORITY.key, signer, verify), cert, signer };
}

interface Event {
  at: number;
  seq: number;
  fn: () => void;
}

/** Binary heap of events ordered by (time, insertion). */
class Queue {
  private heap: Event[] = [];
  private seq = 0;
  push(at: number, fn: () => void): Event {
    const e = { at, seq: this.seq++, fn };
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p]!, h[i]!)) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
    return e;
  }
  pop(): Event | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l]!, h[m]!)) m = l;
        if (r < h.length && less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
  get size(): number {
    return this.heap.length;
  }
}
function less(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

export interface NetFaults {
  drop: number;
  duplicate: number;
  /** Frames take 1..maxDelay ms, so later frames overtake earlier ones. */
  maxDelay: number;
}

interface Handlers {
  frame: Set<(from: string, frame: string) => void>;
  up: Set<(peer: string) => void>;
  down: Set<(peer: string) => void>;
}

/** A frame on the wire, for tests that tamper with traffic. */
export type Tamper = (from: string, to: string, frame: string) => string | null;

export class SimNet {
  readonly queue = new Queue();
  now = 0;
  readonly rand: () => number;
  faults: NetFaults = { drop: 0, duplicate: 0, maxDelay: 5 };
  /** Called for every frame leaving `from` for `to`: return the frame, a changed one, or null to drop. */
  tamper: Tamper | null = null;
  private readonly handlers = new Map<string, Handlers>();
  private readonly alive = new Set<string>();
  /** Cut pairs ("a|b", sorted): no direct link while cut. */
  private readonly cuts = new Set<string>();
  /** Current link epoch per pair; frames of an older epoch are lost when they arrive. */
  private readonly epochs = new Map<string, number>();
  private readonly linkUp = new Set<string>();
  framesSent = 0;

  constructor(seed: number) {
    this.rand = prng(seed);
  }

  readonly clock: Clock = {
    now: () => this.now,
    setTimer: (ms, fn) => {
      let live = true;
      this.queue.push(this.now + ms, () => live && fn());
      return () => (live = false);
    },
  };

  at(time: number, fn: () => void): void {
    this.queue.push(time, fn);
  }

  /** Runs events until `until` (virtual ms) or the queue empties. */
  run(until: number): void {
    for (;;) {
      const e = this.queue.pop();
      if (!e) break;
      if (e.at > until) {
        this.queue.push(e.at, e.fn);
        break;
      }
      this.now = Math.max(this.now, e.at);
      e.fn();
    }
    this.now = Math.max(this.now, until);
  }

  links(id: string): LinksPort {
    const h: Handlers = { frame: new Set(), up: new Set(), down: new Set() };
    this.handlers.set(id, h);
    return {
      send: (to, frame) => this.send(id, to, frame),
      onFrame: (fn) => (h.frame.add(fn), () => h.frame.delete(fn)),
      onUp: (fn) => (h.up.add(fn), () => h.up.delete(fn)),
      onDown: (fn) => (h.down.add(fn), () => h.down.delete(fn)),
    };
  }

  isUp(a: string, b: string): boolean {
    return this.linkUp.has(pair(a, b));
  }

  /** A member comes online: links to every other live member that is not cut from it go up. */
  join(id: string): void {
    this.alive.add(id);
    this.refresh();
  }

  /** A member goes away (left or crashed): its links go down. */
  kill(id: string): void {
    this.alive.delete(id);
    this.refresh();
  }

  cut(a: string, b: string): void {
    this.cuts.add(pair(a, b));
    this.refresh();
  }

  heal(a: string, b: string): void {
    this.cuts.delete(pair(a, b));
    this.refresh();
  }

  healAll(): void {
    this.cuts.clear();
    this.refresh();
  }

  private refresh(): void {
    const ids = [...this.alive].sort();
    const want = new Set<string>();
    for (let i = 0; i < ids.length; i++) for (let j = i + 1; j < ids.length; j++) if (!this.cuts.has(pair(ids[i]!, ids[j]!))) want.add(pair(ids[i]!, ids[j]!));
    for (const p of [...this.linkUp]) {
      if (want.has(p)) continue;
      this.linkUp.delete(p);
      this.epochs.set(p, (this.epochs.get(p) ?? 0) + 1);
      const [a, b] = p.split("|") as [string, string];
      this.notify(a, "down", b);
      this.notify(b, "down", a);
    }
    for (const p of want) {
      if (this.linkUp.has(p)) continue;
      this.linkUp.add(p);
      this.epochs.set(p, (this.epochs.get(p) ?? 0) + 1);
      const [a, b] = p.split("|") as [string, string];
      // Each side learns of the open channel at its own moment.
      this.at(this.now + 1 + Math.floor(this.rand() * 3), () => this.linkUp.has(p) && this.notify(a, "up", b));
      this.at(this.now + 1 + Math.floor(this.rand() * 3), () => this.linkUp.has(p) && this.notify(b, "up", a));
    }
  }

  private notify(id: string, kind: "up" | "down", peer: string): void {
    const h = this.handlers.get(id);
    if (!h || !this.alive.has(id)) return;
    for (const fn of [...h[kind]]) fn(peer);
  }

  private send(from: string, to: string, frame: string): boolean {
    const p = pair(from, to);
    if (!this.linkUp.has(p)) return false;
    const out = this.tamper ? this.tamper(from, to, frame) : frame;
    if (out === null) return true;
    this.framesSent++;
    const epoch = this.epochs.get(p);
    const copies = this.rand() < this.faults.duplicate ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      if (this.rand() < this.faults.drop) continue;
      const delay = 1 + Math.floor(this.rand() * this.faults.maxDelay);
      this.at(this.now + delay, () => {
        if (this.epochs.get(p) !== epoch || !this.alive.has(to)) return;
        const h = this.handlers.get(to);
        if (h) for (const fn of [...h.frame]) fn(from, out);
      });
    }
    return true;
  }
}

function pair(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

export const ROOM = "room1";

/** A member on the simulated network, recording what it sent and received. */
export class SimMember {
  readonly room: MeshRoom;
  /** Its member key and certificate (to make up frames in tests of attacks). */
  readonly signer: Signer;
  readonly cert: Certificate;
  readonly sent: { id: string; text: string; to: string[] }[] = [];
  readonly received: { id: string; from: string; text: string; via: string }[] = [];
  gone = false;

  constructor(
    readonly id: string,
    readonly net: SimNet,
    extra: Partial<MeshOptions> = {},
  ) {
    let n = 0;
    const instance = Math.floor(net.rand() * 1e9);
    const own = extra.trust ? null : credentials(id);
    this.signer = (extra.trust ?? own!.trust).self;
    this.cert = (extra.cert ?? own?.cert)!;
    this.room = new MeshRoom({
      self: { id, name: id },
      room: ROOM,
      links: net.links(id),
      clock: net.clock,
      trust: (extra.trust ?? own?.trust)!,
      cert: (extra.cert ?? own?.cert)!,
      inc: `${id}-i${instance}`,
      newId: () => `${id}-${instance}-m${++n}`,
      ...extra,
    });
    this.room.events.on("message", (m) => this.received.push({ id: m.id, from: m.from, text: m.text, via: m.via }));
    this.room.start();
    net.join(id);
  }

  say(text: string): string | null {
    const id = this.room.send(text);
    if (id !== null) this.sent.push({ id, text, to: [...(this.room.receipts(id)?.keys() ?? [])] });
    return id;
  }
}

/** Member crypto made asynchronous (as WebCrypto is), counting its operations in flight. */
export function tracked(signer: Signer, verify: Verifier): { signer: Signer; verify: Verifier; idle(): Promise<void> } {
  let pending = 0;
  const track = <X>(p: X | Promise<X>): Promise<X> => {
    pending++;
    return Promise.resolve(p).finally(() => pending--);
  };
  return {
    signer: { key: signer.key, sign: (d) => track(signer.sign(d)) },
    verify: (k, d, s) => track(verify(k, d, s)),
    async idle() {
      while (pending > 0) await new Promise((r) => setTimeout(r, 1));
    },
  };
}

/** Runs the simulation a millisecond at a time, letting asynchronous crypto finish in between. */
export async function runAsync(net: SimNet, until: number, idle: () => Promise<void>): Promise<void> {
  while (net.now < until) {
    await idle();
    net.run(net.now + 1);
  }
  await idle();
}
