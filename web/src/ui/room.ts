import { TOKEN_BOUND_PREFIX } from "../core/ids";
import { formatMessage } from "../core/text";
import type { MeshRoom, MeshSession, MemberView, Receipt, SignalingState } from "../core/room";
import { TypingReceiver, TypingSender } from "../core/typing";
import { t, type StringKey } from "../core/strings";
import { $, el, renderSegments } from "./dom";
import { CALL_FIGURES_EVENT, QualityIndicator, type CallFiguresDetail, type QualitySource } from "./quality";
import { CallPanel } from "./call";
import { FilesView } from "./files";

const TIME_FORMAT = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

/**
 * How a room looks from this side, for the status line, the composer and the e2e suite
 * (`body[data-phase]`): nobody else yet, someone reachable, nobody reachable right now, nobody
 * reachable for a long while, and (1:1) the other person left.
 */
export type RoomPhase = "waiting" | "connected" | "reconnecting" | "unreachable" | "peer-left";

/** A member id for people: its first 8 characters after the token-bound prefix every id of ours shares. */
export function shortId(id: string): string {
  const own = id.startsWith(TOKEN_BOUND_PREFIX) ? id.slice(TOKEN_BOUND_PREFIX.length) : id;
  return own.length > 8 ? `${own.slice(0, 8)}…` : own;
}

/**
 * Renders one room of any size — a 1:1 chat is a room of two — and forwards the user's intents to
 * its MeshRoom: member list with names, presence, path and quality; messages with per-recipient
 * delivered/read marks; typing; self-destruct timers; panic. No protocol logic here.
 */
export class RoomView {
  room: MeshRoom | null = null;
  private readonly outgoing = new Map<string, HTMLElement>();
  private readonly timers = new Set<number>();
  private readonly off: (() => void)[] = [];
  private readonly typingIn = new Map<string, TypingReceiver>();
  private readonly typingOut = new TypingSender();
  private typingTimer: number | undefined;
  private readonly quality = new Map<string, QualityIndicator>();
  private readonly mainQuality: QualityIndicator;
  /** Verification code of this side's link to each member (group rooms show them in the list). */
  private readonly codes = new Map<string, string>();
  private everHadMember = false;
  private call: CallPanel | null = null;
  private phaseNow: RoomPhase = "waiting";
  /** Files and pictures (ui/files.ts). */
  readonly files: FilesView;

  constructor(
    private readonly session: MeshSession,
    private readonly hooks: {
      phase: (p: RoomPhase) => void;
      providers: () => ReadonlyMap<string, string>;
      /** A message from someone else was shown (its author's name as shown, its text). */
      incoming?: (from: string, text: string) => void;
      /** The host removes a member (and revokes the invite it came with); false when it could not. */
      remove?: (id: string) => Promise<boolean>;
    },
    mainQuality: QualityIndicator,
  ) {
    this.mainQuality = mainQuality;
    this.files = new FilesView(session, (peer) => this.room?.members().find((m) => m.id === peer)?.name || shortId(peer));
    $("members-panel").hidden = false;
    // A 1:1 room keeps the list folded (one person, and the messages need the space on a phone).
    $<HTMLDetailsElement>("members-details").open = session.maxMembers > 2;
    this.off.push(
      session.events.on("room", (room) => this.attach(room)),
      session.events.on("signaling", (s) => this.renderSignaling(s)),
      session.events.on("authenticated", (a) => {
        this.codes.set(a.peer, a.code.text);
        if (this.room) this.renderMembers(this.room.members());
      }),
    );
    const onVisibility = () => {
      this.room?.setAway(document.visibilityState !== "visible");
      this.room?.setReading(document.visibilityState === "visible");
    };
    document.addEventListener("visibilitychange", onVisibility);
    this.off.push(() => document.removeEventListener("visibilitychange", onVisibility));
    // The call panel's figures per member go to that member's quality indicator (the 1:1 room's is in the tools).
    const onCallFigures = (e: Event) => {
      const { peer, figures } = (e as CustomEvent<CallFiguresDetail>).detail;
      (this.pair ? this.mainQuality : this.quality.get(peer))?.setCall(figures);
    };
    $("view-chat").addEventListener(CALL_FIGURES_EVENT, onCallFigures);
    this.off.push(() => $("view-chat").removeEventListener(CALL_FIGURES_EVENT, onCallFigures));
  }

