import { afterEach, describe, expect, it } from "vitest";
import { certificateInput, inviteKeyHash, keyHash, newSigner, type Certificate, type Signer } from "../src/core/auth";
import { PeerError, type ChannelPort, type PeerPort } from "../src/core/connection/ports";
import { toBase64Url } from "../src/core/ids";
import { MeshSession } from "../src/core/room/session";

/**
 * MeshSession over in-memory PeerPorts: channels are pairs of queues with fixed DTLS fingerprints,
 * so the real handshakes (WebCrypto) run; a test can close a channel or drop the signaling socket.
 */
class Hub {
  readonly peers = new Map<string, FakePeer>();
  n = 0;
  late = 0;
  /** A man in the middle: the dialling side sees another certificate than the one the other side has. */
  tamper = false;
  /** Channels can restart ICE (the browser adapter can; off: the session redials instead). */
  restartable = false;
  /** The peer certificate the channels' stats report, as Chromium's getStats does: none, the real one, or another. */
  certificates: "none" | "real" | "other" = "none";
  /** How long a connect takes to open (0: at once); with `ignoreAbort` it opens even after the caller gave up. */
  connectDelayMs = 0;
  ignoreAbort = false;
  /** Connect attempts torn down because the caller gave up waiting. */
  abandoned = 0;
  /** Pairs with no network path between them (as the lab's iptables cut makes). */
  private readonly cuts = new Set<string>();
  /** Connect attempts refused because their pair was cut. */
  refusedByCut = 0;
  /** Room frames (strings) are lost on every channel while set; the handshake's frames still pass. */
  holdRoomFrames = false;
  private static pair(a: string, b: string): string {
    return [a, b].sort().join("|");
  }
  isCut(a: string, b: string): boolean {
    return this.cuts.has(Hub.pair(a, b));
  }
  /** No path between a and b from now on: their channels die, new ones cannot open. */
  cut(a: string, b: string): void {
    this.cuts.add(Hub.pair(a, b));
    for (const c of this.peers.get(a)?.channels ?? []) if (c.remoteId === b) c.close();
  }
  restore(a: string, b: string): void {
    this.cuts.delete(Hub.pair(a, b));
  }
}

function fp(seed: number): string {
  return "sha-256 " + Array.from({ length: 32 }, (_, i) => ((seed * 31 + i * 7) & 0xff).toString(16).padStart(2, "0").toUpperCase()).join(":");
}

class FakeChannel implements ChannelPort {
  other!: FakeChannel;
  closed = false;
  private readonly data: ((d: unknown) => void)[] = [];
  private readonly closes: (() => void)[] = [];
  constructor(
    readonly remoteId: string,
    private readonly fps: { local: string; remote: string },
    private readonly hub?: Hub,
  ) {}
  send(d: unknown): void {
    if (this.closed) throw new Error("closed");
    if (typeof d === "string" && this.hub?.holdRoomFrames) return;
    const copy = JSON.parse(JSON.stringify(d)) as unknown;
    setTimeout(() => !this.other.closed && this.other.data.forEach((h) => h(copy)), 1);
  }
  onData(h: (d: unknown) => void): void {
    this.data.push(h);
  }
  onClose(h: () => void): void {
    this.closes.push(h);
  }
  private readonly ice: ((s: RTCIceConnectionState) => void)[] = [];
  onIceState(h: (s: RTCIceConnectionState) => void): void {
    this.ice.push(h);
  }
  emitIce(s: RTCIceConnectionState): void {
    this.ice.forEach((h) => h(s));
  }
  restarts = 0;
  restartIce?: () => Promise<boolean>;
  /** What restartIce answers: whether the previous restart was answered (false: the other side lost the connection). */
  answered = true;
  /** Another certificate from now on (what a swapped certificate after a restart would look like). */
  swapped: string | null = null;
  /** How many times fingerprints() answers null first (a browser that publishes its descriptions late). */
  late = 0;
  fingerprints() {
    if (this.late > 0) {
      this.late--;
      return null;
    }
    return this.swapped ? { ...this.fps, remote: this.swapped } : this.fps;
  }
  /** The remote certificate's SHA-256 fingerprint the "browser" reports in getStats, or none. */
  certificate: string | null = null;
  /** Stands for the connection's file lane (core/files): the session only hands it on. */
  readonly lane = { send: () => undefined, bufferedAmount: () => 0, onMessage: () => undefined, onLow: () => undefined };
  fileLane() {
    return this.lane;
  }
  async stats(): Promise<RTCStatsReport | null> {
    if (!this.certificate) return null;
    const entries = [
      { id: "T01", type: "transport", remoteCertificateId: "CFremote" },
      { id: "CFremote", type: "certificate", fingerprintAlgorithm: "sha-256", fingerprint: this.certificate.slice("sha-256 ".length) },
    ];
    return new Map(entries.map((e) => [e.id, e])) as unknown as RTCStatsReport;
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closes.forEach((h) => h());
    this.other.close();
  }
}

