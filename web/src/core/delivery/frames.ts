import { SIGNATURE, isCertificate, isEpoch, type Certificate, type Epoch } from "../auth/keys";
import { isPeerId } from "../ids";
import { MAX_MESSAGE_LENGTH, MAX_NAME_LENGTH, SELF_DESTRUCT_CHOICES, cleanName } from "./message";

/**
 * Frames of the group (mesh) protocol. Each frame travels as one JSON string over a member-to-member
 * link. Everything received is size-checked and validated here before the engine sees it; a frame
 * that fails is refused with a reason and never reaches the engine's state.
 *
 * End-to-end frames (`m` message, `a` ack/read) name their origin and final recipient with both
 * instances (`fi`, `oi`). Sent through a relay they carry their author's signature (its member key),
 * so the relay can pass them on but not change them or make one up in another member's name; sent
 * over the direct, authenticated link from their origin they need none. What a presence frame says
 * about a member (name, state, leaving) is signed by that member, with the certificate the host gave it.
 * Hop-by-hop frames (`p` presence, `w` relay request, `y` typing, `i`/`o` ping and pong of the
 * quality indicator) only travel over one authenticated link: their sender is the member at the
 * other end of it.
 */

/** Largest frame accepted from a link (characters of JSON). A relay request wraps one frame. */
export const MAX_FRAME_CHARS = 32 * 1024;
/** Members in one room, this side included. */
export const MAX_MEMBERS = 12;
/** Signed departures a presence frame carries. */
export const MAX_GONE = 32;
const INC = /^[A-Za-z0-9_-]{4,32}$/;
const MSG_ID = /^[A-Za-z0-9_-]{1,64}$/;
const ROOM = /^[A-Za-z0-9_-]{1,64}$/;
/**
 * Latest time a peer may put in a frame (ms since 1970): the last instant a JavaScript Date holds
 * (year 275760). A larger one cannot be formatted (RangeError), so a message carrying it would be
 * acked and read but never shown; such frames are refused.
 */
export const MAX_TIMESTAMP = 8.64e15;

export type PresenceState = "online" | "away" | "leaving";

/** A member as gossiped: id, instance, display name, own start time (its clock), presence. */
export interface MemberInfo {
  id: string;
  inc: string;
  name: string;
  since: number;
  st: PresenceState;
  /** Presence version: the member bumps it on every change, so older gossip never wins. */
  v: number;
}

export interface MessageFrame {
  t: "m";
  r: string;
  f: string;
  fi: string;
  o: string;
  oi: string;
  /** Position in the stream from (f, fi) to (o, oi), from 1. */
  n: number;
  id: string;
  at: number;
  x: string;
  ttl: number | null;
  /** Backfill: sent before the recipient joined, because the sender opted in. */
  bf: boolean;
  /** The author's signature: present when the frame may travel through a relay; absent only over the origin's direct link. */
  sig?: string;
}

export interface AckFrame {
  t: "a";
  r: string;
  /** The acking member (the messages' recipient). */
  f: string;
  fi: string;
  /** The messages' sender. */
  o: string;
  oi: string;
  /** Every message up to n of the stream (o,oi)→(f,fi) was delivered. */
  n: number;
  /** ... and every message up to rd was read. */
  rd: number;
  sig?: string;
}

/** A member's info as that member signed it (`s`, over `infoInput`), with its certificate (`c`). */
export interface SignedMember {
  i: MemberInfo;
  c: Certificate;
  s: string;
}

export interface PresenceFrame {
  t: "p";
  r: string;
  me: SignedMember;
  /** Members this side has a direct link to right now (relay routing). */
  reach: string[];
  /** Every member this side knows. */
  mem: SignedMember[];
  /** Instances that left, each in its own signed "leaving". */
  gone: SignedMember[];
  /** The room's membership as the host last signed it (after a removal or a revoked invite). */
  ep?: Epoch;
  /** 1: the sender inflates deflated frames (`z`, core/room/compress.ts); absent from versions before compression. */
  z?: 1;
}

export interface RelayFrame {
  t: "w";
  /** Final recipient: the relay forwards `x` to it unchanged over its direct link. */
  o: string;
  x: string;
}

/** The sender is typing (on) or stopped (off); shown for a few seconds after the last "on". */
export interface TypingFrame {
  t: "y";
  on: boolean;
}

