/**
 * The cryptography of invites (docs/protocol.md, "Invites and authentication"): key derivation,
 * the transcript, HMAC proofs and the verification code. WebCrypto only; every function is pure
 * apart from its promise.
 */
import { fromBase64Url, toBase64Url } from "../ids";

/**
 * 3: member signing keys in the transcript, certificates from the host (issue 15 item 6).
 * (2: role keys derived with HKDF, and the verification code's commit-and-reveal.)
 */
export const AUTH_VERSION = 3;
const enc = new TextEncoder();

function bytes(view: ArrayBuffer | Uint8Array): Uint8Array<ArrayBuffer> {
  return view instanceof Uint8Array ? new Uint8Array(view) : new Uint8Array(view);
}

/**
 * SHA-256 of the invite secret's bytes: what the host stores (`secretHash`, unchanged since v1, so
 * stored invites keep working). It is no HMAC key itself: each proof's key is derived from it
 * (`proofKey`).
 */
export async function inviteKey(secret: string): Promise<Uint8Array> {
  const raw = fromBase64Url(secret);
  if (raw === null || raw.length < 16) throw new Error("invite secret: not base64url of 16 or more bytes");
  return bytes(await crypto.subtle.digest("SHA-256", bytes(raw)));
}

/** The key the host keeps, as base64url (43 characters). */
export async function inviteKeyHash(secret: string): Promise<string> {
  return toBase64Url(await inviteKey(secret));
}

export interface TranscriptFields {
  roomId: string;
  inviteId: string;
  /** Both DTLS fingerprints, normalised ("sha-256 AB:…"); sorted here, so order does not matter. */
  fingerprints: readonly [string, string];
  joinerNonce: string;
  hostNonce: string;
  /** The host's commitment to its code nonce (`codeCommitment`). */
  codeCommit: string;
  /** Both sides' public keys (core/auth/keys.ts). */
  joinerKey: string;
  hostKey: string;
  /** The joiner's code nonce, chosen after it saw the commitment. */
  codeNonce: string;
}

/**
 * The transcript, exactly: UTF-8 of these lines, each ending in "\n":
 * `GhostChat auth v2`, `room:<roomId>`, `invite:<inviteId>`, `fingerprint:<lower>`,
 * `fingerprint:<higher>` (sorted by UTF-16 code unit), `joiner-nonce:<b64url>`, `host-nonce:<b64url>`,
 * `code-commit:<b64url>`, `code-nonce:<b64url>`, `joiner-key:<b64url>`, `host-key:<b64url>`.
 */
export function transcript(f: TranscriptFields): Uint8Array {
  for (const v of [f.roomId, f.inviteId, ...f.fingerprints, f.joinerNonce, f.hostNonce, f.codeCommit, f.codeNonce, f.joinerKey, f.hostKey]) {
    if (v.includes("\n")) throw new Error("transcript field contains a line break");
  }
  const [a, b] = f.fingerprints[0] <= f.fingerprints[1] ? f.fingerprints : [f.fingerprints[1], f.fingerprints[0]];
  const text =
    `GhostChat auth v${AUTH_VERSION}\n` +
    `room:${f.roomId}\n` +
    `invite:${f.inviteId}\n` +
    `fingerprint:${a}\n` +
    `fingerprint:${b}\n` +
    `joiner-nonce:${f.joinerNonce}\n` +
    `host-nonce:${f.hostNonce}\n` +
    `code-commit:${f.codeCommit}\n` +
    `code-nonce:${f.codeNonce}\n` +
    `joiner-key:${f.joinerKey}\n` +
    `host-key:${f.hostKey}\n`;
  return enc.encode(text);
}

export type ProofRole = "joiner" | "host";

/** What each side MACs: `proof:<role>\n` followed by the transcript (so one proof cannot stand for the other). */
export function proofInput(role: ProofRole, t: Uint8Array): Uint8Array<ArrayBuffer> {
  const label = enc.encode(`proof:${role}\n`);
  const out = new Uint8Array(label.length + t.length);
  out.set(label, 0);
  out.set(t, label.length);
  return out;
}

/** What each side signs with its member key: `sig:<role>\n` followed by the transcript, as a string. */
export function signatureInput(role: ProofRole, t: Uint8Array): string {
  return `sig:${role}\n` + new TextDecoder().decode(t);
}

export const PROOF_KEY_SALT = "GhostChat proof key v2";

/**
 * The HMAC key of one role's proof: HKDF-SHA-256(ikm = K, salt = UTF-8(PROOF_KEY_SALT),
 * info = UTF-8("proof:<role>"), 32 bytes), where K is `inviteKey` (the stored `secretHash`). The
 * stored value is never itself a key in use, and the joiner's and the host's keys differ.
 */
async function proofKey(key: Uint8Array, role: ProofRole): Promise<CryptoKey> {
  const ikm = await crypto.subtle.importKey("raw", bytes(key), "HKDF", false, ["deriveBits"]);
  const raw = await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: enc.encode(PROOF_KEY_SALT), info: enc.encode(`proof:${role}`) }, ikm, 256);
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

