import { describe, expect, it } from "vitest";
import { MAX_MEMBERS, type MemberInfo } from "../src/core/delivery/frames";
import { Roster, shouldDial } from "../src/core/room/roster";
import { SimMember, SimNet } from "./mesh-sim";

const info = (id: string, inc: string, since = 0, v = 0, st: MemberInfo["st"] = "online"): MemberInfo => ({ id, inc, name: id, since, st, v });

describe("Roster", () => {
  it("learn_NewThenSame_AddsOnce", () => {
    const r = new Roster("me");
    expect(r.learn(info("a", "inc1"))).toBe("new");
    expect(r.learn(info("a", "inc1"))).toBe("same");
    expect(r.members.size).toBe(1);
  });

  it("learn_SelfOrUnknownLeaver_Ignored", () => {
    const r = new Roster("me");
    expect(r.learn(info("me", "inc1"))).toBe("ignored");
    expect(r.learn(info("a", "inc1", 0, 1, "leaving"))).toBe("ignored");
    expect(r.learn(info("a", "inc1"))).toBe("ignored"); // buried: stale gossip cannot bring it back
  });

  it("learn_PresenceVersion_OnlyNewerWins", () => {
    const r = new Roster("me");
    r.learn(info("a", "inc1", 0, 2, "away"));
    expect(r.learn(info("a", "inc1", 0, 1, "online"))).toBe("same");
    expect(r.members.get("a")!.st).toBe("away");
    expect(r.learn(info("a", "inc1", 0, 3, "online"))).toBe("updated");
    expect(r.members.get("a")!.st).toBe("online");
  });

  it("learn_LaterInstance_ReplacesAndBuriesTheEarlier", () => {
    const r = new Roster("me");
    r.learn(info("a", "old1", 100));
    expect(r.learn(info("a", "new1", 200))).toBe("replaced");
    expect(r.members.get("a")!.inc).toBe("new1");
    expect(r.isGone("a", "old1")).toBe(true);
    expect(r.learn(info("a", "old1", 100))).toBe("ignored");
  });

  it("learn_EarlierInstanceAfterLater_Ignored", () => {
    const r = new Roster("me");
    r.learn(info("a", "new1", 200));
    expect(r.learn(info("a", "old1", 100))).toBe("ignored");
    expect(r.members.get("a")!.inc).toBe("new1");
  });

  it("learn_Leaving_RemovesAndRemembers", () => {
    const r = new Roster("me");
    r.learn(info("a", "inc1"));
    expect(r.learn(info("a", "inc1", 0, 1, "leaving"))).toBe("left");
    expect(r.members.has("a")).toBe(false);
    expect(r.gone).toEqual([["a", "inc1"]]);
  });

  it("learn_BeyondTwelveMembers_Full", () => {
    const r = new Roster("me");
    for (let i = 0; i < MAX_MEMBERS - 1; i++) expect(r.learn(info(`m${i}`, "inc1"))).toBe("new");
    expect(r.learn(info("late", "inc1"))).toBe("full");
    expect(r.members.size).toBe(MAX_MEMBERS - 1);
  });

  it("forget_OnlyTheNamedInstance", () => {
    const r = new Roster("me");
    r.learn(info("a", "inc2", 5));
    expect(r.forget("a", "inc1")).toBe(false);
    expect(r.members.has("a")).toBe(true);
    expect(r.forget("a", "inc2")).toBe(true);
  });

  it("shouldDial_LaterInstanceDials_OneSideOnly", () => {
    const a = { id: "a", since: 1 };
    const b = { id: "b", since: 2 };
    expect(shouldDial(b, a)).toBe(true);
    expect(shouldDial(a, b)).toBe(false);
    const c = { id: "c", since: 1 };
    expect(shouldDial(c, a)).not.toBe(shouldDial(a, c));
  });
});

function mesh(ids: string[], seed = 7, extra: ConstructorParameters<typeof SimMember>[2] = {}) {
  const net = new SimNet(seed);
  const m = Object.fromEntries(ids.map((id) => [id, new SimMember(id, net, extra)])) as Record<string, SimMember>;
  net.run(net.now + 200);
  return { net, m };
}