/** Ping (`i`) and its pong (`o`): the app-level round trip of the quality indicator. */
export interface PingFrame {
  t: "i" | "o";
  s: number;
}

/** Largest SDP a call frame may carry (characters); a real audio+video+data offer is under 8 KiB. */
export const MAX_SDP_CHARS = 16 * 1024;

/**
 * Call signalling (`c`), hop-by-hop over the direct authenticated link only (core/calls): `st` the
 * sender's call state (in the call, microphone and camera on); `of`/`an` an offer and its answer
 * renegotiating the link's own RTCPeerConnection (`n` pairs them); `nd` asks the side that dialled
 * the link, which alone offers, to offer again.
 */
export type CallFrame = { t: "c"; k: "st"; on: boolean; mic: boolean; cam: boolean } | { t: "c"; k: "of" | "an"; n: number; sdp: string } | { t: "c"; k: "nd" };

export type EndToEndFrame = MessageFrame | AckFrame;
export type MeshFrame = EndToEndFrame | PresenceFrame | RelayFrame | TypingFrame | PingFrame | CallFrame;

export type RefusalReason = "too-large" | "not-json" | "bad-shape" | "wrong-room" | "bad-signature" | "not-for-me" | "stale" | "room-full" | "bad-deflate";

export type DecodeResult = { ok: true; frame: MeshFrame } | { ok: false; reason: RefusalReason };

/** The exact text the author signs: every field but the signature, in a fixed order. */
export function signedInput(frame: Omit<MessageFrame, "sig"> | Omit<AckFrame, "sig">): string {
  if (frame.t === "m")
    return JSON.stringify(["gc-mesh-m2", frame.r, frame.f, frame.fi, frame.o, frame.oi, frame.n, frame.id, frame.at, frame.x, frame.ttl, frame.bf]);
  return JSON.stringify(["gc-mesh-a2", frame.r, frame.f, frame.fi, frame.o, frame.oi, frame.n, frame.rd]);
}

/** The exact text a member signs about itself. */
export function infoInput(room: string, i: MemberInfo): string {
  return JSON.stringify(["gc-info-v1", room, i.id, i.inc, i.name, i.since, i.st, i.v]);
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}
/** Whole milliseconds since 1970 that a Date can hold. */
function isTimestamp(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= MAX_TIMESTAMP;
}
function isInc(v: unknown): v is string {
  return typeof v === "string" && INC.test(v);
}
function isPeer(v: unknown): v is string {
  return typeof v === "string" && isPeerId(v);
}
/** Absent, or well-formed (whether it is required depends on how the frame arrived: the engine decides). */
function isSig(v: unknown): boolean {
  return v === undefined || (typeof v === "string" && SIGNATURE.test(v));
}
function isName(v: unknown): v is string {
  return typeof v === "string" && [...v].length <= MAX_NAME_LENGTH;
}

function decodeMember(v: unknown): MemberInfo | null {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return null;
  const m = v as Record<string, unknown>;
  if (!isPeer(m.id) || !isInc(m.inc) || !isName(m.name) || !isTimestamp(m.since) || !isCount(m.v)) return null;
  if (m.st !== "online" && m.st !== "away" && m.st !== "leaving") return null;
  // A name is inert text; its sender signed it clean (control and formatting characters, bidi
  // overrides, removed): one that is not is refused rather than cleaned, as the signature would fail.
  if (cleanName(m.name) !== m.name) return null;
  return { id: m.id, inc: m.inc, name: m.name, since: m.since, st: m.st, v: m.v };
}

function decodeSigned(v: unknown): SignedMember | null {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return null;
  const m = v as Record<string, unknown>;
  if (Object.keys(m).length !== 3 || !isCertificate(m.c) || typeof m.s !== "string" || !SIGNATURE.test(m.s)) return null;
  const i = decodeMember(m.i);
  return i ? { i, c: m.c, s: m.s } : null;
}

/** Parses and validates one frame received from a link. Never throws. */
export function decodeFrame(data: unknown): DecodeResult {
  if (typeof data !== "string") return { ok: false, reason: "bad-shape" };
  if (data.length > MAX_FRAME_CHARS) return { ok: false, reason: "too-large" };
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { ok: false, reason: "not-json" };
  }
  const frame = validate(value);
  return frame ? { ok: true, frame } : { ok: false, reason: "bad-shape" };
}

