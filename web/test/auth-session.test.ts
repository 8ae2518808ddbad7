// The session runs the real handshake machines over linked in-memory channels: chat frames only
// after both proofs, refusals reach both sides, the room key arrives, a man in the middle fails.
import { describe, expect, it } from "vitest";
import { HostHandshake, JoinerHandshake, NonceLog, type ChannelFingerprints } from "../src/core/auth";
import { ChatSession, type AuthFailure, type AuthSuccess, type ChannelPort, type PeerPort, type SessionStatus } from "../src/core/connection";
import { HostInvites, MemoryInviteStore, type Invite } from "../src/core/invites";

const hex = (fill: number) => Array(32).fill(fill.toString(16).padStart(2, "0").toUpperCase()).join(":");
const FP = (n: number) => `sha-256 ${hex(n)}`;

/** One end of an in-memory channel; frames cross asynchronously, as on a real data channel. */
class LinkedChannel implements ChannelPort {
  other!: LinkedChannel;
  closed = false;
  sent: unknown[] = [];
  private data: ((d: unknown) => void)[] = [];
  private closers: (() => void)[] = [];
  constructor(readonly remoteId: string, private readonly fps: ChannelFingerprints | null) {}
  static pair(a: string, b: string, fpsA: ChannelFingerprints | null, fpsB: ChannelFingerprints | null): [LinkedChannel, LinkedChannel] {
    const x = new LinkedChannel(b, fpsA);
    const y = new LinkedChannel(a, fpsB);
    x.other = y;
    y.other = x;
    return [x, y];
  }
  send(d: unknown) {
    if (this.closed) return;
    this.sent.push(d);
    const copy = JSON.parse(JSON.stringify(d)) as unknown;
    setTimeout(() => { if (!this.other.closed) this.other.data.forEach((h) => h(copy)); }, 0);
  }
  onData(h: (d: unknown) => void) { this.data.push(h); }
  onClose(h: () => void) { this.closers.push(h); }
  onIceState() {}
  fingerprints() { return this.fps; }
  close() {
    if (this.closed) return;
    this.closed = true;
    this.closers.forEach((h) => h());
    setTimeout(() => this.other.close(), 0);
  }
}

class Peer implements PeerPort {
  incoming: ((c: ChannelPort) => void)[] = [];
  constructor(private readonly id: string, private readonly connectTo?: () => ChannelPort) {}
  async open() { return this.id; }
  async connect() { return this.connectTo!(); }
  onIncoming(h: (c: ChannelPort) => void) { this.incoming.push(h); }
  onDisconnected() {}
  async reconnect() {}
  destroy() {}
}

const until = async (cond: () => boolean, what: string) => {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
};

