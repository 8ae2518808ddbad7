// Chats through real network changes in the lab: people keep writing (through the UI) while the
// network is cut, an address changes or the signaling server restarts; then what every page showed is
// checked. Used by recovery.test.mjs and resume.mjs (time to resume after a cut, median/p95).
//
// Everything here is observed from outside the app: the messages each page shows (and when they
// appeared, by a MutationObserver the lab installs), #status and the member list. No app hooks.
import { installRecorder, newPage, recorded, ROOM_UI, writeMessage } from "./browser.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Firefox reports as page errors what are browser notices, not app errors: that the lab's five ICE
// URLs slow discovery, that ICE failed (a cut makes it fail on purpose), and that the signaling
// WebSocket was interrupted or could not connect (a move or a server restart does that on purpose).
const FIREFOX_NOTICES = [
  /^WebRTC: Using five or more STUN\/TURN servers/,
  /^WebRTC: ICE failed, your TURN server appears to be broken/,
  /^WebRTC: ICE failed, see about:webrtc for more details$/,
  /^The connection to ws:\/\/\S+ was interrupted while the page was loading\.$/,
  /^Firefox can.t establish a connection to the server at ws:\/\/\S+\.$/,
];

const browsersOf = new WeakMap();

/**
 * People in the lab's client namespaces: `spec` is [[side, "chromium" | "firefox", name], …]. Each
 * starts with nothing stored: one Chromium per side, a new context per person; a Firefox (a new
 * profile) per person. Each person is { name, side, browser, page, errors() (page errors, browser
 * notices left out), close() }.
 */
export async function people(lab, spec) {
  if (!browsersOf.has(lab)) browsersOf.set(lab, new Map());
  const chromiums = browsersOf.get(lab);
  return Promise.all(spec.map(async ([side, browser, name]) => {
    if (browser === "firefox") {
      const ff = await lab.launchFirefox(side);
      return { name, side, browser, page: ff.page, errors: async () => (await ff.errors()).filter((e) => !FIREFOX_NOTICES.some((n) => n.test(e))), close: () => ff.close() };
    }
    if (!chromiums.has(side)) chromiums.set(side, lab.launchChromium(side));
    const { page, context, errors } = await newPage(await chromiums.get(side));
    return { name, side, browser, page, errors: async () => [...errors], close: () => context.close() };
  }));
}

/**
 * The people in one room: `members` is [{ name, page }] (name: a short label used in message texts,
 * e.g. "A"). Writers type "<name>·<k>" every `everyMs`; every page records what it shows.
 */
export class Chat {
  constructor(members, { kind }) {
    this.members = members;
    this.kind = kind;
    this.written = new Map(members.map((m) => [m.name, []])); // name → [{ text, at, ok }]
    this.counters = new Map(members.map((m) => [m.name, 0]));
    this.known = new Map(); // name → peers its member list showed once the room was complete
  }

  /** Installs the recorders and waits until every page shows every other member (group) or is connected (1:1). */
  async settle(timeout = 60_000) {
    const others = this.members.length - 1;
    await Promise.all(this.members.map(async ({ name, page }) => {
      await page.waitForFunction(([sel, n]) => {
        const shown = [...document.querySelectorAll(sel.members)];
        if (shown.length === 0) return document.querySelector(sel.status)?.dataset.phase === "connected"; // 1:1 without a member list
        return shown.length >= n && shown.every((li) => li.dataset.state === "online" || li.dataset.state === "away");
      }, [ROOM_UI, others], { timeout, polling: 250 });
      await installRecorder(page);
      const { states } = await recorded(page);
      this.known.set(name, states.at(-1).members.map(([peer]) => peer));
    }));
    this.settledAt = Date.now();
  }

  /** Starts every member writing, one message every `everyMs` (staggered); returns stop() (resolves when all stopped). */
  startWriting(everyMs = 1500, { label = "" } = {}) {
    let stopped = false;
    const loops = this.members.map(async ({ name, page }, i) => {
      await sleep((everyMs / this.members.length) * i);
      while (!stopped) {
        const k = this.counters.get(name) + 1;
        this.counters.set(name, k);
        const text = `${name}·${k}${label}`;
        const at = Date.now();
        const ok = await writeMessage(page, text).catch(() => false);
        this.written.get(name).push({ text, at, ok });
        const rest = everyMs - (Date.now() - at);
        if (!stopped && rest > 0) await sleep(rest);
      }
    });
    return async () => {
      stopped = true;
      await Promise.all(loops);
    };
  }