describe("MeshRoom", () => {
  it("send_ThreeMembers_EveryoneGetsItOnceAndSenderSeesDelivered", () => {
    const { net, m } = mesh(["a", "b", "c"]);
    const id = m.a!.say("hi all")!;
    net.run(net.now + 100);
    expect(m.b!.received.map((r) => r.text)).toEqual(["hi all"]);
    expect(m.c!.received.map((r) => r.text)).toEqual(["hi all"]);
    expect(Object.fromEntries(m.a!.room.receipts(id)!)).toEqual({ b: "delivered", c: "delivered" });
  });

  it("markRead_SenderSeesReadPerRecipient", () => {
    const { net, m } = mesh(["a", "b", "c"]);
    const id = m.a!.say("read me")!;
    net.run(net.now + 100);
    m.b!.room.markRead();
    net.run(net.now + 100);
    expect(Object.fromEntries(m.a!.room.receipts(id)!)).toEqual({ b: "read", c: "delivered" });
  });

  it("send_InvalidText_Refused", () => {
    const { m } = mesh(["a", "b"]);
    expect(m.a!.room.send("   ")).toBeNull();
    expect(m.a!.room.send("x".repeat(5000))).toBeNull();
  });

  it("members_DirectRelayAndReconnecting_ReportedWithPath", () => {
    const { net, m } = mesh(["a", "b", "c"]);
    expect(m.a!.room.members().map((v) => [v.id, v.path, v.state])).toEqual([
      ["b", "direct", "online"],
      ["c", "direct", "online"],
    ]);
    net.cut("a", "c");
    net.run(net.now + 100);
    expect(m.a!.room.members().find((v) => v.id === "c")).toMatchObject({ path: "relay", via: "b", state: "online" });
    net.cut("a", "b");
    net.run(net.now + 100);
    expect(m.a!.room.members().map((v) => v.state)).toEqual(["reconnecting", "reconnecting"]);
  });

  it("send_DirectLinkCut_ArrivesThroughRelay", () => {
    const { net, m } = mesh(["a", "b", "c"]);
    net.cut("a", "c");
    net.run(net.now + 100);
    const id = m.a!.say("around")!;
    net.run(net.now + 100);
    expect(m.c!.received).toEqual([{ id, from: "a", text: "around", via: "b" }]);
    expect(m.a!.room.receipts(id)!.get("c")).toBe("delivered");
    expect(m.b!.room.stats.relayed).toBeGreaterThan(0);
  });

  it("setAway_OthersSeeAway", () => {
    const { net, m } = mesh(["a", "b"]);
    m.a!.room.setAway(true);
    net.run(net.now + 100);
    expect(m.b!.room.members()[0]!.state).toBe("away");
    m.a!.room.setAway(false);
    net.run(net.now + 100);
    expect(m.b!.room.members()[0]!.state).toBe("online");
  });

  it("leave_HostLeaves_OthersDropItAndKeepChatting", () => {
    const { net, m } = mesh(["host", "b", "c"]);
    m.host!.room.leave();
    net.run(net.now + 20);
    net.kill("host");
    net.run(net.now + 100);
    expect(m.b!.room.members().map((v) => v.id)).toEqual(["c"]);
    m.b!.say("still here");
    net.run(net.now + 100);
    expect(m.c!.received.map((r) => r.text)).toEqual(["still here"]);
  });

  it("leave_GossipReachesMemberWithoutDirectLink", () => {
    const { net, m } = mesh(["a", "b", "c"]);
    net.cut("a", "c");
    net.run(net.now + 100);
    m.a!.room.leave();
    net.run(net.now + 100);
    expect(m.c!.room.members().map((v) => v.id)).toEqual(["b"]);
  });

  it("join_LateJoiner_SeesOnlyWhatIsSentAfter", () => {
    const { net, m } = mesh(["a", "b"]);
    m.a!.say("before");
    net.run(net.now + 100);
    const j = new SimMember("j", net);
    net.run(net.now + 100);
    m.a!.say("after");
    net.run(net.now + 100);
    expect(j.received.map((r) => r.text)).toEqual(["after"]);
  });

  it("join_BackfillOptIn_LateJoinerGetsRecentOnesFirstFlagged", () => {
    const { net, m } = mesh(["a", "b"], 7, { backfill: { share: true, max: 2 } });
    for (const t of ["one", "two", "three"]) m.a!.say(t);
    net.run(net.now + 100);
    const j = new SimMember("j", net);
    net.run(net.now + 100);
    m.a!.say("four");
    net.run(net.now + 200);
    const fromA = j.received.filter((r) => r.from === "a").map((r) => r.text);
    expect(fromA).toEqual(["two", "three", "four"]);
    const flags: boolean[] = [];
    j.room.events.on("message", (x) => flags.push(x.backfill));
    m.a!.say("five");
    net.run(net.now + 100);
    expect(flags).toEqual([false]);
  });

  it("join_LateJoinerLearnsEveryoneThroughGossip", () => {
    const { net, m } = mesh(["a", "b", "c"]);
    // j has a link to a only at first: it learns b and c from a's presence frame.
    net.cut("j", "b");
    net.cut("j", "c");
    const j = new SimMember("j", net);
    net.run(net.now + 100);
    expect(
      j.room
        .members()
        .map((v) => [v.id, v.path])
        .sort(),
    ).toEqual([
      ["a", "direct"],
      ["b", "relay"],
      ["c", "relay"],
    ]);
    m.b!.say("welcome");
    net.run(net.now + 100);
    expect(j.received.map((r) => [r.text, r.via])).toEqual([["welcome", "a"]]);
  });

  it("reload_RecipientComesBackAsNewInstance_PendingMessagesReachIt", () => {
    const { net, m } = mesh(["a", "b"]);
    net.kill("b");
    m.b!.room.stop();
    net.run(net.now + 100);
    m.a!.say("while you were away");
    net.run(net.now + 3000);
    const b2 = new SimMember("b", net);
    net.run(net.now + 3000);
    expect(b2.received.map((r) => r.text)).toEqual(["while you were away"]);
    expect(m.a!.room.pendingFor("b")).toBe(0);
  });

  it("unreachable_NoPathForAMinute_ShownAsUnreachable_RosterSentAgain_BackToOnlineWhenItReturns", () => {
    const { net, m } = mesh(["a", "b", "c"]);
    const rosters: string[] = [];
    m.a!.room.events.on("roster", (r) => rosters.push(r.map((v) => `${v.id}:${v.state}`).join(",")));
    // c vanishes without a goodbye (a crashed tab): nobody reaches it.
    net.cut("a", "c");
    net.cut("b", "c");
    net.run(net.now + 2000);
    const id = m.a!.say("for everyone")!;
    net.run(net.now + 30_000);
    expect(m.a!.room.members().map((v) => [v.id, v.state])).toEqual([
      ["b", "online"],
      ["c", "reconnecting"],
    ]);
    net.run(net.now + 35_000);
    expect(m.a!.room.members().map((v) => [v.id, v.state])).toEqual([
      ["b", "online"],
      ["c", "unreachable"],
    ]);
    expect(m.b!.room.members().find((v) => v.id === "c")?.state).toBe("unreachable");
    expect(rosters.at(-1)).toBe("b:online,c:unreachable"); // told without anything else happening
    // Still a member: the message waits for it and goes out when it is back.
    expect(m.a!.room.receipts(id)!.get("c")).toBe("sending");
    expect(m.a!.room.pendingFor("c")).toBe(1);
    net.heal("a", "c");
    net.heal("b", "c");
    net.run(net.now + 5000);
    expect(m.a!.room.members().find((v) => v.id === "c")?.state).toBe("online");
    expect(m.c!.received.map((r) => r.text)).toEqual(["for everyone"]);
    expect(m.a!.room.receipts(id)!.get("c")).toBe("delivered");
  });

  it("unreachable_ThresholdIsAnOption", () => {
    const { net, m } = mesh(["a", "b"], 7, { unreachableAfterMs: 5000 });
    net.cut("a", "b");
    net.run(net.now + 7000);
    expect(m.a!.room.members()[0]?.state).toBe("unreachable");
  });

  it("partition_MessagesWaitThenArriveInOrderWhenItHeals", () => {
    const { net, m } = mesh(["a", "b"]);
    net.cut("a", "b");
    net.run(net.now + 100);
    for (let i = 0; i < 20; i++) m.a!.say(`m${i}`);
    net.run(net.now + 10_000);
    expect(m.b!.received).toEqual([]);
    expect(m.a!.room.pendingFor("b")).toBe(20);
    net.heal("a", "b");
    net.run(net.now + 3000);
    expect(m.b!.received.map((r) => r.text)).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
  });
});

describe("read marks", () => {
  it("setReading_OnWhenAMessageArrives_OneAckCarriesTheReadMark_OffOnlyDelivered", () => {
    const net = new SimNet(21);
    const a = new SimMember("a", net);
    const b = new SimMember("b", net);
    net.run(net.now + 200);
    const acks: string[] = [];
    b.room.setReading(false);
    const first = a.say("seen later")!;
    net.run(net.now + 100);
    expect(a.room.receipts(first)!.get("b")).toBe("delivered");
    b.room.setReading(true); // the page became visible: what came before is read now
    net.run(net.now + 100);
    expect(a.room.receipts(first)!.get("b")).toBe("read");
    const before = net.framesSent;
    const second = a.say("seen at once")!;
    a.room.events.on("receipt", (r) => r.id === second && acks.push(r.state));
    net.run(net.now + 100);
    // Read while reading, with one frame each way: the message and one ack carrying both marks.
    expect(acks).toEqual(["delivered", "read"]);
    expect(net.framesSent - before).toBe(2);
  });
});
