/**
 * Member signing keys (issue 15 item 6, docs/protocol.md "Member keys"): every page in a room holds
 * an ECDSA P-256 key pair of its own. The public key travels as base64url of its 65-byte
 * uncompressed point (87 characters), a signature as base64url of IEEE P1363 r‖s (64 bytes, 86
 * characters). The host's key is the room's authority: it signs member certificates and the room's
 * membership (epochs); its SHA-256 is in every invite link.
 *
 * Signing and checking go through small ports so that the engine also runs on synchronous crypto
 * (node:crypto in the simulated network); the browser uses WebCrypto.
 */
import { fromBase64Url, toBase64Url } from "../ids";

export const PUBLIC_KEY = /^[A-Za-z0-9_-]{87}$/;
export const SIGNATURE = /^[A-Za-z0-9_-]{86}$/;

/** This page's key: its public half and a way to sign with the private half. */
export interface Signer {
  readonly key: string;
  sign(data: string): string | Promise<string>;
}

/** Checks `sig` over `data` under the public key `key`; false for anything malformed. */
export type Verifier = (key: string, data: string, sig: string) => boolean | Promise<boolean>;

const ECDSA = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGN = { name: "ECDSA", hash: "SHA-256" } as const;
const enc = new TextEncoder();

function buffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

/** A signer over a WebCrypto key pair. */
export async function webSigner(pair: CryptoKeyPair): Promise<Signer> {
  const key = toBase64Url(new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)));
  return {
    key,
    async sign(data) {
      return toBase64Url(new Uint8Array(await crypto.subtle.sign(SIGN, pair.privateKey, enc.encode(data))));
    },
  };
}

/** A fresh key pair for this page; the private half cannot be exported. */
export async function newSigner(): Promise<Signer> {
  return webSigner(await crypto.subtle.generateKey(ECDSA, false, ["sign", "verify"]));
}

/**
 * A key pair as it is kept across reloads: the host's authority key (its invite book, IndexedDB) and a
 * joiner's member key handed on to the reloaded page (sessionStorage, ui/member-key.ts).
 */
export interface StoredKey {
  /** JWK of the private key (holds the public point too). */
  privateJwk: JsonWebKey;
  /** base64url raw public key. */
  key: string;
}

/** A new key pair in the form it is stored. */
export async function newStoredKey(): Promise<StoredKey> {
  const pair = await crypto.subtle.generateKey(ECDSA, true, ["sign", "verify"]);
  const key = toBase64Url(new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)));
  return { privateJwk: await crypto.subtle.exportKey("jwk", pair.privateKey), key };
}

const JWK_COORDINATE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Whether a value read back from storage has the shape of a stored key: an EC P-256 private JWK
 * (`d`, `x`, `y` of 32 bytes each) and a public key of the right form. Storage can hold anything (an
 * older build, an extension, a user); `storedSigner` then checks that the two halves belong together.
 */
export function isStoredKey(v: unknown): v is StoredKey {
  if (typeof v !== "object" || v === null) return false;
  const { privateJwk: jwk, key } = v as Partial<Record<keyof StoredKey, unknown>>;
  if (typeof key !== "string" || !PUBLIC_KEY.test(key) || typeof jwk !== "object" || jwk === null) return false;
  const { kty, crv, d, x, y } = jwk as Record<string, unknown>;
  return kty === "EC" && crv === "P-256" && [d, x, y].every((c) => typeof c === "string" && JWK_COORDINATE.test(c));
}

/**
 * The signer of a stored key; null when it is not one (`isStoredKey`), WebCrypto does not take its
 * private half, or `key` is not the public half of that private key (its signatures would not check).
 */
export async function storedSigner(stored: StoredKey): Promise<Signer | null> {
  if (!isStoredKey(stored)) return null;
  try {
    const { kty, crv, x, y } = stored.privateJwk;
    const privateKey = await crypto.subtle.importKey("jwk", stored.privateJwk, ECDSA, false, ["sign"]);
    const publicKey = await crypto.subtle.importKey("jwk", { kty, crv, x, y }, ECDSA, true, ["verify"]);
    const signer = await webSigner({ privateKey, publicKey });
    return signer.key === stored.key ? signer : null;
  } catch {
    return null;
  }
}

const imported = new Map<string, Promise<CryptoKey | null>>();

function publicKey(key: string): Promise<CryptoKey | null> {
  let k = imported.get(key);
  if (!k) {
    const raw = PUBLIC_KEY.test(key) ? fromBase64Url(key) : null;
    k = raw && raw.length === 65 ? crypto.subtle.importKey("raw", buffer(raw), ECDSA, false, ["verify"]).catch(() => null) : Promise.resolve(null);
    imported.set(key, k);
    if (imported.size > 256) imported.delete(imported.keys().next().value!);
  }
  return k;
}

/** WebCrypto's check of a member signature. */
export const webVerify: Verifier = async (key, data, sig) => {
  if (!SIGNATURE.test(sig)) return false;
  const k = await publicKey(key);
  const raw = fromBase64Url(sig);
  if (!k || !raw || raw.length !== 64) return false;
  return crypto.subtle.verify(SIGN, k, buffer(raw), enc.encode(data));
};

/** base64url SHA-256 of a public key's text: what an invite link carries to name the host's key. */
export async function keyHash(key: string): Promise<string> {
  return toBase64Url(new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(key))));
}

/**
 * A member certificate: the authority's signature over (room, member id, member key, epoch). The
 * id and room travel beside it; the wire form is `{k, e, s}`.
 */
export interface Certificate {
  /** The member's public key. */
  k: string;
  /** The room epoch it was issued in. */
  e: number;
  /** The authority's signature over `certificateInput`. */
  s: string;
}

export function certificateInput(room: string, id: string, k: string, e: number): string {
  return JSON.stringify(["gc-cert-v1", room, id, k, e]);
}

/**
 * The room's membership as the host last set it: epoch `e` (0 when the room starts, one more on
 * every removal or revoked invite) and the ids of the members that remain. A certificate from an
 * earlier epoch is only good for a member named here; `{e, m, s}` on the wire.
 */
export interface Epoch {
  e: number;
  m: string[];
  s: string;
}

export function epochInput(room: string, e: number, members: readonly string[]): string {
  return JSON.stringify(["gc-epoch-v1", room, e, [...members].sort()]);
}

/** Largest epoch number accepted (a counter bumped by hand: far beyond any real room). */
export const MAX_EPOCH = 1_000_000;

export function isCertificate(v: unknown): v is Certificate {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const c = v as Record<string, unknown>;
  return (
    Object.keys(c).length === 3 &&
    typeof c.k === "string" &&
    PUBLIC_KEY.test(c.k) &&
    typeof c.e === "number" &&
    Number.isInteger(c.e) &&
    c.e >= 0 &&
    c.e <= MAX_EPOCH &&
    typeof c.s === "string" &&
    SIGNATURE.test(c.s)
  );
}

/** Shape check of an epoch; `isId` checks each member id. */
export function isEpoch(v: unknown, isId: (id: string) => boolean, maxMembers: number): v is Epoch {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const c = v as Record<string, unknown>;
  return (
    Object.keys(c).length === 3 &&
    typeof c.e === "number" &&
    Number.isInteger(c.e) &&
    c.e >= 1 &&
    c.e <= MAX_EPOCH &&
    Array.isArray(c.m) &&
    c.m.length <= maxMembers &&
    c.m.every((id) => typeof id === "string" && isId(id)) &&
    typeof c.s === "string" &&
    SIGNATURE.test(c.s)
  );
}