  /** Writes one message from `name` (outside the writers). */
  async write(name, text) {
    const { page } = this.members.find((m) => m.name === name);
    const at = Date.now();
    const ok = await writeMessage(page, text);
    this.written.get(name).push({ text, at, ok });
    return ok;
  }

  accepted(name) {
    return this.written.get(name).filter((w) => w.ok);
  }

  async snapshot() {
    return Object.fromEntries(await Promise.all(this.members.map(async ({ name, page }) => [name, await recorded(page)])));
  }

  /**
   * Waits until every message a member's page took has appeared at every other member, or until some
   * page shows that someone left (then there is nothing to wait for), or `timeout`. Returns the last
   * snapshot and whether everything arrived.
   */
  async waitDelivered(timeout = 90_000) {
    const end = Date.now() + timeout;
    for (;;) {
      const snap = await this.snapshot();
      const missing = this.missing(snap);
      if (missing.length === 0) return { snap, complete: true, missing };
      if (this.leftShown(snap).length > 0 || Date.now() > end) return { snap, complete: false, missing };
      await sleep(500);
    }
  }

  /** Messages some page took that have not appeared at some other member: ["B lacks A·3", …]. */
  missing(snap) {
    const out = [];
    for (const { name } of this.members) {
      const got = new Set(snap[name].shown.filter((m) => m.dir === "in").map((m) => m.text));
      for (const { name: from } of this.members) if (from !== name) for (const w of this.accepted(from)) if (!got.has(w.text)) out.push(`${name} lacks ${w.text}`);
    }
    return out;
  }

  /**
   * Exactly once, in order, at every other member; each writer's own messages shown once as outgoing.
   * Returns a list of problems (empty when all is well).
   */
  deliveryProblems(snap) {
    const problems = [];
    for (const { name } of this.members) {
      const shown = snap[name].shown;
      for (const { name: from } of this.members) {
        const want = this.accepted(from).map((w) => w.text);
        const prefix = `${from}·`;
        const dir = from === name ? "out" : "in";
        const got = shown.filter((m) => m.dir === dir && m.text.startsWith(prefix)).map((m) => m.text);
        if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${name} shows ${from}'s messages as [${got.join(" ")}], written [${want.join(" ")}]`);
      }
    }
    return problems;
  }

  /**
   * Everything wrong with a round (`r` from cutRound, moveRound or restartRound): writes a page did
   * not take, anything that said a person left, messages that never arrived, and any that arrived
   * twice, out of order or as something else. Empty when all is well.
   */
  problems(r) {
    const missing = r.complete ? [] : r.missing.length > 20 ? [...r.missing.slice(0, 20), `… ${r.missing.length - 20} more missing`] : r.missing;
    return [...this.refusedWrites(), ...this.leftShown(r.snap), ...missing, ...(r.complete ? this.deliveryProblems(r.snap) : [])];
  }

  /** For a failed round: per page, what it lacks from whom, and the member list it showed last (peer state/path). */
  summary(snap) {
    return this.members.map(({ name }) => {
      const got = new Set(snap[name].shown.filter((m) => m.dir === "in").map((m) => m.text));
      const lacks = this.members.filter((m) => m.name !== name).map(({ name: from }) => {
        const all = this.accepted(from);
        const lost = all.filter((w) => !got.has(w.text));
        return `${lost.length}/${all.length} of ${from}'s${lost.length ? ` (${lost[0].text}…${lost.at(-1).text})` : ""}`;
      });
      const last = snap[name].states.at(-1);
      const list = last ? last.members.map(([p, st, path]) => `${p.slice(0, 8)} ${st}/${path}`).join(", ") : "?";
      return `${name} lacks ${lacks.join(", ")}; shows ${last?.phase ?? "-"} [${list}]`;
    });
  }

  /** Writes a page did not take ("A·4 refused (composer disabled?)"). */
  refusedWrites() {
    return this.members.flatMap(({ name }) => this.written.get(name).filter((w) => !w.ok).map((w) => `${name} could not write ${w.text}`));
  }

