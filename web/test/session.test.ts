import { describe, expect, it } from "vitest";
import { ChatSession, PeerError, type ChannelPort, type PeerPort, type SessionStatus } from "../src/core/connection";

class FakeChannel implements ChannelPort {
  sent: unknown[] = [];
  closed = false;
  private data: ((d: unknown) => void)[] = [];
  private close_: (() => void)[] = [];
  private ice: ((s: RTCIceConnectionState) => void)[] = [];
  constructor(readonly remoteId: string) {}
  send(d: unknown) { this.sent.push(d); }
  onData(h: (d: unknown) => void) { this.data.push(h); }
  onClose(h: () => void) { this.close_.push(h); }
  onIceState(h: (s: RTCIceConnectionState) => void) { this.ice.push(h); }
  close() { this.closed = true; this.close_.forEach((h) => h()); }
  deliver(d: unknown) { this.data.forEach((h) => h(d)); }
  iceState(s: RTCIceConnectionState) { this.ice.forEach((h) => h(s)); }
}

class FakePeer implements PeerPort {
  destroyed = false;
  incoming: ((c: ChannelPort) => void)[] = [];
  disconnected: (() => void)[] = [];
  constructor(private readonly behaviour: { open: () => Promise<string>; connect?: (id: string) => Promise<ChannelPort>; reconnect?: () => Promise<void> }) {}
  open() { return this.behaviour.open(); }
  connect(id: string) { return this.behaviour.connect?.(id) ?? Promise.reject(new Error("no")); }
  onIncoming(h: (c: ChannelPort) => void) { this.incoming.push(h); }
  onDisconnected(h: () => void) { this.disconnected.push(h); }
  reconnect() { return this.behaviour.reconnect?.() ?? Promise.resolve(); }
  destroy() { this.destroyed = true; }
}

const noSleep = async () => {};

function track(session: ChatSession): SessionStatus[] {
  const seen: SessionStatus[] = [];
  session.events.on("status", (s) => seen.push(s));
  return seen;
}