function validate(value: unknown): MeshFrame | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  switch (v.t) {
    case "m": {
      if (typeof v.r !== "string" || !ROOM.test(v.r) || !isPeer(v.f) || !isInc(v.fi) || !isPeer(v.o) || !isInc(v.oi)) return null;
      if (!isCount(v.n) || v.n < 1 || typeof v.id !== "string" || !MSG_ID.test(v.id) || !isTimestamp(v.at)) return null;
      if (typeof v.x !== "string" || v.x.length === 0 || v.x.length > MAX_MESSAGE_LENGTH) return null;
      const ttlOk = v.ttl === null || (typeof v.ttl === "number" && SELF_DESTRUCT_CHOICES.includes(v.ttl));
      if (!ttlOk || typeof v.bf !== "boolean" || !isSig(v.sig)) return null;
      const m: MessageFrame = { t: "m", r: v.r, f: v.f, fi: v.fi, o: v.o, oi: v.oi, n: v.n, id: v.id, at: v.at, x: v.x, ttl: v.ttl as number | null, bf: v.bf };
      if (v.sig !== undefined) m.sig = v.sig as string;
      return m;
    }
    case "a": {
      if (typeof v.r !== "string" || !ROOM.test(v.r) || !isPeer(v.f) || !isInc(v.fi) || !isPeer(v.o) || !isInc(v.oi)) return null;
      if (!isCount(v.n) || !isCount(v.rd) || v.rd > v.n || !isSig(v.sig)) return null;
      const a: AckFrame = { t: "a", r: v.r, f: v.f, fi: v.fi, o: v.o, oi: v.oi, n: v.n, rd: v.rd };
      if (v.sig !== undefined) a.sig = v.sig as string;
      return a;
    }
    case "p": {
      if (typeof v.r !== "string" || !ROOM.test(v.r)) return null;
      const me = decodeSigned(v.me);
      if (!me || !Array.isArray(v.reach) || !Array.isArray(v.mem) || !Array.isArray(v.gone)) return null;
      if (v.reach.length > MAX_MEMBERS * 2 || v.mem.length > MAX_MEMBERS * 2 || v.gone.length > MAX_GONE) return null;
      if (!v.reach.every(isPeer)) return null;
      const mem: SignedMember[] = [];
      for (const m of v.mem) {
        const d = decodeSigned(m);
        if (!d) return null;
        mem.push(d);
      }
      const gone: SignedMember[] = [];
      for (const g of v.gone) {
        const d = decodeSigned(g);
        if (!d || d.i.st !== "leaving") return null;
        gone.push(d);
      }
      const p: PresenceFrame = { t: "p", r: v.r, me, reach: v.reach as string[], mem, gone };
      if (v.ep !== undefined) {
        if (!isEpoch(v.ep, isPeerId, MAX_MEMBERS)) return null;
        p.ep = v.ep;
      }
      if (v.z !== undefined) {
        if (v.z !== 1) return null;
        p.z = 1;
      }
      return p;
    }
    case "w": {
      if (!isPeer(v.o) || typeof v.x !== "string" || v.x.length === 0) return null;
      return { t: "w", o: v.o, x: v.x };
    }
    case "y":
      return typeof v.on === "boolean" ? { t: "y", on: v.on } : null;
    case "i":
    case "o":
      return isCount(v.s) ? { t: v.t, s: v.s } : null;
    case "c":
      return validateCall(v);
    default:
      return null;
  }
}

function validateCall(v: Record<string, unknown>): CallFrame | null {
  switch (v.k) {
    case "st":
      return typeof v.on === "boolean" && typeof v.mic === "boolean" && typeof v.cam === "boolean"
        ? { t: "c", k: "st", on: v.on, mic: v.mic, cam: v.cam }
        : null;
    case "of":
    case "an":
      if (!isCount(v.n) || typeof v.sdp !== "string" || v.sdp.length === 0 || v.sdp.length > MAX_SDP_CHARS) return null;
      return { t: "c", k: v.k, n: v.n, sdp: v.sdp };
    case "nd":
      return { t: "c", k: "nd" };
    default:
      return null;
  }
}