  /**
   * Everything any page showed that tells a person left: #status in a left phase, a member who was in
   * the list gone from it, or the error view.
   */
  leftShown(snap, { until = Infinity } = {}) {
    const out = [];
    for (const { name } of this.members) {
      const known = this.known.get(name) ?? [];
      for (const s of snap[name].states) {
        if (s.at > until) break;
        if (s.at < this.settledAt) continue;
        const t = new Date(s.at).toISOString().slice(11, 23);
        if (ROOM_UI.leftPhases.includes(s.phase) || ROOM_UI.leftPhases.includes(s.body)) out.push(`${name} showed ${s.phase ?? s.body} at ${t}`);
        if (s.view === "error") out.push(`${name} showed the error view at ${t}`);
        const present = new Set(s.members.map(([p]) => p));
        for (const p of known) if (!present.has(p)) out.push(`${name}'s member list lost ${p.slice(0, 8)} at ${t}`);
      }
    }
    return [...new Set(out)];
  }

  /**
   * Who showed "reconnecting": for each page, the peers whose member state was reconnecting, or
   * "status" when #status's phase was. Returns { name: [..] }.
   */
  reconnectingShown(snap) {
    return Object.fromEntries(this.members.map(({ name }) => {
      const seen = new Set();
      for (const s of snap[name].states) {
        if (s.at < this.settledAt) continue;
        if (s.phase === ROOM_UI.reconnecting || s.body === ROOM_UI.reconnecting) seen.add("status");
        for (const [p, st] of s.members) if (st === ROOM_UI.reconnecting) seen.add(p);
      }
      return [name, [...seen]];
    }));
  }

  /** Pages that did not show reconnecting for every member they knew (or in #status when they list nobody). */
  missingReconnecting(snap) {
    const seen = this.reconnectingShown(snap);
    const out = [];
    for (const { name } of this.members) {
      const known = this.known.get(name) ?? [];
      if (known.length === 0) {
        if (!seen[name].includes("status")) out.push(`${name} never showed reconnecting`);
      } else for (const p of known) if (!seen[name].includes(p) && !seen[name].includes("status")) out.push(`${name} never showed ${p.slice(0, 8)} reconnecting`);
    }
    return out;
  }

  /** First arrival of each text at each page: name → Map(text → at). */
  static arrivals(snap) {
    return Object.fromEntries(Object.entries(snap).map(([name, r]) => {
      const m = new Map();
      for (const a of r.arrivals) if (!m.has(a.text)) m.set(a.text, a.at);
      return [name, m];
    }));
  }

  /**
   * Time to resume after `at` (a restore, a move …): messages written before `at` that had not
   * arrived by `at` are outstanding; first = the first of them to arrive anywhere, all = the last.
   * Limited to messages to or from `only` (a member name) when given. ms, or null when none was outstanding.
   */
  resumeTimes(snap, at, { only = null } = {}) {
    const arrivals = Chat.arrivals(snap);
    let first = Infinity;
    let last = -Infinity;
    let outstanding = 0;
    for (const { name: to } of this.members) {
      for (const { name: from } of this.members) {
        if (from === to || (only && from !== only && to !== only)) continue;
        for (const w of this.accepted(from)) {
          if (w.at >= at) continue;
          const t = arrivals[to].get(w.text);
          if (t !== undefined && t < at) continue;
          outstanding++;
          if (t === undefined) continue;
          first = Math.min(first, t - at);
          last = Math.max(last, t - at);
        }
      }
    }
    return { outstanding, firstMs: first === Infinity ? null : first, allMs: last === -Infinity ? null : last };
  }

  /**
   * After a change at `at`: when the first message written after it arrived anywhere (ms after `at`),
   * and the longest any message written from `at` on waited (arrival − written). Limited to messages
   * to or from `only` when given.
   */
  delaysAfter(snap, at, { only = null } = {}) {
    const arrivals = Chat.arrivals(snap);
    let first = Infinity;
    let longest = 0;
    for (const { name: to } of this.members) {
      for (const { name: from } of this.members) {
        if (from === to || (only && from !== only && to !== only)) continue;
        for (const w of this.accepted(from)) {
          const t = arrivals[to].get(w.text);
          if (w.at < at || t === undefined) continue;
          first = Math.min(first, t - at);
          longest = Math.max(longest, t - w.at);
        }
      }
    }
    return { firstMs: first === Infinity ? null : first, longestMs: longest };
  }