  /** True for a 1:1 room (size limit 2): words are "your friend", not names and counts. */
  get pair(): boolean {
    return this.session.maxMembers === 2;
  }

  get phase(): RoomPhase {
    return this.phaseNow;
  }

  /**
   * Whether a message can be written now: the room exists and, in a 1:1, the friend is there (or
   * reconnecting: what is written waits) — not before they came, not after they left.
   */
  get canWrite(): boolean {
    return this.room !== null && !(this.pair && (this.phaseNow === "peer-left" || this.phaseNow === "waiting"));
  }

  dispose(): void {
    for (const f of this.off.splice(0)) f();
    this.call?.dispose();
    this.call = null;
    this.files.dispose();
    for (const h of this.timers) window.clearTimeout(h);
    this.timers.clear();
    window.clearTimeout(this.typingTimer);
    this.mainQuality.stop();
    this.mainQuality.setCall(null);
    for (const q of this.quality.values()) q.stop();
    this.quality.clear();
    $("members-panel").hidden = true;
    $("members").replaceChildren();
    $("group-signaling").textContent = "";
    $("typing").hidden = true;
  }

  /** Sends the composer's text; false when the room is not ready or the text is not valid. */
  send(text: string, ttlMs: number | null): boolean {
    if (!this.room || !this.canWrite) return false;
    const id = this.room.send(text, ttlMs);
    if (id === null) return false;
    if (this.typingOut.stop() !== null) this.room.typing(false);
    this.renderMessage({ id, mine: true, from: this.session.id, text, at: Date.now(), ttlMs });
    this.renderReceipts(id);
    return true;
  }

  /** The composer changed: typing on/off to the others (rate-limited by TypingSender). */
  input(draftEmpty: boolean): void {
    const signal = this.typingOut.input(Date.now(), draftEmpty);
    if (signal !== null) this.room?.typing(signal);
  }

  /** Panic: every message on this page is gone (the room itself goes on). */
  wipe(): void {
    for (const h of this.timers) window.clearTimeout(h);
    this.timers.clear();
    this.outgoing.clear();
    this.files.wipe();
    $("messages").replaceChildren();
  }

  private attach(room: MeshRoom): void {
    this.room = room;
    this.call?.dispose();
    this.call = new CallPanel(this.session, room, (peer) => this.nameOf(peer), $("view-chat").querySelector<HTMLElement>(".chat-tools") ?? $("view-chat"));
    this.off.push(
      room.events.on("roster", (members) => this.renderMembers(members)),
      room.events.on("message", (m) => {
        this.typingOf(m.from).messageArrived();
        this.renderTyping();
        this.renderMessage({ id: m.id, mine: false, from: m.from, text: m.text, at: m.at, ttlMs: m.ttlMs });
        $("announcer").textContent = this.pair
          ? t("newMessageAnnounce", { text: m.text.slice(0, 140) })
          : t("groupMessageAnnounce", { from: this.nameOf(m.from), text: m.text.slice(0, 140) });
        this.hooks.incoming?.(this.nameOf(m.from), m.text);
      }),
      room.events.on("receipt", (r) => this.renderReceipts(r.id)),
      room.events.on("typing", ({ from, on }) => {
        this.typingOf(from).signal(on, Date.now());
        this.renderTyping();
      }),
    );
    room.setAway(document.visibilityState !== "visible");
    room.setReading(document.visibilityState === "visible");
    this.renderMembers(room.members());
  }

  private typingOf(peer: string): TypingReceiver {
    let r = this.typingIn.get(peer);
    if (!r) this.typingIn.set(peer, (r = new TypingReceiver()));
    return r;
  }

  private nameOf(peer: string): string {
    const name = this.room?.roster.members.get(peer)?.name ?? "";
    return name !== "" ? name : this.pair ? t("friend") : shortId(peer);
  }

