import { formatMessage } from "../core/text";
import type { MeshRoom, MeshSession, MemberView, Receipt, SignalingState } from "../core/room";
import { t } from "../core/strings";
import { $, el, renderSegments } from "./dom";

const TIME_FORMAT = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

/** Test hooks, only with `?test=1` in the page address (the e2e suite cuts links with them). */
export function testHooksEnabled(): boolean {
  return new URLSearchParams(location.search).get("test") === "1";
}

/** A member id for people: the first 8 characters. */
function short(id: string): string {
  return id.length > 8 ? `${id.slice(0, 8)}…` : id;
}

/**
 * Renders a group room (member list with presence and path, messages with per-recipient delivery
 * and read marks) and forwards the user's intents to the MeshRoom. No protocol logic here.
 */
export class GroupView {
  private room: MeshRoom | null = null;
  private readonly outgoing = new Map<string, HTMLElement>();
  private readonly timers: number[] = [];
  private readonly offVisibility: () => void;

  constructor(private readonly session: MeshSession) {
    $("members-panel").hidden = false;
    session.events.on("room", (room) => this.attach(room));
    session.events.on("signaling", (s) => this.renderSignaling(s));
    const onVisibility = () => {
      this.room?.setAway(document.visibilityState !== "visible");
      this.markRead();
    };
    document.addEventListener("visibilitychange", onVisibility);
    this.offVisibility = () => document.removeEventListener("visibilitychange", onVisibility);
    if (testHooksEnabled()) {
      const arrivals: { text: string; at: number }[] = [];
      session.events.on("room", (room) => room.events.on("message", (m) => arrivals.push({ text: m.text, at: performance.timeOrigin + performance.now() })));
      (window as unknown as { __ghostchatMesh: unknown }).__ghostchatMesh = {
        arrivals: () => arrivals,
        now: () => performance.timeOrigin + performance.now(),
        fail: (peer: string) => session.failLink(peer),
        id: () => session.id,
        members: () => this.room?.members() ?? [],
        links: () => session.connectedPeers,
        cut: (peer: string) => session.cut(peer),
        restore: (peer: string) => session.restore(peer),
        send: (text: string) => this.room?.send(text) ?? null,
        stats: () => this.room?.stats ?? null,
        pending: () => [...(this.room?.roster.members.keys() ?? [])].reduce((n, id) => n + (this.room?.pendingFor(id) ?? 0), 0),
      };
    }
  }

  get ready(): boolean {
    return this.room !== null;
  }

  dispose(): void {
    this.offVisibility();
    for (const h of this.timers) window.clearTimeout(h);
    $("members-panel").hidden = true;
    $("members").replaceChildren();
    $("group-signaling").textContent = "";
  }

  /** Sends the composer's text; false when the room is not ready yet. */
  send(text: string, ttlMs: number | null): boolean {
    if (!this.room) return false;
    const id = this.room.send(text, ttlMs);
    if (id === null) return false;
    this.renderMessage({ id, mine: true, from: this.session.id, text, at: Date.now(), ttlMs });
    this.renderReceipts(id);
    return true;
  }

  markRead(): void {
    if (document.visibilityState === "visible") this.room?.markRead();
  }

  private attach(room: MeshRoom): void {
    this.room = room;
    room.events.on("roster", (members) => this.renderMembers(members));
    room.events.on("message", (m) => {
      this.renderMessage({ id: m.id, mine: false, from: m.from, text: m.text, at: m.at, ttlMs: m.ttlMs });
      $("announcer").textContent = t("groupMessageAnnounce", { from: short(m.from), text: m.text.slice(0, 140) });
      this.markRead();
    });
    room.events.on("receipt", (r) => this.renderReceipts(r.id));
    room.setAway(document.visibilityState !== "visible");
    this.renderMembers(room.members());
  }

  private renderMembers(members: MemberView[]): void {
    const list = $("members");
    list.replaceChildren(
      ...members.map((m) => {
        const li = el("li", undefined, "member");
        li.dataset.peer = m.id;
        li.dataset.state = m.state;
        li.dataset.path = m.path;
        const state = t(m.state === "online" ? "memberOnline" : m.state === "away" ? "memberAway" : m.state === "unreachable" ? "memberUnreachable" : "memberReconnecting");
        const path = m.path === "direct" ? t("pathDirect") : m.path === "relay" ? t("pathRelay", { via: short(m.via ?? "") }) : "";
        li.append(el("span", short(m.id), "member-id"), el("span", path ? `${state} · ${path}` : state, "member-state"));
        return li;
      }),
    );
    $("members-count").textContent = t("membersCount", { n: members.length + 1 });
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
    li.append(el("span", `${m.mine ? t("you") : short(m.from)}: `, m.mine ? "visually-hidden" : "msg-from"));
    const text = el("p", undefined, "msg-text");
    renderSegments(text, formatMessage(m.text));
    li.append(text);
    const meta = el("div", undefined, "msg-meta");
    const time = el("time", TIME_FORMAT.format(m.at));
    time.setAttribute("datetime", new Date(m.at).toISOString());
    meta.append(time);
    if (m.mine) meta.append(el("span", "", "msg-state"));
    li.append(meta);
    if (m.mine) this.outgoing.set(m.id, li);
    const list = $("messages");
    list.append(li);
    requestAnimationFrame(() => (list.scrollTop = list.scrollHeight));
    if (m.ttlMs !== null) {
      this.timers.push(
        window.setTimeout(() => {
          li.remove();
          this.outgoing.delete(m.id);
        }, m.ttlMs),
      );
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
    const state = li.querySelector(".msg-state");
    if (state) {
      state.textContent = all.length === 0 ? t("receiptNobody") : t("receiptSummary", { delivered, read, total: all.length });
      state.setAttribute("title", [...receipts].map(([peer, r]) => `${short(peer)}: ${t(r === "read" ? "stateRead" : r === "delivered" ? "stateDelivered" : r === "failed" ? "receiptFailed" : "stateSending")}`).join("\n"));
    }
  }
}