describe("ChatSession", () => {
  it("host_ServerAnswers_WaitingWithId_ThenConnectedOnIncoming", async () => {
    const peer = new FakePeer({ open: async () => "host-1" });
    const session = new ChatSession({ createPeer: () => peer, loadIce: async () => [], sleep: noSleep });
    const seen = track(session);
    expect(await session.host()).toBe("host-1");
    const ch = new FakeChannel("guest");
    peer.incoming.forEach((h) => h(ch));
    expect(seen.map((s) => s.phase)).toEqual(["ice", "signaling", "waiting", "connected"]);
    expect(session.send({ t: "typing", on: true })).toBe(true);
    expect(ch.sent).toEqual([{ t: "typing", on: true }]);
  });

  it("host_SecondIncoming_RefusedWithBye", async () => {
    const peer = new FakePeer({ open: async () => "h" });
    const session = new ChatSession({ createPeer: () => peer, loadIce: async () => [], sleep: noSleep });
    await session.host();
    const first = new FakeChannel("a");
    const second = new FakeChannel("b");
    peer.incoming.forEach((h) => h(first));
    peer.incoming.forEach((h) => h(second));
    expect(second.sent).toEqual([{ t: "bye" }]);
    expect(second.closed).toBe(true);
    expect(first.closed).toBe(false);
  });

  it("start_ServerFailsTwice_RetriesWithFreshPeer", async () => {
    let n = 0;
    const peers: FakePeer[] = [];
    const ice: RTCIceServer[][] = [];
    const session = new ChatSession({
      createPeer: (servers) => {
        ice.push(servers);
        const p = new FakePeer({ open: async () => (++n < 3 ? Promise.reject(new PeerError("network", "down")) : "id3") });
        peers.push(p);
        return p;
      },
      loadIce: async () => [{ urls: "stun:x:1" }],
      sleep: noSleep,
    });
    const seen = track(session);
    await session.host();
    expect(peers.map((p) => p.destroyed)).toEqual([true, true, false]);
    expect(ice).toEqual([[{ urls: "stun:x:1" }], [{ urls: "stun:x:1" }], [{ urls: "stun:x:1" }]]);
    expect(seen.map((s) => s.phase)).toEqual(["ice", "signaling", "signaling-retry", "signaling", "signaling-retry", "signaling", "waiting"]);
  });

  it("start_ServerNeverAnswers_FailedServerUnreachable", async () => {
    const session = new ChatSession({ createPeer: () => new FakePeer({ open: () => Promise.reject(new PeerError("network", "down")) }), loadIce: async () => [], sleep: noSleep });
    await expect(session.host()).rejects.toThrow();
    expect(session.current).toEqual({ phase: "failed", reason: "server-unreachable" });
  });

  it.each([
    ["invalid-key", "server-refused"],
    ["unavailable-id", "id-taken"],
  ] as const)("start_%s_FailsAtOnceWithoutRetry_%s", async (kind, reason) => {
    let attempts = 0;
    const session = new ChatSession({ createPeer: () => { attempts++; return new FakePeer({ open: () => Promise.reject(new PeerError(kind, "refused")) }); }, loadIce: async () => [], sleep: noSleep });
    await expect(session.host()).rejects.toThrow();
    expect(attempts).toBe(1);
    expect(session.current).toEqual({ phase: "failed", reason });
  });

  it("start_IceLoadFails_ContinuesWithNoServers", async () => {
    let got: RTCIceServer[] | null = null;
    const session = new ChatSession({ createPeer: (s) => { got = s; return new FakePeer({ open: async () => "x" }); }, loadIce: () => Promise.reject(new Error("404")), sleep: noSleep });
    await session.host();
    expect(got).toEqual([]);
  });

  it("join_PeerUnavailableThenOk_ConnectedAfterRetry", async () => {
    let tries = 0;
    const ch = new FakeChannel("host");
    const peer = new FakePeer({ open: async () => "me", connect: async () => { if (++tries === 1) throw new PeerError("peer-unavailable", "Could not connect to peer host"); return ch; } });
    const session = new ChatSession({ createPeer: () => peer, loadIce: async () => [], sleep: noSleep });
    const seen = track(session);
    await session.join("host");
    expect(seen.map((s) => s.phase)).toEqual(["ice", "signaling", "connecting", "connecting-retry", "connecting", "connected"]);
  });

  it("join_HostKnownButChannelNeverOpens_FailedIceFailed", async () => {
    const session = new ChatSession({ createPeer: () => new FakePeer({ open: async () => "me", connect: () => new Promise(() => {}) }), loadIce: async () => [], sleep: noSleep, attemptTimeoutMs: 5 });
    await expect(session.join("host")).rejects.toThrow();
    expect(session.current).toEqual({ phase: "failed", reason: "ice-failed" });
  });

  it("join_HostUnknownEveryTime_FailedPeerUnreachable", async () => {
    const session = new ChatSession({ createPeer: () => new FakePeer({ open: async () => "me", connect: async () => { throw new PeerError("peer-unavailable", "Could not connect to peer host"); } }), loadIce: async () => [], sleep: noSleep });
    await expect(session.join("host")).rejects.toThrow();
    expect(session.current).toEqual({ phase: "failed", reason: "peer-unreachable" });
  });

  it("relayOnly_PassedToThePeerFactory", async () => {
    const seen: unknown[] = [];
    const session = new ChatSession({ createPeer: (_s, o) => { seen.push(o); return new FakePeer({ open: async () => "x" }); }, loadIce: async () => [], sleep: noSleep, relayOnly: true });
    await session.host();
    expect(seen).toEqual([{ relayOnly: true }]);
  });

  /** An IceSource that records its calls; `failover` swaps in the next list. */
  function iceSource(lists: RTCIceServer[][], relayOnly = false) {
    const calls: string[] = [];
    const servers: RTCIceServer[] = [];
    const source = {
      servers,
      relayOnly,
      load: async (o?: { relayOnly?: boolean }) => { calls.push(`load:${o?.relayOnly === true}`); servers.splice(0, servers.length, ...(lists.shift() ?? [])); },
      failover: async () => { calls.push("failover"); const next = lists.shift(); if (!next) return false; servers.splice(0, servers.length, ...next); return true; },
    };
    return { source, calls };
  }

  it("ice_JoinAttemptFails_FailsOverBeforeTheNextAttempt_PeersSeeTheNewList", async () => {
    const { source, calls } = iceSource([[{ urls: "turn:broken:1" }], [{ urls: "turn:good:1" }]]);
    let lists: RTCIceServer[] | null = null;
    const usedAtConnect: string[] = [];
    const ch = new FakeChannel("host");
    let tries = 0;
    const session = new ChatSession({
      createPeer: (s) => {
        lists = s;
        return new FakePeer({ open: async () => "me", connect: async () => { usedAtConnect.push(JSON.stringify(lists)); if (++tries === 1) throw new Error("ice failed"); return ch; } });
      },
      ice: source,
      sleep: noSleep,
    });
    await session.join("host");
    expect(calls).toEqual(["load:false", "failover"]);
    expect(usedAtConnect).toEqual(['[{"urls":"turn:broken:1"}]', '[{"urls":"turn:good:1"}]']);
    expect(lists).toBe(source.servers); // the peer holds the live list
    expect(session.current.phase).toBe("connected");
  });

  it("ice_HostUnknown_NoFailover (the path is not what failed)", async () => {
    const { source, calls } = iceSource([[{ urls: "turn:a:1" }], [{ urls: "turn:b:1" }]]);
    let tries = 0;
    const ch = new FakeChannel("host");
    const peer = new FakePeer({ open: async () => "me", connect: async () => { if (++tries === 1) throw new PeerError("peer-unavailable", "Could not connect to peer host"); return ch; } });
    const session = new ChatSession({ createPeer: () => peer, ice: source, sleep: noSleep });
    await session.join("host");
    expect(calls).toEqual(["load:false"]);
  });

  it("ice_ServerAsksRelayOnly_PolicyTurnsOnForConnectionsMadeAfterLoad", async () => {
    const { source, calls } = iceSource([[{ urls: "turn:a:1" }]], true);
    let network: { readonly relayOnly?: boolean } | undefined;
    const session = new ChatSession({ createPeer: (_s, o) => { network = o; return new FakePeer({ open: async () => "x" }); }, ice: source, sleep: noSleep });
    await session.host();
    expect(network?.relayOnly).toBe(true);
    expect(calls).toEqual(["load:false"]);
  });

  it("ice_PageChoseRelayOnly_LoadIsToldSo", async () => {
    const { source, calls } = iceSource([[{ urls: "turn:a:1" }]]);
    const session = new ChatSession({ createPeer: () => new FakePeer({ open: async () => "x" }), ice: source, sleep: noSleep, relayOnly: true });
    await session.host();
    expect(calls).toEqual(["load:true"]);
  });

  it("ping_PeerAnswersPong_PongEmitted_NotAsMessages_MalformedIgnored", async () => {
    const ch = new FakeChannel("host");
    const session = new ChatSession({ createPeer: () => new FakePeer({ open: async () => "me", connect: async () => ch }), loadIce: async () => [], sleep: noSleep });
    const pongs: number[] = [];
    const messages: unknown[] = [];
    session.events.on("pong", (s) => pongs.push(s));
    session.events.on("message", (m) => messages.push(m));
    expect(session.ping(1)).toBe(false);
    await session.join("host");
    expect(session.ping(7)).toBe(true);
    expect(ch.sent).toContainEqual({ t: "ping", s: 7 });
    ch.deliver({ t: "ping", s: 3 });
    expect(ch.sent).toContainEqual({ t: "pong", s: 3 });
    ch.deliver({ t: "pong", s: 7 });
    for (const bad of [{ t: "pong", s: -1 }, { t: "pong", s: 1.5 }, { t: "pong", s: "7" }, { t: "ping" }]) ch.deliver(bad);
    expect(pongs).toEqual([7]);
    expect(messages).toEqual([]);
    expect(ch.sent.filter((f) => (f as { t: string }).t === "pong")).toHaveLength(1);
    expect(await session.stats()).toBeNull();
  });

  it("channel_ValidFramesEmitted_MalformedIgnored_ByeMeansPeerLeft", async () => {
    const ch = new FakeChannel("host");
    const session = new ChatSession({ createPeer: () => new FakePeer({ open: async () => "me", connect: async () => ch }), loadIce: async () => [], sleep: noSleep });
    const got: unknown[] = [];
    session.events.on("message", (m) => got.push(m));
    await session.join("host");
    ch.deliver({ t: "typing", on: true });
    ch.deliver({ t: "msg", id: "bad id", text: "x" });
    ch.deliver("<script>");
    expect(got).toEqual([{ t: "typing", on: true }]);
    ch.deliver({ t: "bye" });
    expect(session.current).toEqual({ phase: "peer-left" });
    expect(session.send({ t: "typing", on: false })).toBe(false);
  });

  it("channel_IceDisconnectedThenConnected_ReconnectingThenConnected", async () => {
    const ch = new FakeChannel("host");
    const session = new ChatSession({ createPeer: () => new FakePeer({ open: async () => "me", connect: async () => ch }), loadIce: async () => [], sleep: noSleep });
    await session.join("host");
    ch.iceState("disconnected");
    expect(session.current.phase).toBe("reconnecting");
    ch.iceState("connected");
    expect(session.current.phase).toBe("connected");
    ch.iceState("failed");
    expect(session.current.phase).toBe("peer-left");
  });

  it("close_SendsByeAndDestroysPeer", async () => {
    const ch = new FakeChannel("host");
    const peer = new FakePeer({ open: async () => "me", connect: async () => ch });
    const session = new ChatSession({ createPeer: () => peer, loadIce: async () => [], sleep: noSleep });
    await session.join("host");
    session.close();
    expect(ch.sent).toEqual([{ t: "bye" }]);
    expect(ch.closed).toBe(true);
    expect(peer.destroyed).toBe(true);
    expect(session.current.phase).toBe("idle");
  });

  it("signalingLost_WhileWaiting_ServerLostThenWaitingAgain", async () => {
    const peer = new FakePeer({ open: async () => "h" });
    const session = new ChatSession({ createPeer: () => peer, loadIce: async () => [], sleep: noSleep });
    const seen = track(session);
    await session.host();
    peer.disconnected.forEach((h) => h());
    await new Promise((r) => setTimeout(r, 0));
    expect(seen.slice(-2)).toEqual([{ phase: "server-lost" }, { phase: "waiting", peerId: "h" }]);
  });
});
