/**
 * What a receiver keeps of a partial file so that it can go on after its page reloads
 * (docs/protocol.md, "Files", resume after a reload): the offer, the sender (peer id, the member key
 * its link proved, the room), the receiver's token for `fr`, how many chunks are on disk for good,
 * and the name of the partial file in the store. Kept by a `PartialBook` (adapters/idb.ts) for one
 * tab; records older than PARTIAL_TTL_MS are dropped.
 */
import { TRANSFER_ID, chunkCount, decodeControl, type OfferFrame } from "./wire";

/** A partial file is kept this long after its last progress (the sender must still have the file open). */
export const PARTIAL_TTL_MS = 60 * 60 * 1000;
/** A partial file restored after a reload waits this long for its sender's link, then fails. */
export const RESTORE_WAIT_MS = 60_000;

export interface PartialRecord {
  /** The sender's peer id and the member key its link proved when the transfer was accepted. */
  peer: string;
  key: string;
  room: string;
  offer: OfferFrame;
  /** The receiver's token, sent in `fa` and again in `fr`. */
  tok: string;
  /** Chunks 0..verified-1 are on disk for good (the store committed them). */
  verified: number;
  /** The partial file's name in the store (SinkStore.reopen). */
  sink: string;
  /** Last progress (ms since the epoch). */
  at: number;
}

/** Where records are kept (adapters/idb.ts: IndexedDB, this tab's records only). */
export interface PartialBook {
  /** This tab's records that have not expired. */
  list(): Promise<PartialRecord[]>;
  put(record: PartialRecord): Promise<void>;
  remove(peer: string, id: string): Promise<void>;
}

const SHORT = 128;

/** A record as read back from storage: every field checked, so a damaged one is dropped, not trusted. */
export function isPartialRecord(v: unknown): v is PartialRecord {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  const short = (x: unknown) => typeof x === "string" && x.length > 0 && x.length <= SHORT;
  if (!short(r.peer) || !short(r.key) || typeof r.room !== "string" || r.room.length > SHORT || !short(r.sink)) return false;
  if (typeof r.tok !== "string" || !TRANSFER_ID.test(r.tok) || typeof r.at !== "number" || !Number.isFinite(r.at)) return false;
  let offer: ReturnType<typeof decodeControl>;
  try {
    offer = decodeControl(JSON.stringify(r.offer));
  } catch {
    return false;
  }
  if (!offer.ok || offer.frame.t !== "fo") return false;
  const verified = r.verified;
  return typeof verified === "number" && Number.isSafeInteger(verified) && verified >= 0 && verified < chunkCount(offer.frame.size, offer.frame.cs);
}

/** Whether a record is still good at `now`. */
export function isLive(record: PartialRecord, now: number): boolean {
  return now - record.at < PARTIAL_TTL_MS && record.at <= now + PARTIAL_TTL_MS;
}