  /** Messages written in [from, to) that some page showed before `to` (a real cut lets none through). */
  throughTheCut(snap, from, to) {
    const arrivals = Chat.arrivals(snap);
    const out = [];
    for (const { name: by } of this.members) {
      for (const w of this.accepted(by)) {
        if (w.at < from || w.at >= to) continue;
        for (const { name } of this.members) {
          const t = arrivals[name].get(w.text);
          if (name !== by && t !== undefined && t < to) out.push(`${w.text} reached ${name} during the cut`);
        }
      }
    }
    return out;
  }
}

/**
 * One cut: members write (every `everyMs`) for `leadMs`, then every path between the browsers and to
 * TURN is dropped in every router (signaling stays up) for `cutMs` while they keep writing; at the
 * restore they stop writing and everything they wrote must arrive. Returns what happened; asserts nothing.
 */
export async function cutRound(lab, chat, { cutMs = 25_000, everyMs = 1500, leadMs = 3000, deliverTimeoutMs = 120_000, label = "" } = {}) {
  const drops = () => lab.sides.map((s) => (lab.cut.has(s.index) ? lab.cutDrops(s.index) : 0));
  const stop = chat.startWriting(everyMs, { label });
  let cutAt;
  let restoredAt;
  let dropped;
  try {
    await sleep(leadMs);
    lab.cutPaths();
    cutAt = Date.now();
    await sleep(cutMs);
    dropped = drops();
  } finally {
    // From the moment the first router opens again (the restore takes a few ms for all of them).
    restoredAt = Date.now();
    lab.restorePaths();
    await stop();
  }
  const { snap, complete, missing } = await chat.waitDelivered(deliverTimeoutMs);
  return { cutAt, restoredAt, dropped, snap, complete, missing, resume: chat.resumeTimes(snap, restoredAt), through: chat.throughTheCut(snap, cutAt, restoredAt) };
}

/**
 * Side `side` (1-based) moves to another network mid-chat (lab.moveSide: new LAN subnet, new public
 * address, the NAT's mappings gone) while everyone writes, and they go on writing for `writeAfterMs`.
 * Returns what happened; asserts nothing. `mover` is the member name on that side.
 */
export async function moveRound(lab, chat, side, mover, { everyMs = 1500, leadMs = 3000, writeAfterMs = 15_000, deliverTimeoutMs = 90_000 } = {}) {
  const stop = chat.startWriting(everyMs);
  let movedAt;
  let addresses;
  try {
    await sleep(leadMs);
    addresses = lab.moveSide(side);
    movedAt = Date.now();
    await sleep(writeAfterMs);
  } finally {
    await stop();
  }
  const { snap, complete, missing } = await chat.waitDelivered(deliverTimeoutMs);
  return { movedAt, addresses, snap, complete, missing, after: chat.delaysAfter(snap, movedAt, { only: mover }) };
}

/**
 * The signaling server (with the relay it hosts) is stopped by its PID and, `downMs` later, started
 * again on the same addresses, while everyone writes; they go on writing for `writeAfterMs`.
 * Returns what happened; asserts nothing.
 */
export async function restartRound(lab, chat, { everyMs = 1500, leadMs = 3000, downMs = 5000, writeAfterMs = 6000, deliverTimeoutMs = 90_000 } = {}) {
  const stop = chat.startWriting(everyMs);
  let stoppedAt;
  let startedAt;
  let pids;
  try {
    await sleep(leadMs);
    const before = lab.server.pid;
    stoppedAt = Date.now();
    const server = await lab.restartServer({ downMs });
    startedAt = Date.now();
    pids = [before, server.pid];
    await sleep(writeAfterMs);
  } finally {
    await stop();
  }
  const { snap, complete, missing } = await chat.waitDelivered(deliverTimeoutMs);
  return { stoppedAt, startedAt, pids, snap, complete, missing, after: chat.delaysAfter(snap, stoppedAt) };
}

/** Formats ms as seconds with one decimal. */
export const secs = (ms) => (ms === null || ms === undefined ? "–" : `${(ms / 1000).toFixed(1)} s`);