/** HMAC-SHA-256(proofKey(K, role), proofInput(role, transcript)) as base64url (43 characters). */
export async function proof(key: Uint8Array, role: ProofRole, t: Uint8Array): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await proofKey(key, role), proofInput(role, t));
  return toBase64Url(bytes(mac));
}

/** Checks a received proof (WebCrypto's verify compares in constant time). */
export async function verifyProof(key: Uint8Array, role: ProofRole, t: Uint8Array, mac: string): Promise<boolean> {
  const raw = fromBase64Url(mac);
  if (raw === null || raw.length !== 32) return false;
  return crypto.subtle.verify("HMAC", await proofKey(key, role), bytes(raw), proofInput(role, t));
}

export const CODE_COMMIT_LABEL = "GhostChat code commit v2\n";

/**
 * The host's commitment to its code nonce Ns (base64url of 32 bytes): base64url(SHA-256(UTF-8(CODE_COMMIT_LABEL ‖ Ns))).
 * Sent in the challenge, before the joiner picks its code nonce; Ns itself only in auth-ok.
 */
export async function codeCommitment(reveal: string): Promise<string> {
  return toBase64Url(bytes(await crypto.subtle.digest("SHA-256", enc.encode(CODE_COMMIT_LABEL + reveal))));
}

/** 64 emoji, one code point each (no joiners or variation selectors): index = 6 bits. */
export const EMOJI_TABLE: readonly string[] = [
  "🐶",
  "🐱",
  "🐭",
  "🐹",
  "🐰",
  "🦊",
  "🐻",
  "🐼",
  "🐨",
  "🐯",
  "🦁",
  "🐮",
  "🐷",
  "🐸",
  "🐵",
  "🐔",
  "🐧",
  "🐦",
  "🐤",
  "🦆",
  "🦉",
  "🐴",
  "🦄",
  "🐝",
  "🐛",
  "🦋",
  "🐌",
  "🐞",
  "🐢",
  "🐍",
  "🐙",
  "🦀",
  "🐬",
  "🐳",
  "🐟",
  "🐡",
  "🦈",
  "🐊",
  "🦒",
  "🐘",
  "🦔",
  "🌵",
  "🌲",
  "🌻",
  "🍄",
  "🌙",
  "⭐",
  "🔥",
  "🍎",
  "🍌",
  "🍇",
  "🍓",
  "🍒",
  "🍍",
  "🥕",
  "🌽",
  "🍕",
  "🍩",
  "🎈",
  "🎁",
  "🔑",
  "🔔",
  "⚓",
  "🚲",
];

export const CODE_SALT = "GhostChat verification code v2";

export interface VerificationCode {
  emoji: string[];
  /** Six digits, zero-padded. */
  digits: string;
  /** One line for display and comparison: "🐶 🦊 🍎 🔑 🐢 · 042 917". */
  text: string;
}

/** The two nonces of the code, one from each side, each fixed before the other side's was known. */
export interface CodeNonces {
  /** The joiner's code nonce (auth-proof). */
  joiner: string;
  /** The host's code nonce, committed to in the challenge and revealed in auth-ok. */
  host: string;
}

/**
 * HKDF-SHA-256(ikm = UTF-8("<fp lower>\n<fp higher>"), salt = UTF-8(CODE_SALT),
 * info = UTF-8("room:<roomId>\ncode-nonce:<joiner>\nreveal:<host>"), 8 bytes): the first 30 bits
 * pick 5 emoji (6 bits each, most significant first), bytes 4..7 as an unsigned big-endian integer
 * modulo 1,000,000 give the digits. Both sides get the same code from the same keys and nonces.
 * Because each side's nonce was fixed before it saw the other's (commit and reveal), neither a
 * man in the middle's certificates nor its nonces can steer the code (docs/protocol.md).
 */
export async function verificationCode(fingerprints: readonly [string, string], roomId: string, nonces: CodeNonces): Promise<VerificationCode> {
  const [a, b] = fingerprints[0] <= fingerprints[1] ? fingerprints : [fingerprints[1], fingerprints[0]];
  const ikm = await crypto.subtle.importKey("raw", enc.encode(`${a}\n${b}`), "HKDF", false, ["deriveBits"]);
  const info = enc.encode(`room:${roomId}\ncode-nonce:${nonces.joiner}\nreveal:${nonces.host}`);
  const out = new Uint8Array(await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: enc.encode(CODE_SALT), info }, ikm, 64));
  const head = ((out[0]! << 24) | (out[1]! << 16) | (out[2]! << 8) | out[3]!) >>> 0;
  const emoji: string[] = [];
  for (let i = 0; i < 5; i++) emoji.push(EMOJI_TABLE[(head >>> (26 - 6 * i)) & 63]!);
  const tail = ((out[4]! << 24) | (out[5]! << 16) | (out[6]! << 8) | out[7]!) >>> 0;
  const digits = String(tail % 1_000_000).padStart(6, "0");
  return { emoji, digits, text: `${emoji.join(" ")} · ${digits.slice(0, 3)} ${digits.slice(3)}` };
}

/** 256-bit nonces, base64url (43 characters). */
export function random256(random: (buf: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b)): string {
  return toBase64Url(random(new Uint8Array(32)));
}