async function world(opts: { hostFps?: ChannelFingerprints; joinerFps?: ChannelFingerprints; tamper?: (invite: Invite) => Invite; beforeJoin?: (h: HostInvites, invite: Invite) => Promise<void>; hostFactoryDelayMs?: number } = {}) {
  const invites = new HostInvites(new MemoryInviteStore());
  const identity = await invites.startRoom("host", "tokentoken");
  const invite = await invites.issue(identity);
  const nonces = new NonceLog();
  const hostPeer = new Peer("host");
  const host = new ChatSession({
    createPeer: () => hostPeer,
    loadIce: async () => [],
    handshake: async (_role, ch) => {
      if (opts.hostFactoryDelayMs) await new Promise((r) => setTimeout(r, opts.hostFactoryDelayMs));
      const fingerprints = ch.fingerprints?.() ?? null;
      return fingerprints ? new HostHandshake({ roomId: identity.roomId, roomKey: identity.roomKey, fingerprints, lookup: (id) => invites.check(id), nonces }) : null;
    },
    authTimeoutMs: 2000,
  });
  await host.host();
  await opts.beforeJoin?.(invites, invite);
  const used = opts.tamper ? opts.tamper(invite) : invite;
  let joinerEnd: LinkedChannel | null = null;
  let hostEnd: LinkedChannel | null = null;
  const joinerPeer = new Peer("guest", () => {
    [joinerEnd, hostEnd] = LinkedChannel.pair("guest", "host", "joinerFps" in opts ? opts.joinerFps! : { local: FP(1), remote: FP(2) }, "hostFps" in opts ? opts.hostFps! : { local: FP(2), remote: FP(1) });
    const h = hostEnd;
    setTimeout(() => hostPeer.incoming.forEach((fn) => fn(h)), 0);
    return joinerEnd;
  });
  const joiner = new ChatSession({
    createPeer: () => joinerPeer,
    loadIce: async () => [],
    sleep: async () => {},
    backoff: { attempts: 1 },
    handshake: (_role, ch) => {
      const fingerprints = ch.fingerprints?.() ?? null;
      return fingerprints ? new JoinerHandshake({ roomId: used.roomId, inviteId: used.inviteId, secret: used.secret, fingerprints }) : null;
    },
    authTimeoutMs: 2000,
  });
  const hostSeen: SessionStatus[] = [];
  host.events.on("status", (s) => hostSeen.push(s));
  const hostAuth: AuthSuccess[] = [];
  const hostRefused: AuthFailure[] = [];
  host.events.on("authenticated", (a) => hostAuth.push(a));
  host.events.on("refused", (r) => hostRefused.push(r));
  const joinerAuth: AuthSuccess[] = [];
  joiner.events.on("authenticated", (a) => joinerAuth.push(a));
  const hostMessages: unknown[] = [];
  host.events.on("message", (m) => hostMessages.push(m));
  const joinResult = joiner.join("host").then(() => "ok", (e: Error) => e.message);
  return { identity, invite, invites, host, joiner, hostSeen, hostAuth, hostRefused, joinerAuth, hostMessages, joinResult, channels: () => ({ joinerEnd, hostEnd }) };
}

