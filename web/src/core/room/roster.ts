import { MAX_MEMBERS, type MemberInfo, type PresenceState, type SignedMember } from "../delivery/frames";

/** What this side knows of one other member instance. */
export interface Member {
  id: string;
  inc: string;
  name: string;
  /** The member's own clock when its instance started: a later instance replaces an earlier one. */
  since: number;
  st: PresenceState;
  v: number;
  /** Members it reported a direct link to (its latest presence frame over a direct link). */
  reach: Set<string>;
  /** Its latest info as it signed it, with its certificate (whose key checks its relayed frames); null only in unit tests of the roster. */
  signed: SignedMember | null;
}

export type LearnResult = "new" | "replaced" | "updated" | "same" | "left" | "ignored" | "full";

/** How many departed or replaced instances are remembered (so stale gossip cannot bring them back). */
export const MAX_TOMBSTONES = 256;

/**
 * Room membership as this side knows it: members learned directly or by gossip, instances that
 * left or were replaced (tombstones), and the room size cap. Pure: no network, no clock.
 */
export class Roster {
  readonly members = new Map<string, Member>();
  private readonly tombstones = new Set<string>();

  constructor(private readonly selfId: string) {}

  isGone(id: string, inc: string): boolean {
    return this.tombstones.has(`${id}|${inc}`);
  }

  get gone(): [string, string][] {
    return [...this.tombstones].map((k) => {
      const at = k.lastIndexOf("|");
      return [k.slice(0, at), k.slice(at + 1)];
    });
  }

  /** Merges one member's info (from its own presence or a neighbour's gossip), checked by the caller. */
  learn(info: MemberInfo, signed: SignedMember | null = null): LearnResult {
    if (info.id === this.selfId || this.isGone(info.id, info.inc)) return "ignored";
    const existing = this.members.get(info.id);
    if (info.st === "leaving") {
      this.bury(info.id, info.inc);
      if (existing && existing.inc === info.inc) {
        this.members.delete(info.id);
        return "left";
      }
      return "ignored";
    }
    if (!existing) {
      if (this.members.size + 1 >= MAX_MEMBERS) return "full";
      this.members.set(info.id, { id: info.id, inc: info.inc, name: info.name, since: info.since, st: info.st, v: info.v, reach: new Set(), signed });
      return "new";
    }
    if (existing.inc === info.inc) {
      if (info.v <= existing.v) return "same";
      existing.name = info.name;
      existing.st = info.st;
      existing.v = info.v;
      existing.signed = signed;
      return "updated";
    }
    if (info.since > existing.since) {
      this.bury(existing.id, existing.inc);
      Object.assign(existing, { inc: info.inc, name: info.name, since: info.since, st: info.st, v: info.v, reach: new Set<string>(), signed });
      return "replaced";
    }
    this.bury(info.id, info.inc);
    return "ignored";
  }

  /** An instance is reported gone by a neighbour. Returns true when it was a current member. */
  forget(id: string, inc: string): boolean {
    if (id === this.selfId) return false;
    this.bury(id, inc);
    const m = this.members.get(id);
    if (m && m.inc === inc) {
      this.members.delete(id);
      return true;
    }
    return false;
  }

  private bury(id: string, inc: string): void {
    this.tombstones.add(`${id}|${inc}`);
    if (this.tombstones.size > MAX_TOMBSTONES) this.tombstones.delete(this.tombstones.values().next().value!);
  }
}

/**
 * Who opens the link between two members, so both never dial each other at once: the later
 * instance (greater `since`; ties broken by id) dials, the earlier one waits.
 */
export function shouldDial(me: { id: string; since: number }, other: { id: string; since: number }): boolean {
  if (me.since !== other.since) return me.since > other.since;
  return me.id > other.id;
}