  /** Host only: removes a member (a new epoch without it, and the invite it came with revoked). */
  private removeButton(m: MemberView): HTMLElement {
    const who = this.nameOf(m.id);
    const button = el("button", t("memberRemove"), "member-remove ghost") as HTMLButtonElement;
    button.type = "button";
    button.setAttribute("aria-label", t("memberRemoveLabel", { name: who }));
    button.addEventListener("click", () => {
      button.disabled = true;
      void this.hooks.remove?.(m.id).then((ok) => {
        if (ok) $("room-notice").textContent = t("memberRemovedNote", { name: who });
        else button.disabled = false;
      });
    });
    return button;
  }

  private renderMembers(members: MemberView[]): void {
    const list = $("members");
    const present = new Set(members.map((m) => m.id));
    for (const [id, q] of this.quality) {
      if (!present.has(id)) {
        q.stop();
        this.quality.delete(id);
      }
    }
    list.replaceChildren(
      ...members.map((m) => {
        const li = el("li", undefined, "member");
        li.dataset.peer = m.id;
        li.dataset.state = m.state;
        li.dataset.path = m.path;
        const state = t(
          m.state === "online" ? "memberOnline" : m.state === "away" ? "memberAway" : m.state === "unreachable" ? "memberUnreachable" : "memberReconnecting",
        );
        const path = m.path === "direct" ? t("pathDirect") : m.path === "relay" ? t("pathRelay", { via: this.nameOf(m.via ?? "") }) : "";
        const name = el("span", m.name !== "" ? m.name : shortId(m.id), "member-name");
        if (m.name !== "") name.title = m.id;
        li.append(name, el("span", path ? `${state} · ${path}` : state, "member-state"));
        const code = this.codes.get(m.id);
        if (!this.pair && code) {
          const span = el("span", t("memberCode", { code }), "member-code");
          span.dataset.code = code;
          li.append(span);
        }
        if (!this.pair) li.append(this.qualityFor(m).element);
        if (this.session.isHost) li.append(this.removeButton(m));
        return li;
      }),
    );
    $("members-count").textContent = t("membersCount", { n: members.length + 1 });
    this.updatePhase(members);
  }

  /** One quality indicator per member over its direct link (the 1:1 room uses the one in the tools). */
  private qualityFor(m: MemberView): QualityIndicator {
    let q = this.quality.get(m.id);
    if (!q) {
      q = new QualityIndicator(null, 2000, `quality-${this.quality.size + 1}`);
      this.quality.set(m.id, q);
    }
    if (m.path === "direct" && !q.running) q.start(this.sourceFor(m.id), this.hooks.providers());
    else if (m.path !== "direct" && q.running) q.stop();
    return q;
  }

  private sourceFor(peer: string): QualitySource {
    const room = this.room!;
    return {
      stats: () => this.session.stats(peer),
      ping: (seq) => room.ping(peer, seq),
      events: { on: (_e: "pong", h: (seq: number) => void) => room.events.on("pong", (p) => p.from === peer && h(p.seq)) },
    };
  }

  private updatePhase(members: MemberView[]): void {
    if (members.length > 0) this.everHadMember = true;
    const phase: RoomPhase =
      members.length === 0
        ? this.everHadMember && this.pair
          ? "peer-left"
          : "waiting"
        : members.some((m) => m.path !== "none")
          ? "connected"
          : members.every((m) => m.state === "unreachable")
            ? "unreachable"
            : "reconnecting";
    if (this.pair) {
      const friend = members[0];
      if (friend?.path === "direct" && !this.mainQuality.running) this.mainQuality.start(this.sourceFor(friend.id), this.hooks.providers());
      else if (friend?.path !== "direct") this.mainQuality.stop();
    }
    if (phase === "peer-left") {
      this.typingIn.clear();
      this.renderTyping();
    }
    if (phase === this.phaseNow) return;
    this.phaseNow = phase;
    this.hooks.phase(phase);
  }