class FakePeer implements PeerPort {
  readonly id: string;
  readonly fp: string;
  private incoming: ((c: ChannelPort) => void)[] = [];
  private disconnected: (() => void)[] = [];
  readonly channels: FakeChannel[] = [];
  destroyed = false;
  online = true;
  constructor(
    private readonly hub: Hub,
    id?: string,
  ) {
    this.id = id ?? `peer${++hub.n}`;
    this.fp = fp(++hub.n);
    hub.peers.set(this.id, this);
  }
  async open(): Promise<string> {
    return this.id;
  }
  async connect(remoteId: string, signal?: AbortSignal): Promise<ChannelPort> {
    const remote = this.hub.peers.get(remoteId);
    if (!remote || remote.destroyed || !this.online) throw new PeerError("peer-unavailable", `Could not connect to peer ${remoteId}`);
    if (this.hub.isCut(this.id, remoteId)) {
      this.hub.refusedByCut++;
      throw new PeerError("network", `no path to ${remoteId}`);
    }
    if (this.hub.connectDelayMs > 0) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, this.hub.connectDelayMs);
        if (this.hub.ignoreAbort) return;
        signal?.addEventListener(
          "abort",
          () => {
            clearTimeout(timer);
            this.hub.abandoned++;
            reject(new PeerError("network", "abandoned"));
          },
          { once: true },
        );
      });
    }
    const mine = new FakeChannel(remoteId, { local: this.fp, remote: this.hub.tamper ? fp(9999) : remote.fp }, this.hub);
    const theirs = new FakeChannel(this.id, { local: remote.fp, remote: this.fp }, this.hub);
    mine.other = theirs;
    theirs.other = mine;
    this.channels.push(mine);
    remote.channels.push(theirs);
    mine.late = theirs.late = this.hub.late;
    if (this.hub.restartable)
      for (const c of [mine, theirs])
        c.restartIce = async () => {
          c.restarts++;
          return c.answered;
        };
    if (this.hub.certificates !== "none") {
      mine.certificate = this.hub.certificates === "real" ? remote.fp : fp(999);
      theirs.certificate = this.hub.certificates === "real" ? this.fp : fp(999);
    }
    setTimeout(() => remote.incoming.forEach((h) => h(theirs)), 1);
    return mine;
  }
  onIncoming(h: (c: ChannelPort) => void): void {
    this.incoming.push(h);
  }
  onDisconnected(h: () => void): void {
    this.disconnected.push(h);
  }
  refreshes = 0;
  /** The session asks for a fresh signaling socket: it drops and reconnects at once here. */
  refresh(): void {
    this.refreshes++;
    this.disconnected.forEach((h) => h());
  }
  dropSignaling(): void {
    this.online = false;
    this.disconnected.forEach((h) => h());
  }
  async reconnect(): Promise<void> {
    if (!this.online) throw new PeerError("network", "offline");
  }
  destroy(): void {
    this.destroyed = true;
    for (const c of this.channels) c.close();
  }
  channelTo(id: string): FakeChannel | undefined {
    return this.channels.filter((c) => c.remoteId === id && !c.closed).pop();
  }
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sessions: MeshSession[] = [];
/** The SHA-256 of the current test room's host key, as its invite link carries it. */
let hostKeyHash = "";

/** A host key for a test room, and what the host's side of the session needs of it. */
async function hostKey(): Promise<{
  authority: Signer;
  hosted: (roomId: string, keyHash: string, only?: string) => Promise<import("../src/core/room").HostRoom>;
}> {
  const authority = await newSigner();
  hostKeyHash = await keyHash(authority.key);
  return {
    authority,
    hosted: async (roomId, keyHash, only) => ({
      roomId,
      authority,
      epoch: null,
      saveEpoch: async () => undefined,
      lookupInvite: async (id) => (only === undefined || id === only ? { status: "ok", roomId, keyHash } : { status: "unknown" }),
    }),
  };
}
afterEach(() => {
  for (const s of sessions.splice(0)) s.close();
});

async function room(joiners: number, late = 0, hostOptions: Partial<ConstructorParameters<typeof MeshSession>[0]> = {}) {
  const hub = new Hub();
  hub.late = late;
  const roomId = "room-abc";
  const { authority, hosted } = await hostKey();
  const inviteSecret = toBase64Url(new Uint8Array(16).map((_, i) => 200 - i));
  const keyHash = await inviteKeyHash(inviteSecret);
  const ports = new Map<MeshSession, FakePeer>();
  const make = (opts: ConstructorParameters<typeof MeshSession>[0] extends infer O ? Partial<O> : never) => {
    let port: FakePeer | null = null;
    const s = new MeshSession({
      createPeer: () => (port = new FakePeer(hub)),
      loadIce: async () => [],
      name: "x",
      backoff: { attempts: 3, baseMs: 10, maxMs: 50 },
      room: { tickMs: 100, resendMs: 300 },
      iceGraceMs: 1000,
      ...opts,
    });
    sessions.push(s);
    return { s, port: () => port! };
  };
  const host = make({
    ...hostOptions,
    host: () => hosted(roomId, keyHash, "invite-one"),
  });
  const hostId = await host.s.start();
  ports.set(host.s, host.port());
  const members = [host.s];
  for (let i = 0; i < joiners; i++) {
    const j = make({ invite: { roomId, inviteId: "invite-one", secret: inviteSecret, hostPeerId: hostId, hostKeyHash } });
    await j.s.start();
    ports.set(j.s, j.port());
    members.push(j.s);
  }
  return { hub, members, ports, roomId, hostId, make, inviteSecret, authority };
}

function texts(s: MeshSession, out: string[]): void {
  s.room!.events.on("message", (m) => out.push(m.text));
}

/**
 * A 1:1 room whose friend joined with a key the test holds, linked: `page()` opens another page of
 * that friend (a reload: new peer id, the same key handed on).
 */
async function pairWithKeyedFriend(hostOptions: Partial<ConstructorParameters<typeof MeshSession>[0]> = {}) {
  const r = await room(0, 0, { maxMembers: 2, ...hostOptions });
  const host = r.members[0]!;
  const key = await newSigner();
  const invite = { roomId: r.roomId, inviteId: "invite-one", secret: r.inviteSecret, hostPeerId: r.hostId, hostKeyHash };
  const page = () => r.make({ invite, signer: async () => key });
  const friend = page();
  await friend.s.start();
  await until(() => host.room!.members()[0]?.state === "online", "the pair linked");
  return { ...r, host, key, invite, page, friend: friend.s };
}

