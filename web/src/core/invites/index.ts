import { fromBase64Url, isOpaqueId, isPeerId, randomBase64Url, type InviteId, type PeerId, type RoomId } from "../ids";

/**
 * Invite format version carried in every link. 2 adds the SHA-256 of the host's key (issue 15 item
 * 6); a link of version 1 was made by an older GhostChat and is refused as such.
 */
export const INVITE_VERSION = 2;
/** Invites last 24 hours (DESIGN §1). */
export const INVITE_TTL_MS = 24 * 60 * 60 * 1000;
/** 128-bit secret (DESIGN §4: 128 bits or more). */
export const INVITE_SECRET_BYTES = 16;

export interface Invite {
  readonly version: number;
  readonly hostPeerId: PeerId;
  readonly roomId: RoomId;
  readonly inviteId: InviteId;
  /** base64url, never sent to a server: it lives only in the URL fragment. */
  readonly secret: string;
  /** Unix time in milliseconds (the link carries whole seconds). */
  readonly expiresAt: number;
  /** base64url SHA-256 of the host's public key (`keyHash`): only that host can answer the invite. */
  readonly hostKeyHash: string;
}

/** `outdated-version`: made by an older GhostChat (a new link is needed); `unsupported-version`: by a newer one (reload). */
export type InviteParseError = "not-an-invite" | "unsupported-version" | "outdated-version" | "malformed" | "expired";
export type InviteParseResult = { ok: true; invite: Invite } | { ok: false; error: InviteParseError };

export interface CreateInviteOptions {
  hostPeerId: PeerId;
  hostKeyHash: string;
  roomId?: RoomId;
  now: number;
  ttlMs?: number;
  random?: (buf: Uint8Array) => Uint8Array;
}

export function newRoomId(random?: (buf: Uint8Array) => Uint8Array): RoomId {
  return randomBase64Url(12, random) as RoomId;
}

export function createInvite(options: CreateInviteOptions): Invite {
  const ttl = options.ttlMs ?? INVITE_TTL_MS;
  return {
    version: INVITE_VERSION,
    hostPeerId: options.hostPeerId,
    hostKeyHash: options.hostKeyHash,
    roomId: options.roomId ?? newRoomId(options.random),
    inviteId: randomBase64Url(9, options.random) as InviteId,
    secret: randomBase64Url(INVITE_SECRET_BYTES, options.random),
    // Whole seconds, rounded down so the link never outlives what the host recorded.
    expiresAt: Math.floor((options.now + ttl) / 1000) * 1000,
  };
}

/** The fragment (without '#'): `join=2.<host>.<room>.<invite>.<secret>.<expires-unix-seconds>.<host-key-hash>`. */
export function inviteFragment(invite: Invite): string {
  const parts = [
    String(invite.version),
    encodeURIComponent(invite.hostPeerId),
    invite.roomId,
    invite.inviteId,
    invite.secret,
    String(Math.floor(invite.expiresAt / 1000)),
    invite.hostKeyHash,
  ];
  return "join=" + parts.join(".");
}

/** The full link: the app's origin and path, the invite in the fragment only. */
export function inviteLink(appUrl: string, invite: Invite): string {
  const url = new URL(appUrl);
  url.hash = inviteFragment(invite);
  url.search = "";
  return url.toString();
}

/** Longest fragment we read (ours are ~120 characters); anything longer is refused unparsed. */
export const MAX_INVITE_FRAGMENT = 512;
/** Longest secret we accept: 64 bytes in base64url. */
const MAX_SECRET_CHARS = 86;

/** Parses `location.hash` (with or without '#'). Expired invites are refused. */
export function parseInvite(hash: string, now: number): InviteParseResult {
  if (typeof hash !== "string") return { ok: false, error: "not-an-invite" };
  const fragment = hash.startsWith("#") ? hash.slice(1) : hash;
  if (!fragment.startsWith("join=")) return { ok: false, error: "not-an-invite" };
  if (fragment.length > MAX_INVITE_FRAGMENT) return { ok: false, error: "malformed" };
  const parts = fragment.slice(5).split(".");
  if (parts[0] !== String(INVITE_VERSION)) {
    if (!/^\d{1,6}$/.test(parts[0] ?? "")) return { ok: false, error: "malformed" };
    return { ok: false, error: Number(parts[0]) < INVITE_VERSION ? "outdated-version" : "unsupported-version" };
  }
  if (parts.length !== 7) return { ok: false, error: "malformed" };
  const [, hostRaw, roomId, inviteId, secret, expiresRaw, hostKeyHash] = parts as [string, string, string, string, string, string, string];
  let hostPeerId: string;
  try {
    hostPeerId = decodeURIComponent(hostRaw);
  } catch {
    return { ok: false, error: "malformed" };
  }
  const secretBytes = secret.length <= MAX_SECRET_CHARS ? fromBase64Url(secret) : null;
  if (
    !isPeerId(hostPeerId) ||
    !isOpaqueId(roomId) ||
    !isOpaqueId(inviteId) ||
    secretBytes === null ||
    secretBytes.length < INVITE_SECRET_BYTES ||
    !/^\d{1,12}$/.test(expiresRaw) ||
    !/^[A-Za-z0-9_-]{43}$/.test(hostKeyHash)
  ) {
    return { ok: false, error: "malformed" };
  }
  const expiresAt = Number(expiresRaw) * 1000;
  if (expiresAt <= now) return { ok: false, error: "expired" };
  return {
    ok: true,
    invite: {
      version: INVITE_VERSION,
      hostPeerId: hostPeerId as PeerId,
      roomId: roomId as RoomId,
      inviteId: inviteId as InviteId,
      secret,
      expiresAt,
      hostKeyHash,
    },
  };
}

export * from "./store";
export * from "./host";