  private renderTyping(): void {
    const now = Date.now();
    const typing = [...this.typingIn].filter(([, r]) => r.isTyping(now)).map(([id]) => id);
    const line = $("typing");
    line.hidden = typing.length === 0;
    line.textContent = typing.length === 0 || this.pair ? t("typing") : t("typingNamed", { names: typing.map((id) => this.nameOf(id)).join(", ") });
    window.clearTimeout(this.typingTimer);
    const again = Math.min(...[...this.typingIn.values()].map((r) => r.recheckIn(now) ?? Infinity));
    if (Number.isFinite(again)) this.typingTimer = window.setTimeout(() => this.renderTyping(), again + 10);
  }

  private renderSignaling(s: SignalingState): void {
    const status = $("group-signaling");
    status.dataset.signaling = s;
    status.textContent = s === "online" ? "" : t(s === "reconnecting" ? "groupServerReconnecting" : "groupServerOffline");
  }

  private renderMessage(m: { id: string; mine: boolean; from: string; text: string; at: number; ttlMs: number | null }): void {
    const li = el("li", undefined, "msg");
    li.dataset.id = m.id;
    li.dataset.direction = m.mine ? "out" : "in";
    li.dataset.from = m.from;
    const who = m.mine ? t("you") : this.nameOf(m.from);
    li.append(el("span", `${who}: `, m.mine || this.pair ? "visually-hidden" : "msg-from"));
    const text = el("p", undefined, "msg-text");
    renderSegments(text, formatMessage(m.text));
    li.append(text);
    const meta = el("div", undefined, "msg-meta");
    const time = el("time", TIME_FORMAT.format(m.at));
    time.setAttribute("datetime", new Date(m.at).toISOString());
    meta.append(time);
    if (m.ttlMs !== null) meta.append(el("span", t("selfDestructNote", { time: durationText(m.ttlMs) }), "msg-ttl"));
    if (m.mine) meta.append(el("span", "", "msg-state"));
    li.append(meta);
    if (m.mine) this.outgoing.set(m.id, li);
    const list = $("messages");
    list.append(li);
    // Scroll on the next frame: reading scrollHeight now would force a layout on the send path.
    requestAnimationFrame(() => (list.scrollTop = list.scrollHeight));
    if (m.ttlMs !== null) {
      // Counted from sending here and from arrival there.
      const h = window.setTimeout(() => {
        this.timers.delete(h);
        li.remove();
        this.outgoing.delete(m.id);
      }, m.ttlMs);
      this.timers.add(h);
    }
  }

  private renderReceipts(id: string): void {
    const li = this.outgoing.get(id);
    const receipts = this.room?.receipts(id);
    if (!li || !receipts) return;
    const all = [...receipts.values()];
    const count = (r: Receipt) => all.filter((x) => x === r).length;
    const read = count("read");
    const delivered = read + count("delivered");
    li.dataset.delivered = String(delivered);
    li.dataset.read = String(read);
    li.dataset.total = String(all.length);
    // The whole message's state: read by everyone, delivered to everyone, or still going out.
    li.dataset.state = all.length > 0 && read === all.length ? "read" : all.length > 0 && delivered === all.length ? "delivered" : "sending";
    const state = li.querySelector(".msg-state");
    if (!state) return;
    if (this.pair && all.length === 1) {
      state.textContent = t(receiptKey(all[0]!));
      return;
    }
    state.textContent = all.length === 0 ? t("receiptNobody") : t("receiptSummary", { delivered, read, total: all.length });
    state.setAttribute("title", [...receipts].map(([peer, r]) => `${this.nameOf(peer)}: ${t(receiptKey(r))}`).join("\n"));
  }
}

function receiptKey(r: Receipt): StringKey {
  return r === "read" ? "stateRead" : r === "delivered" ? "stateDelivered" : r === "failed" ? "receiptFailed" : "stateSending";
}

export function durationText(ms: number): string {
  return ms >= 60_000 ? t("selfDestructMinutes", { n: ms / 60_000 }) : t("selfDestructSeconds", { n: ms / 1000 });
}