describe("MeshSession", () => {
  it("join_FourMembers_FullMeshAndEveryoneGetsEveryMessage", async () => {
    const { members } = await room(3);
    await until(() => members.every((m) => m.connectedPeers.length === 3), "a full mesh");
    const got = members.map(() => [] as string[]);
    members.forEach((m, i) => texts(m, got[i]!));
    members.forEach((m, i) => m.room!.send(`from ${i}`));
    await until(() => got.every((g) => g.length === 3), "every message everywhere");
    got.forEach((g, i) => expect(g.sort()).toEqual([0, 1, 2, 3].filter((k) => k !== i).map((k) => `from ${k}`)));
  });

  it("join_FingerprintsPublishedLate_StillAuthenticates", async () => {
    const { members } = await room(2, 4);
    await until(() => members.every((m) => m.connectedPeers.length === 2), "a full mesh despite late fingerprints");
  });

  it("join_BrowserReportsTheRealCertificates_Authenticates", async () => {
    const { hub, make, hostId, roomId, inviteSecret, members } = await room(0);
    hub.certificates = "real";
    const j = make({ invite: { roomId, inviteId: "invite-one", secret: inviteSecret, hostPeerId: hostId, hostKeyHash } });
    await j.s.start();
    await until(() => members[0]!.connectedPeers.length === 1 && j.s.connectedPeers.length === 1, "linked with the certificates checked");
  });

  it("join_BrowserReportsAnotherCertificate_BothSidesRefuse", async () => {
    // The descriptions name the real fingerprints but DTLS accepted another certificate (what a
    // second fingerprint line did in Chromium): neither side starts the handshake.
    const hostRefusals: string[] = [];
    const { hub, make, hostId, roomId, inviteSecret, members } = await room(0);
    hub.certificates = "other";
    members[0]!.events.on("refused", (r) => hostRefusals.push(`${r.reason}:${r.by}`));
    const j = make({ invite: { roomId, inviteId: "invite-one", secret: inviteSecret, hostPeerId: hostId, hostKeyHash } });
    const statuses: string[] = [];
    j.s.events.on("status", (st) => statuses.push(st.phase === "failed" ? `failed:${st.refusal}` : st.phase));
    await j.s.start();
    expect(statuses).toContain("failed:auth-failed");
    expect(j.s.room).toBeNull();
    await until(() => hostRefusals.length > 0, "the host's refusal");
    expect(hostRefusals[0]).toBe("auth-failed:us");
    expect(members[0]!.connectedPeers).toEqual([]);
    // No file lane for a link that did not authenticate.
    expect(members[0]!.fileLanes.lane(j.s.id)).toBeNull();
    expect(members[0]!.fileLanes.peers()).toEqual([]);
  });

  it("fileLanes_AuthenticatedLinkOnly_UpAndDownReported", async () => {
    const { members, hub } = await room(1);
    const [host, joiner] = members as [MeshSession, MeshSession];
    const ups: string[] = [];
    const downs: string[] = [];
    host.fileLanes.onUp((p) => ups.push(p));
    host.fileLanes.onDown((p) => downs.push(p));
    await until(() => host.connectedPeers.length === 1, "linked");
    expect(host.fileLanes.peers()).toEqual([joiner.id]);
    const lane = host.fileLanes.lane(joiner.id);
    expect(lane).not.toBeNull();
    expect(typeof lane!.send).toBe("function");
    expect(host.fileLanes.lane("nobody")).toBeNull();
    hub.cut(host.id, joiner.id);
    await until(() => downs.length > 0, "the link down");
    expect(downs[0]).toBe(joiner.id);
  });

  it("join_ThirteenthMember_RefusedAsFull", async () => {
    const { members, make, hostId, roomId, inviteSecret } = await room(11);
    await until(() => members.every((m) => m.connectedPeers.length === 11), "a full mesh of twelve", 30_000);
    const j = make({ invite: { roomId, inviteId: "invite-one", secret: inviteSecret, hostPeerId: hostId, hostKeyHash } });
    const statuses: string[] = [];
    j.s.events.on("status", (st) => statuses.push(st.phase === "failed" ? `failed:${st.refusal}` : st.phase));
    await j.s.start();
    expect(statuses).toContain("failed:busy");
  }, 60_000);

  it("ice_DisconnectedPastTheGrace_LinkRedialledAndMessagesFollow", async () => {
    const { members, ports } = await room(1);
    await until(() => members.every((m) => m.connectedPeers.length === 1 && m.room!.members().length === 1), "linked");
    const [host, joiner] = members as [MeshSession, MeshSession];
    const old = ports.get(joiner)!.channelTo(host.id)!;
    old.emitIce("disconnected");
    old.emitIce("connected"); // recovered within the grace: nothing happens
    await new Promise((r) => setTimeout(r, 300));
    expect(old.closed).toBe(false);
    old.emitIce("disconnected"); // and this time it stays down
    const got: string[] = [];
    texts(host, got);
    joiner.room!.send("after the restart");
    await until(() => old.closed, "the stale link closed", 15_000);
    await until(() => got.length === 1, "the message over the new link", 15_000);
    expect(ports.get(joiner)!.channelTo(host.id)).not.toBe(old);
  }, 30_000);

  it("ice_Failed_LinkRedialledAtOnce", async () => {
    const { members, ports } = await room(1);
    await until(() => members.every((m) => m.connectedPeers.length === 1 && m.room!.members().length === 1), "linked");
    const [host, joiner] = members as [MeshSession, MeshSession];
    const old = ports.get(joiner)!.channelTo(host.id)!;
    old.emitIce("failed");
    expect(old.closed).toBe(true);
    await until(() => joiner.connectedPeers.includes(host.id) && ports.get(joiner)!.channelTo(host.id) !== undefined, "a new link");
  });

  it("join_WrongInvite_RefusedWithTheReason", async () => {
    const { make, hostId, roomId, inviteSecret } = await room(0);
    const j = make({ invite: { roomId, inviteId: "invite-two", secret: inviteSecret, hostPeerId: hostId, hostKeyHash } });
    const statuses: string[] = [];
    j.s.events.on("status", (st) => statuses.push(st.phase === "failed" ? `failed:${st.refusal}` : st.phase));
    await j.s.start();
    expect(statuses).toContain("failed:unknown-invite");
    expect(j.s.room).toBeNull();
  });

  /**
   * A page that was a member dials `target` again under its old id, with its key and the certificate
   * the host gave it (what a page that ignores its removal, or one that left and kept them, can do).
   * Resolves to the first handshake frame it gets back.
   */
  async function comeBack(hub: Hub, id: string, self: Signer, cert: Certificate, target: MeshSession): Promise<unknown> {
    const { JoinerHandshake, webVerify } = await import("../src/core/auth");
    const page = new FakePeer(hub, id);
    const channel = await page.connect(target.id);
    const hs = new JoinerHandshake({
      roomId: "room-abc",
      member: { cert, accepts: () => true },
      self,
      verify: webVerify,
      fingerprints: channel.fingerprints!()!,
    });
    const replies: unknown[] = [];
    channel.onData((d) => replies.push(d));
    for (const m of hs.start().send) channel.send(m);
    await until(() => replies.length > 0, "an answer");
    channel.close();
    return replies[0];
  }

  it("host_RemovesAMember_ItIsToldTheOthersDropIt_ItsCertificateNoLongerLinks", async () => {
    const { hub, members, make, hostId, roomId, inviteSecret } = await room(1);
    const key = await newSigner();
    const victim = make({ invite: { roomId, inviteId: "invite-one", secret: inviteSecret, hostPeerId: hostId, hostKeyHash }, signer: async () => key });
    await victim.s.start();
    const all = [...members, victim.s];
    await until(() => all.every((m) => m.connectedPeers.length === 2), "a full mesh of three");
    const cert = (victim.s as unknown as { cert: Certificate }).cert;
    let told = false;
    victim.s.events.on("removed", () => (told = true));
    expect(await members[1]!.removeMember(victim.s.id)).toBe(false); // only the host can
    expect(await members[0]!.removeMember(victim.s.id)).toBe(true);
    await until(() => told, "the removed member told");
    await until(() => members.every((m) => m.connectedPeers.length === 1 && m.room!.members().length === 1), "the others without it");
    expect(await comeBack(hub, victim.s.id, key, cert, members[1]!)).toMatchObject({ t: "auth-refuse", reason: "auth-failed" });
  });

  it("host_RevokesAnInvite_AMemberThatLeftCannotComeBackThroughAnother", async () => {
    const { hub, members, make, hostId, roomId, inviteSecret } = await room(1);
    const key = await newSigner();
    const leaver = make({ invite: { roomId, inviteId: "invite-one", secret: inviteSecret, hostPeerId: hostId, hostKeyHash }, signer: async () => key });
    const leaverId = await leaver.s.start();
    await until(() => [...members, leaver.s].every((m) => m.connectedPeers.length === 2), "a full mesh of three");
    const cert = (leaver.s as unknown as { cert: Certificate }).cert;
    leaver.s.leave();
    await until(() => members.every((m) => m.room!.members().length === 1), "the others see it gone");
    hub.peers.delete(leaverId);
    // Before the revocation its certificate still links (the host has not said otherwise) ...
    expect(await comeBack(hub, leaverId, key, cert, members[1]!)).toMatchObject({ t: "auth-challenge" });
    // ... after it, the room's new epoch names only who is here: the old certificate is refused.
    expect(await members[0]!.rekey()).toBe(true);
    await until(() => (members[1] as unknown as { trust: { epoch: number } }).trust.epoch === 1, "the new epoch at the other member");
    hub.peers.delete(leaverId);
    expect(await comeBack(hub, leaverId, key, cert, members[1]!)).toMatchObject({ t: "auth-refuse", reason: "auth-failed" });
  });

  // (signed by its own key, not the host's): refused before the member proves anything.
  it("member_WithACertificateTheHostDidNotSign_CannotLink", async () => {
    const { members, hub } = await room(1);
    const self = await newSigner();
    const cert = { k: self.key, e: 0, s: await self.sign(certificateInput("room-abc", "outsider", self.key, 0)) };
    expect(await comeBack(hub, "outsider", self, cert, members[1]!)).toEqual({ t: "auth-refuse", reason: "auth-failed" });
    expect(members[1]!.connectedPeers).not.toContain("outsider");
  });

  it("cut_DirectLinkDown_MessagesGoThroughARelay", async () => {
    const { members, hub } = await room(2);
    await until(() => members.every((m) => m.connectedPeers.length === 2), "a full mesh");
    const [a, b, c] = members as [MeshSession, MeshSession, MeshSession];
    hub.cut(b.id, c.id);
    await until(() => b.room!.members().find((m) => m.id === c.id)?.path === "relay", "a relayed path");
    const got: string[] = [];
    texts(c, got);
    b.room!.send("around the cut");
    await until(() => got.length === 1, "the relayed message");
    expect(got).toEqual(["around the cut"]);
    expect(a.room!.stats.relayed).toBeGreaterThan(0);
    hub.restore(b.id, c.id);
    // Nobody tells the session the network is back: its own redial finds the path again.
    await until(() => b.connectedPeers.includes(c.id), "the link back", 20_000);
  });

  it("join_AttemptsTimeOut_EachAbandonedConnectionIsTornDown_LateOnesClosed", async () => {
    const { hub, make, hostId, inviteSecret } = await room(0);
    const invite = { roomId: "room-abc", inviteId: "invite-one", secret: inviteSecret, hostPeerId: hostId, hostKeyHash };
    // The path takes longer than the session waits: every attempt is given up and must be torn down.
    hub.connectDelayMs = 150;
    const slow = make({ invite, attemptTimeoutMs: 40, backoff: { attempts: 2, baseMs: 10, maxMs: 20 } });
    await slow.s.start().catch(() => undefined);
    expect(hub.abandoned).toBe(2);
    // A connection that opens after the session gave up (the transport ignored the abort) is closed.
    hub.ignoreAbort = true;
    const late = make({ invite, attemptTimeoutMs: 40, backoff: { attempts: 1, baseMs: 10, maxMs: 20 } });
    await late.s.start().catch(() => undefined);
    await until(() => late.port().channels.length === 1, "the late channel");
    await until(() => late.port().channels.every((c) => c.closed), "the late channel closed");
    expect(hub.peers.get(hostId)!.channels.filter((c) => !c.closed)).toEqual([]);
  });

  it.each([
    ["group", 12],
    ["1:1", 2],
  ])("strangers_ManyHandshakesNeverFinished_AtMostEightHeld_TheRealJoinerGetsIn (%s room)", async (_kind, maxMembers) => {
    const { hub, make, hostId, inviteSecret } = await room(0, 0, { maxMembers });
    const hostPort = hub.peers.get(hostId)!;
    // Someone who knows the host's id opens channel after channel and never says a word.
    for (let i = 0; i < 20; i++) await new FakePeer(hub, `stranger${i}`).connect(hostId);
    await until(() => hostPort.channels.length === 20, "the strangers' channels at the host");
    await new Promise((r) => setTimeout(r, 20));
    expect(hostPort.channels.filter((c) => !c.closed).length).toBe(8);
    const joiner = make({ invite: { roomId: "room-abc", inviteId: "invite-one", secret: inviteSecret, hostPeerId: hostId, hostKeyHash } });
    await joiner.s.start();
    await until(() => joiner.s.connectedPeers.includes(hostId), "the real joiner linked");
  });

  // A full room runs the handshake of every newcomer (only a proven key says whether it is a member's
  // reloaded page), so the same bound holds there: the flood holds at most eight channels, the friend
  // keeps its seat, and the friend's reloaded page still gets it back.
  it("strangers_FloodAFullPairRoom_AtMostEightHeld_FriendsReloadedPageStillTakesItsSeat", async () => {
    const { hub, host, hostId, page, friend } = await pairWithKeyedFriend();
    const hostPort = hub.peers.get(hostId)!;
    const before = hostPort.channels.length;
    for (let i = 0; i < 20; i++) await new FakePeer(hub, `stranger${i}`).connect(hostId);
    await until(() => hostPort.channels.length === before + 20, "the strangers' channels at the host");
    await new Promise((r) => setTimeout(r, 20));
    expect(hostPort.channels.slice(before).filter((c) => !c.closed).length).toBe(8);
    expect(host.room!.members().map((m) => m.id)).toEqual([friend.id]);
    friend.close();
    const reloaded = page();
    await reloaded.s.start();
    await until(
      () =>
        host
          .room!.members()
          .map((m) => m.id)
          .join() === reloaded.s.id,
      "the reloaded page in the seat",
    );
  });

  it("linkCutBeforeTheFirstPresence_TheSideThatDialledRedials_NobodyStranded", async () => {
    const { members, hub, make, hostId, inviteSecret } = await room(0);
    const host = members[0]!;
    const joiner = make({ invite: { roomId: "room-abc", inviteId: "invite-one", secret: inviteSecret, hostPeerId: hostId, hostKeyHash } });
    // The link comes up, but the first presence frames do not arrive before the cut (on a loaded
    // machine they can come well after the link): neither roster knows the other.
    hub.holdRoomFrames = true;
    await joiner.s.start();
    const guest = joiner.s;
    await until(() => guest.connectedPeers.includes(hostId) && host.connectedPeers.includes(guest.id), "linked");
    hub.cut(host.id, guest.id);
    hub.holdRoomFrames = false;
    expect(guest.room!.roster.members.has(hostId)).toBe(false);
    expect(host.room!.roster.members.has(guest.id)).toBe(false);
    await until(() => hub.refusedByCut >= 1, "a redial refused by the cut");
    hub.restore(host.id, guest.id);
    await until(
      () => guest.connectedPeers.includes(hostId) && guest.room!.roster.members.has(hostId) && host.room!.roster.members.has(guest.id),
      "the link back, each in the other's roster",
    );
  });

  it("resume_LinkAndSignalingBackAtOnce_NotWhenTheBackOffSays", async () => {
    // Once frozen, waits of 2 s or more (the back-off's) never end here: only resume() can bring the
    // link and the signaling socket back — no wall-clock assertion needed.
    let frozen = false;
    const clock = {
      now: () => Date.now(),
      setTimer: (ms: number, fn: () => void) => {
        if (frozen && ms >= 2000) return () => undefined;
        const h = setTimeout(fn, ms);
        return () => clearTimeout(h);
      },
    };
    const { members, hub, make, hostId, inviteSecret } = await room(0, 0, { clock });
    const host = members[0]!;
    const joiner = make({ invite: { roomId: "room-abc", inviteId: "invite-one", secret: inviteSecret, hostPeerId: hostId, hostKeyHash }, clock });
    await joiner.s.start();
    const guest = joiner.s;
    // Linked, and each in the other's roster: a member is redialled only once its presence is known
    // (on a loaded machine the first presence can come well after the link is up).
    await until(
      () =>
        guest.connectedPeers.includes(hostId) &&
        host.connectedPeers.includes(guest.id) &&
        guest.room!.roster.members.has(hostId) &&
        host.room!.roster.members.has(guest.id),
      "linked, each in the other's roster",
    );
    frozen = true;
    // The phone was in the background: no path for a while; the redial back-off has grown past 2 s.
    hub.cut(host.id, guest.id);
    await new Promise((r) => setTimeout(r, 2500)); // redials at 0.5 and 1.5 s fail; the next waits 2 s
    // On a loaded machine the second redial may come later than that: the back-off must have grown first.
    await until(() => hub.refusedByCut >= 2, "two redials refused by the cut");
    hub.restore(host.id, guest.id);
    guest.resume(false);
    host.resume(false);
    await until(() => guest.connectedPeers.includes(host.id), "the link back");
    // The signaling socket: down, the reconnect loop waiting (1 s, then 2 s); back on resume.
    const port = joiner.port();
    const states: string[] = [];
    guest.events.on("signaling", (st) => states.push(st));
    port.dropSignaling();
    await new Promise((r) => setTimeout(r, 1500));
    port.online = true;
    guest.resume(true);
    await until(() => states.at(-1) === "online", "signaling back");
  }, 20_000);

  it("relinkAll_EveryLinkMadeAgain_NothingLost", async () => {
    const { members } = await room(2);
    await until(() => members.every((m) => m.connectedPeers.length === 2), "a full mesh");
    const [a, b] = members as [MeshSession, MeshSession];
    const got: string[] = [];
    texts(b, got);
    a.relinkAll();
    expect(a.connectedPeers).toEqual([]);
    a.room!.send("while relinking");
    await until(() => a.connectedPeers.length === 2, "every link back");
    await until(() => got.includes("while relinking"), "the message");
    expect(got.filter((x) => x === "while relinking")).toHaveLength(1);
  });

  it("signaling_Dropped_LinksLiveOnAndItReconnects", async () => {
    const { members, ports } = await room(1);
    // Generous waits: once failed at the default 10 s under a full ./test.sh (not reproduced since).
    // Linked and each in the other's member list (presence is signed and checked: a moment after the link).
    await until(() => members.every((m) => m.connectedPeers.length === 1 && m.room!.members().length === 1), "linked", 20_000);
    const states: string[] = [];
    members[1]!.events.on("signaling", (s) => states.push(s));
    const port = ports.get(members[1]!)!;
    port.dropSignaling();
    const got: string[] = [];
    texts(members[0]!, got);
    members[1]!.room!.send("while the server is gone");
    await until(() => got.length === 1, "the message over the P2P link", 20_000);
    port.online = true;
    await until(() => states.includes("online"), "signaling back", 15_000);
    expect(states[0]).toBe("reconnecting");
    // Reconnecting waits 1 s, 2 s, 4 s … on the real clock between attempts: more than Vitest's 5 s
    // default when an attempt falls just before the port comes back on a loaded machine.
  }, 30_000);

  it("link_ClosedByTheNetwork_IsRedialledAndNothingIsLost", async () => {
    const { members, ports } = await room(1);
    await until(() => members.every((m) => m.connectedPeers.length === 1 && m.room!.members().length === 1), "linked");
    const [host, joiner] = members as [MeshSession, MeshSession];
    const got: string[] = [];
    texts(host, got);
    ports.get(joiner)!.channelTo(host.id)!.close();
    for (let i = 0; i < 5; i++) joiner.room!.send(`m${i}`);
    // Redials back off on the real clock (0.5 s, 1 s, 2 s …): on a loaded machine an attempt can miss.
    await until(() => got.length === 5, "all five after the redial", 18_000);
    expect(got).toEqual(["m0", "m1", "m2", "m3", "m4"]);
    expect(joiner.connectedPeers).toEqual([host.id]);
  });

  it("pair_SecondJoinerWhileTheFriendIsThere_RefusedAsFull", async () => {
    const { members, make, hostId, roomId, inviteSecret } = await room(1, 0, { maxMembers: 2 });
    await until(() => members.every((m) => m.connectedPeers.length === 1), "the pair linked");
    const third = make({ invite: { roomId, inviteId: "invite-one", secret: inviteSecret, hostPeerId: hostId, hostKeyHash } });
    const statuses: string[] = [];
    third.s.events.on("status", (st) => statuses.push(st.phase === "failed" ? `failed:${st.reason}` : st.phase));
    await third.s.start();
    expect(statuses).toContain("failed:room-full");
    expect(members[0]!.room!.members().map((m) => m.id)).toEqual([members[1]!.id]);
  });

  it("pair_FriendUnreachableForLong_NewcomerTakesTheSeat_ReconnectingFriendDoesNot", async () => {
    const { members, make, hostId, roomId, inviteSecret } = await room(1, 0, { maxMembers: 2, room: { tickMs: 50, resendMs: 300, unreachableAfterMs: 400 } });
    const [host, friend] = members as [MeshSession, MeshSession];
    await until(() => host.room!.members()[0]?.state === "online", "the pair linked");
    // The friend's tab crashes: no goodbye, its links just die.
    friend.close();
    await until(() => host.room!.members()[0]?.state === "reconnecting", "the friend shown reconnecting");
    const early = make({ invite: { roomId, inviteId: "invite-one", secret: inviteSecret, hostPeerId: hostId, hostKeyHash } });
    const earlyStatus: string[] = [];
    early.s.events.on("status", (st) => earlyStatus.push(st.phase === "failed" ? `failed:${st.reason}` : st.phase));
    await early.s.start();
    expect(earlyStatus).toContain("failed:room-full"); // while reconnecting, the seat stays the friend's
    await until(() => host.room!.members()[0]?.state === "unreachable", "the friend shown unreachable");
    const late = make({ invite: { roomId, inviteId: "invite-one", secret: inviteSecret, hostPeerId: hostId, hostKeyHash } });
    await late.s.start();
    await until(() => host.room!.members()[0]?.id === late.s.id, "the newcomer in the room");
    expect(host.room!.members().map((m) => m.id)).toEqual([late.s.id]);
    expect(host.room!.roster.isGone(friend.id, friend.room!.inc)).toBe(true);
  }, 30_000);

  // A page that reloads keeps its member key (the tab hands it to the next page) but gets a new peer
  // id. Firefox does not get its goodbye out on a reload: the room still holds the old page's seat.
  it("pair_FriendReloadsWithoutGoodbye_SameKeyTakesItsSeatAtOnce_MessagesFlowBothWays", async () => {
    const { host, page, friend: old } = await pairWithKeyedFriend();
    const oldInc = old.room!.inc;
    old.close(); // no goodbye
    await until(() => host.connectedPeers.length === 0, "the old page's link down");
    // Written to the old page while it was gone: it never had it, and the new page is a new instance.
    const receipts: string[] = [];
    host.room!.events.on("receipt", (r) => receipts.push(`${r.id} ${r.peer} ${r.state}`));
    const waiting = host.room!.send("to the old page");
    const reloaded = page();
    const statuses: string[] = [];
    reloaded.s.events.on("status", (st) => statuses.push(st.phase === "failed" ? `failed:${st.reason}` : st.phase));
    await reloaded.s.start();
    expect(statuses).not.toContain("failed:room-full");
    expect(statuses.at(-1)).toBe("ready");
    // The old page's seat went at once (it is not unreachable yet: that takes a minute).
    expect(host.room!.roster.isGone(old.id, oldInc)).toBe(true);
    expect(receipts).toContain(`${waiting} ${old.id} failed`);
    await until(
      () => host.room!.members().length === 1 && host.room!.members()[0]!.id === reloaded.s.id && host.room!.members()[0]!.state === "online",
      "the reloaded page in the seat",
    );
    const atHost: string[] = [];
    const atFriend: string[] = [];
    texts(host, atHost);
    texts(reloaded.s, atFriend);
    host.room!.send("to the reloaded page");
    reloaded.s.room!.send("back from the reload");
    await until(() => atHost.length === 1 && atFriend.length === 1, "a message each way");
    expect([atHost, atFriend]).toEqual([["back from the reload"], ["to the reloaded page"]]);
  }, 30_000);

  // Only the same key takes the seat: another key with the invite, a page without the invite, and a
  // page that names the friend's key without holding it are all refused, and the friend stays.
  it("pair_FullRoom_OtherKeyOrNoInviteOrBorrowedKey_Refused_FriendKeepsTheSeat", async () => {
    const { host, make, key, invite, friend } = await pairWithKeyedFriend({ maxPending: 2 });
    const impostor = await newSigner();
    const attempts = [
      { invite, signer: async () => await newSigner() },
      { invite: { ...invite, inviteId: "no-such-invite", secret: toBase64Url(new Uint8Array(16)) } },
      { invite, signer: async () => ({ key: key.key, sign: impostor.sign }) },
    ];
    const outcomes: string[] = [];
    for (const a of attempts) {
      const j = make(a);
      j.s.events.on("status", (st) => st.phase === "failed" && outcomes.push(`${st.reason}:${st.refusal}`));
      await j.s.start();
      expect(j.s.room).toBeNull();
    }
    expect(outcomes).toEqual(["room-full:busy", "refused:unknown-invite", "refused:auth-failed"]);
    expect(host.room!.members().map((m) => [m.id, m.state])).toEqual([[friend.id, "online"]]);
    expect(host.connectedPeers).toEqual([friend.id]);
    const got: string[] = [];
    texts(friend, got);
    host.room!.send("still you");
    await until(() => got.length === 1, "the friend still gets messages");
  }, 30_000);

  // In a group the reloaded page takes its old seat at the host and, as it links to them, at every
  // other member: nobody is left showing the old page as "reconnecting".
  it("group_MemberReloadsWithoutGoodbye_OldInstanceGoneEverywhere_NewOneLinkedToAll", async () => {
    const { members, make, hostId, roomId, inviteSecret } = await room(1);
    const key = await newSigner();
    const invite = { roomId, inviteId: "invite-one", secret: inviteSecret, hostPeerId: hostId, hostKeyHash };
    const old = make({ invite, signer: async () => key });
    await old.s.start();
    await until(() => [...members, old.s].every((m) => m.connectedPeers.length === 2), "a full mesh of three");
    const oldInc = old.s.room!.inc;
    old.s.close();
    const reloaded = make({ invite, signer: async () => key });
    await reloaded.s.start();
    await until(() => reloaded.s.connectedPeers.length === 2, "the reloaded page linked to both", 20_000);
    for (const m of members) {
      expect(m.room!.roster.isGone(old.s.id, oldInc)).toBe(true);
      await until(() => m.room!.members().length === 2 && m.room!.members().every((x) => x.state === "online"), "two members online, no ghost");
      expect(m.room!.members().map((x) => x.id)).toContain(reloaded.s.id);
    }
  }, 30_000);

  it("join_ManInTheMiddle_FingerprintsDiffer_BothRefuse_NoRoom", async () => {
    const { hub, make, hostId, roomId, inviteSecret, members } = await room(0);
    hub.tamper = true;
    const refusedByHost: string[] = [];
    members[0]!.events.on("refused", (r) => refusedByHost.push(`${r.reason}:${r.by}`));
    const j = make({ invite: { roomId, inviteId: "invite-one", secret: inviteSecret, hostPeerId: hostId, hostKeyHash } });
    const statuses: string[] = [];
    j.s.events.on("status", (st) => statuses.push(st.phase === "failed" ? `failed:${st.refusal}` : st.phase));
    await j.s.start();
    expect(statuses.at(-1)).toBe("failed:auth-failed");
    expect(j.s.room).toBeNull();
    await until(() => refusedByHost.length > 0, "the host's refusal");
    expect(refusedByHost[0]).toMatch(/^auth-failed:/);
    expect(members[0]!.room!.members()).toEqual([]);
  });

  it("join_PathFailsThenWorks_FailsOverBeforeTheNextAttempt_NotWhenTheHostIsUnknown", async () => {
    const { make, hostId, roomId, inviteSecret, hub } = await room(0);
    const calls: string[] = [];
    const servers: RTCIceServer[] = [];
    const ice = { servers, load: async () => void calls.push("load"), failover: async () => (calls.push("failover"), true) };
    let attempts = 0;
    const j = make({ ice, invite: { roomId, inviteId: "invite-one", secret: inviteSecret, hostPeerId: hostId, hostKeyHash } });
    const created: FakePeer[] = [];
    const orig = (j.s as unknown as { o: { createPeer: (s: RTCIceServer[]) => FakePeer } }).o;
    const create = orig.createPeer;
    orig.createPeer = (list) => {
      expect(list).toBe(servers); // peers are built with the failover's live list
      const p = create(list);
      const connect = p.connect.bind(p);
      p.connect = async (id: string) => {
        if (++attempts === 1) throw new Error("ICE failed"); // the host is known, the path did not open
        return connect(id);
      };
      created.push(p);
      return p;
    };
    await j.s.start();
    expect(calls).toEqual(["load", "failover"]);
    expect(j.s.room).not.toBeNull();
    // A host the server does not know: no failover (the path is not what failed).
    const k = make({
      ice: { servers: [], load: async () => void calls.push("load2"), failover: async () => (calls.push("failover2"), true) },
      invite: { roomId, inviteId: "invite-one", secret: inviteSecret, hostPeerId: "nobody-here", hostKeyHash },
    });
    const statuses: string[] = [];
    k.s.events.on("status", (st) => statuses.push(st.phase === "failed" ? `failed:${st.reason}` : st.phase));
    await k.s.start();
    expect(calls).not.toContain("failover2");
    expect(statuses.at(-1)).toBe("failed:peer-unreachable");
    void hub;
  });

  it("room_NamesTypingAndPing_ReachTheOtherSide_HostileNameInert", async () => {
    const { members } = await room(1);
    const [host, joiner] = members as [MeshSession, MeshSession];
    await until(() => members.every((m) => m.connectedPeers.length === 1), "linked");
    host.room!.setName("  Ana\u202E\u200Bevil\n  ");
    await until(() => joiner.room!.members()[0]?.name === "Anaevil", "the name, cleaned, at the joiner");
    const typing: boolean[] = [];
    joiner.room!.events.on("typing", (e) => e.from === host.id && typing.push(e.on));
    host.room!.typing(true);
    host.room!.typing(false);
    await until(() => typing.length === 2, "typing on and off");
    expect(typing).toEqual([true, false]);
    const pongs: number[] = [];
    host.room!.events.on("pong", (p) => p.from === joiner.id && pongs.push(p.seq));
    expect(host.room!.ping(joiner.id, 7)).toBe(true);
    expect(host.room!.ping("nobody", 8)).toBe(false);
    await until(() => pongs.length === 1, "the pong");
    expect(pongs).toEqual([7]);
    expect(await host.stats(joiner.id)).toBeNull(); // the fake channel has no getStats
  });

  describe("ICE restart on a stalled link", () => {
    async function stalledPair(options: Partial<ConstructorParameters<typeof MeshSession>[0]> = {}) {
      const hub = new Hub();
      hub.restartable = true;
      const roomId = "room-abc";
      const { hosted } = await hostKey();
      const secret = toBase64Url(new Uint8Array(16).map((_, i) => 200 - i));
      const keyHash = await inviteKeyHash(secret);
      const common = {
        loadIce: async () => [],
        name: "x",
        backoff: { attempts: 3, baseMs: 10, maxMs: 50 },
        room: { tickMs: 50, resendMs: 200 },
        iceGraceMs: 100,
        iceRestartEveryMs: 200,
        iceGiveUpMs: 1000,
        ...options,
      };
      const peers: FakePeer[] = [];
      const host = new MeshSession({
        ...common,
        createPeer: () => (peers[0] = new FakePeer(hub)),
        host: () => hosted(roomId, keyHash),
      });
      sessions.push(host);
      const hostId = await host.start();
      const joiner = new MeshSession({
        ...common,
        createPeer: () => (peers[1] = new FakePeer(hub)),
        invite: { roomId, inviteId: "invite-one", secret, hostPeerId: hostId, hostKeyHash },
      });
      sessions.push(joiner);
      await joiner.start();
      await until(() => host.room!.members()[0]?.state === "online" && joiner.room!.members()[0]?.state === "online", "the pair online");
      const dialled = peers[1]!.channelTo(hostId)!;
      const accepted = peers[0]!.channelTo(joiner.id)!;
      return { host, joiner, dialled, accepted, peers };
    }

    it("iceRestart_StalledLink_DiallerRestartsOnTheSameConnection_MessagesWaitThenArrive", async () => {
      const { host, joiner, dialled, accepted, peers } = await stalledPair();
      const got: string[] = [];
      texts(host, got);
      for (const c of [dialled, accepted]) c.emitIce("disconnected");
      await until(() => host.room!.members()[0]?.state === "reconnecting" && joiner.room!.members()[0]?.state === "reconnecting", "both see reconnecting");
      expect(joiner.connectedPeers).toEqual([]);
      await until(() => dialled.restarts >= 2, "the dialling side restarting ICE, again");
      expect(accepted.restarts).toBe(0);
      // The stalled side's signaling socket is opened anew (an address change leaves a dead one), once.
      expect(peers[1]!.refreshes).toBe(1);
      joiner.room!.send("written while stalled");
      await new Promise((r) => setTimeout(r, 150));
      expect(got).toEqual([]); // held in the outbox, not lost in a dead channel
      for (const c of [dialled, accepted]) c.emitIce("connected");
      await until(() => got.length === 1, "the message after ICE came back");
      expect(got).toEqual(["written while stalled"]);
      expect(dialled.closed).toBe(false); // the same connection: no redial, no new handshake
      expect(joiner.connectedPeers).toEqual([host.id]);
    });

    // A phone back from the background: its link's ICE went "disconnected" a moment ago, inside the
    // grace time. The page is shown: the restart starts now, not when the grace time ends.
    it("resume_LinkDisconnectedWithinTheGraceTime_RestartedAtOnce", async () => {
      const { joiner, dialled, accepted } = await stalledPair({ iceGraceMs: 60_000 });
      for (const c of [dialled, accepted]) c.emitIce("disconnected");
      await new Promise((r) => setTimeout(r, 50));
      expect(dialled.restarts).toBe(0);
      joiner.resume(false);
      await until(() => dialled.restarts >= 1, "a restart on resume");
      expect(joiner.room!.members()[0]?.state).toBe("reconnecting");
      for (const c of [dialled, accepted]) c.emitIce("connected");
      await until(() => joiner.room!.members()[0]?.state === "online", "back online");
    });

    it("iceRestart_CertificateChangedWhenBack_LinkDroppedAndRedialled", async () => {
      const { host, joiner, dialled, accepted } = await stalledPair();
      for (const c of [dialled, accepted]) c.emitIce("disconnected");
      await until(() => dialled.restarts >= 1, "a restart");
      dialled.swapped = "sha-256 " + "AB:".repeat(31) + "AB";
      for (const c of [dialled, accepted]) c.emitIce("connected");
      await until(() => dialled.closed, "the link with another certificate closed");
      await until(() => joiner.connectedPeers.includes(host.id) && !joiner.connectedPeers.includes("nobody"), "a new, authenticated link");
    });

    it("iceRestart_OffersNeverAnswered_RedialsBeforeTheGiveUpTime", async () => {
      const { host, joiner, dialled, accepted } = await stalledPair({ iceGiveUpMs: 60_000 });
      const got: string[] = [];
      texts(host, got);
      dialled.answered = false; // the other side closed its end when its ICE failed
      for (const c of [dialled, accepted]) c.emitIce("disconnected");
      joiner.room!.send("after the other side lost the connection");
      await until(() => dialled.closed, "the connection given up after two unanswered restarts", 5000);
      expect(dialled.restarts).toBeLessThanOrEqual(3);
      await until(() => got.length === 1, "the message over a new connection");
    });

    it("iceRestart_NeverBack_GivesUpAndRedials", async () => {
      const { host, joiner, dialled, accepted } = await stalledPair({ iceGiveUpMs: 400 });
      const got: string[] = [];
      texts(host, got);
      for (const c of [dialled, accepted]) c.emitIce("disconnected");
      joiner.room!.send("after giving up");
      await until(() => dialled.closed, "the stalled connection given up", 5000);
      await until(() => got.length === 1, "the message over the new connection");
    });
  });
});