describe("session with the invite handshake", () => {
  it("honest_BothConnected_SameCode_RoomKeyReachesJoiner_ChatFlows", async () => {
    const w = await world();
    expect(await w.joinResult).toBe("ok");
    await until(() => w.host.connected, "host connected");
    expect(w.joiner.current.phase).toBe("connected");
    expect(w.joinerAuth[0]!.roomKey).toBe(w.identity.roomKey);
    expect(w.joinerAuth[0]!.code.text).toBe(w.hostAuth[0]!.code.text);
    expect(w.joiner.send({ t: "typing", on: true })).toBe(true);
    await until(() => w.hostMessages.length === 1, "chat frame");
    expect(w.hostMessages).toEqual([{ t: "typing", on: true }]);
  });

  it("slowHandshakeFactory_EarlyFramesQueued_StillConnects", async () => {
    const w = await world({ hostFactoryDelayMs: 60 });
    expect(await w.joinResult).toBe("ok");
    await until(() => w.host.connected, "host connected");
    expect(w.joinerAuth[0]!.code.text).toBe(w.hostAuth[0]!.code.text);
  });

  it("handshakeFactoryThrows_RefusedAuthFailed", async () => {
    const hostPeer = new Peer("host");
    const host = new ChatSession({ createPeer: () => hostPeer, loadIce: async () => [], handshake: () => Promise.reject(new Error("boom")) });
    await host.host();
    const refused: AuthFailure[] = [];
    host.events.on("refused", (r) => refused.push(r));
    const [rogue, hostEnd] = LinkedChannel.pair("x", "host", null, null);
    const got: unknown[] = [];
    rogue.onData((d) => got.push(d));
    hostPeer.incoming.forEach((fn) => fn(hostEnd));
    await until(() => refused.length === 1 && got.length === 1, "refusal");
    expect(got).toEqual([{ t: "auth-refuse", reason: "auth-failed" }]);
  });

  it("chatFramesBeforeAuth_NotDelivered_HandshakeRefusesOrder", async () => {
    // A joiner that skips the handshake and talks at once gets nothing through.
    const invites = new HostInvites(new MemoryInviteStore());
    const identity = await invites.startRoom("host", "tokentoken");
    const hostPeer = new Peer("host");
    const host = new ChatSession({ createPeer: () => hostPeer, loadIce: async () => [], handshake: (_r, ch) => new HostHandshake({ roomId: identity.roomId, roomKey: identity.roomKey, fingerprints: ch.fingerprints!()!, lookup: (id) => invites.check(id), nonces: new NonceLog() }), authTimeoutMs: 300 });
    await host.host();
    const got: unknown[] = [];
    host.events.on("message", (m) => got.push(m));
    const refused: AuthFailure[] = [];
    host.events.on("refused", (r) => refused.push(r));
    const [rogue, hostEnd] = LinkedChannel.pair("rogue", "host", { local: FP(1), remote: FP(2) }, { local: FP(2), remote: FP(1) });
    hostPeer.incoming.forEach((fn) => fn(hostEnd));
    rogue.send({ t: "msg", id: "m1", text: "hi", sentAt: 1, ttlMs: null });
    await until(() => refused.length === 1, "timeout refusal");
    expect(refused[0]).toEqual({ ok: false, reason: "timeout", by: "us" });
    expect(got).toEqual([]);
    expect(host.connected).toBe(false);
    expect(host.current.phase).toBe("waiting");
  });

  it("manInTheMiddle_FingerprintsDiffer_BothRefuse_HostKeepsWaiting", async () => {
    const w = await world({ joinerFps: { local: FP(1), remote: FP(0xaa) }, hostFps: { local: FP(2), remote: FP(0xbb) } });
    expect(await w.joinResult).toContain("auth-failed");
    expect(w.joiner.current).toEqual({ phase: "failed", reason: "refused", refusal: "auth-failed", by: "peer" });
    await until(() => w.hostRefused.length === 1, "host refusal");
    expect(w.hostRefused[0]).toEqual({ ok: false, reason: "auth-failed", by: "us" });
    expect(w.host.current.phase).toBe("waiting");
    await until(() => w.channels().hostEnd?.closed === true, "channel closed");
  });

  it.each([
    ["revoked", async (h: HostInvites, i: Invite) => void (await h.revoke(i.inviteId))],
    ["unknown-invite", async (h: HostInvites) => void (await h.endRoom())],
  ] as const)("inviteRefused_%s_JoinerToldWhy", async (reason, before) => {
    const w = await world({ beforeJoin: before });
    expect(await w.joinResult).toContain(reason);
    expect(w.joiner.current).toEqual({ phase: "failed", reason: "refused", refusal: reason, by: "peer" });
    await until(() => w.hostRefused.length === 1, "host refusal");
    expect(w.hostRefused[0]).toEqual({ ok: false, reason, by: "us" });
  });

  it("hostCannotReadFingerprints_RefusedAuthFailed_BothSides", async () => {
    const x = await world({ hostFps: null as unknown as ChannelFingerprints });
    expect(await x.joinResult).toContain("auth-failed");
    await until(() => x.hostRefused.length === 1, "host refusal");
    expect(x.hostRefused[0]).toEqual({ ok: false, reason: "auth-failed", by: "us" });
  });

  it("joinerCannotReadFingerprints_RefusesBeforeSendingAnything", async () => {
    const x = await world({ joinerFps: null as unknown as ChannelFingerprints });
    expect(await x.joinResult).toContain("auth-failed");
    expect(x.channels().joinerEnd!.sent).toEqual([{ t: "auth-refuse", reason: "auth-failed" }]);
  });

  it("wrongSecretInLink_AuthFailed", async () => {
    const w = await world({ tamper: (i) => ({ ...i, secret: "AAAAAAAAAAAAAAAAAAAAAA" }) });
    expect(await w.joinResult).toContain("auth-failed");
    expect(w.joiner.current).toMatchObject({ phase: "failed", refusal: "auth-failed", by: "peer" });
  });

  it("secondJoinerWhileConnected_Busy_RoomFull", async () => {
    const w = await world();
    expect(await w.joinResult).toBe("ok");
    await until(() => w.host.connected, "host connected");
    const hostPeer = (w.host as unknown as { peer: Peer }).peer;
    const [late, hostEnd] = LinkedChannel.pair("late", "host", { local: FP(5), remote: FP(2) }, { local: FP(2), remote: FP(5) });
    const got: unknown[] = [];
    late.onData((d) => got.push(d));
    hostPeer.incoming.forEach((fn) => fn(hostEnd));
    await until(() => got.length === 1, "busy refusal");
    expect(got).toEqual([{ t: "auth-refuse", reason: "busy" }]);
    expect(w.host.connected).toBe(true);
  });
});
