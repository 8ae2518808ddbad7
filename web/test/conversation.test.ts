import { describe, expect, it } from "vitest";
import { Conversation, decodeWire, MAX_MESSAGE_LENGTH, validateOutgoing, type WireMessage } from "../src/core/delivery";
import type { MessageId } from "../src/core/ids";

let n = 0;
const nextId = () => `m${++n}`;

describe("Conversation", () => {
  it("compose_Message_StartsSendingAndProducesWire", () => {
    const c = new Conversation();
    const { message, wire } = c.compose("hello\n", 1000, null, nextId);
    expect(message.state).toBe("sending");
    expect(message.text).toBe("hello");
    expect(wire).toEqual({ t: "msg", id: message.id, text: "hello", sentAt: 1000, ttlMs: null });
    expect(c.messages).toHaveLength(1);
  });

  it("apply_AckThenRead_AdvancesStateNeverBack", () => {
    const c = new Conversation();
    const { message } = c.compose("hi", 0, null, nextId);
    expect(c.apply({ t: "ack", id: message.id }, 1).changed).toBe(true);
    expect(message.state).toBe("delivered");
    expect(c.apply({ t: "read", ids: [message.id] }, 2).changed).toBe(true);
    expect(message.state).toBe("read");
    expect(c.apply({ t: "ack", id: message.id }, 3).changed).toBe(false);
    expect(message.state).toBe("read");
  });

  it("apply_ReadBeforeAck_GoesStraightToRead", () => {
    const c = new Conversation();
    const { message } = c.compose("hi", 0, null, nextId);
    c.apply({ t: "read", ids: [message.id] }, 1);
    expect(message.state).toBe("read");
  });

  it("apply_IncomingMessage_AcksAndStoresOnce", () => {
    const c = new Conversation();
    const wire: WireMessage = { t: "msg", id: "x1" as MessageId, text: "yo", sentAt: 5, ttlMs: null };
    const first = c.apply(wire, 10);
    expect(first.reply).toEqual([{ t: "ack", id: "x1" }]);
    expect(first.received?.state).toBe("received");
    const dup = c.apply(wire, 11);
    expect(dup.changed).toBe(false);
    expect(dup.reply).toEqual([{ t: "ack", id: "x1" }]);
    expect(c.messages).toHaveLength(1);
  });

  it("apply_AckForIncomingOrUnknown_Ignored", () => {
    const c = new Conversation();
    c.apply({ t: "msg", id: "in1" as MessageId, text: "yo", sentAt: 5, ttlMs: null }, 10);
    expect(c.apply({ t: "ack", id: "in1" as MessageId }, 11).changed).toBe(false);
    expect(c.apply({ t: "ack", id: "nope" as MessageId }, 11).changed).toBe(false);
  });

  it("takeUnreadReceived_ReportsEachOnce", () => {
    const c = new Conversation();
    c.apply({ t: "msg", id: "a" as MessageId, text: "1", sentAt: 0, ttlMs: null }, 0);
    c.apply({ t: "msg", id: "b" as MessageId, text: "2", sentAt: 0, ttlMs: null }, 0);
    expect(c.takeUnreadReceived()).toEqual(["a", "b"]);
    expect(c.takeUnreadReceived()).toEqual([]);
  });

  it("expire_SelfDestruct_RemovesOnlyDueMessagesBothDirections", () => {
    const c = new Conversation();
    c.compose("keep", 0, null, nextId);
    const { message: out } = c.compose("bye soon", 0, 5000, nextId);
    c.apply({ t: "msg", id: "in5" as MessageId, text: "mine too", sentAt: 0, ttlMs: 5000 }, 1000);
    expect(c.nextExpiry()).toBe(5000);
    expect(c.expire(4999)).toEqual([]);
    expect(c.expire(5000)).toEqual([out.id]);
    expect(c.nextExpiry()).toBe(6000);
    expect(c.expire(6000)).toEqual(["in5"]);
    expect(c.messages.map((m) => m.text)).toEqual(["keep"]);
    expect(c.nextExpiry()).toBeNull();
  });

  it("clear_Panic_ForgetsEverything", () => {
    const c = new Conversation();
    c.compose("secret", 0, null, nextId);
    c.apply({ t: "msg", id: "q" as MessageId, text: "x", sentAt: 0, ttlMs: null }, 0);
    c.clear();
    expect(c.messages).toEqual([]);
    // a late duplicate after panic is shown again rather than silently dropped
    expect(c.apply({ t: "msg", id: "q" as MessageId, text: "x", sentAt: 0, ttlMs: null }, 0).changed).toBe(true);
  });

  it("compose_Invalid_Throws", () => {
    const c = new Conversation();
    expect(() => c.compose("   \n ", 0, null)).toThrow(/empty/);
    expect(() => c.compose("x".repeat(MAX_MESSAGE_LENGTH + 1), 0, null)).toThrow(/too-long/);
  });
});

describe("validateOutgoing", () => {
  it("validateOutgoing_Limits", () => {
    expect(validateOutgoing("x".repeat(MAX_MESSAGE_LENGTH))).toEqual({ ok: true, text: "x".repeat(MAX_MESSAGE_LENGTH) });
    expect(validateOutgoing("x".repeat(MAX_MESSAGE_LENGTH + 1))).toEqual({ ok: false, reason: "too-long" });
    expect(validateOutgoing("")).toEqual({ ok: false, reason: "empty" });
    expect(validateOutgoing("a\nb  \n\n")).toEqual({ ok: true, text: "a\nb" });
  });
});

describe("decodeWire", () => {
  it.each([
    [{ t: "msg", id: "abc", text: "hi", sentAt: 1, ttlMs: null }, true],
    [{ t: "msg", id: "abc", text: "hi", sentAt: 1, ttlMs: 5000 }, true],
    [{ t: "msg", id: "abc", text: "hi", sentAt: 1, ttlMs: 1234 }, false],
    [{ t: "msg", id: "a b", text: "hi", sentAt: 1, ttlMs: null }, false],
    [{ t: "msg", id: "abc", text: "", sentAt: 1, ttlMs: null }, false],
    [{ t: "msg", id: "abc", text: "x".repeat(MAX_MESSAGE_LENGTH + 1), sentAt: 1, ttlMs: null }, false],
    [{ t: "msg", id: "abc", text: 5, sentAt: 1, ttlMs: null }, false],
    [{ t: "ack", id: "abc" }, true],
    [{ t: "ack" }, false],
    [{ t: "read", ids: ["a", "b"] }, true],
    [{ t: "read", ids: "a" }, false],
    [{ t: "typing", on: true }, true],
    [{ t: "typing", on: "yes" }, false],
    [{ t: "bye" }, true],
    [{ t: "__proto__" }, false],
    [null, false],
    ["msg", false],
    [[1, 2], false],
  ])("decodeWire %j → %s", (input, ok) => {
    expect(decodeWire(input) !== null).toBe(ok);
  });

  it("decodeWire_ExtraFields_Dropped", () => {
    expect(decodeWire({ t: "ack", id: "a", evil: "<script>" })).toEqual({ t: "ack", id: "a" });
  });
});
