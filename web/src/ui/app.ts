import type { RefusalCode } from "../core/auth";
import { createPeerJsPort } from "../adapters/peerjs";
import { MAX_MESSAGE_LENGTH, MAX_MEMBERS, SELF_DESTRUCT_CHOICES, cleanName, validateOutgoing } from "../core/delivery";
import { newToken, parseInvite, type HostIdentity, type Invite } from "../core/invites";
import { iceEndpoint, loadSettings, peerServerOptions, type ServerSettings } from "../core/settings";
import { t, type StringKey } from "../core/strings";
import { $, applyStrings, el } from "./dom";
import { InviteBook, type RoomKind } from "./invites";
import { classifyError, type ErrorKind } from "../core/errors";
import { failureKey, hostRefusalKey, refusalKey, renderError, resetErrorView } from "./errors";
import { QualityIndicator } from "./quality";
import { MeshSession, type MeshPhase, type MeshSessionOptions } from "../core/room";
import { RoomView, durationText, shortId, type RoomPhase } from "./room";
import { IceFailover, fetchIceAnswer, iceUrlExcluding } from "../core/ice";
import { gather } from "../adapters/gather";
import { wireSettings } from "./settings";

type View = "home" | "invite" | "chat" | "error" | "nowebrtc";
const VIEWS: View[] = ["home", "invite", "chat", "error", "nowebrtc"];

/** Where this browser remembers the person's display name (a label, never proof of who they are). */
const NAME_KEY = "ghostchat:name";

/**
 * Who wants to see each room the app opens. The shipped app passes nothing; the e2e test build
 * (web/e2e-build) passes an observer to reach the session it drives.
 */
export interface AppObserver {
  room?(session: MeshSession): void;
}

/** The UI: renders state and forwards intents; the logic lives in core/. */
export function startApp(observer: AppObserver = {}): void {
  applyStrings();
  $("qr").setAttribute("aria-label", t("qrLabel"));
  $<HTMLTextAreaElement>("composer").placeholder = t("composerPlaceholder");
  $("composer").setAttribute("maxlength", String(MAX_MESSAGE_LENGTH * 2));
  $("panic").title = t("panicHelp");
  $("panic").setAttribute("aria-keyshortcuts", "Control+Shift+X");
  watchOnline();

  if (typeof RTCPeerConnection === "undefined") {
    show("nowebrtc");
    return;
  }
  const app = new App(observer);
  app.route();
  window.addEventListener("hashchange", () => app.route());
}

function show(view: View): void {
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== view;
  document.body.dataset.view = view;
}

class App {
  private settings: ServerSettings = loadSettings(localStorage);
  private session: MeshSession | null = null;
  private view: RoomView | null = null;
  /** The room's ICE servers with failover (null with custom servers in the settings). */
  private ice: IceFailover | null = null;
  private kind: RoomKind = new URLSearchParams(location.search).has("group") ? "group" : "pair";
  private wakeLock: WakeLockSentinel | null = null;
  private lastJoin: Invite | null = null;
  private readonly quality = new QualityIndicator($("view-chat").querySelector<HTMLElement>(".chat-tools") ?? $("view-chat"));
  /** "Try again through a relay" chosen: TURN candidates only. */
  private relayOnly = false;
  /** The host's invite book, its identity and the invite view (ui/invites.ts). */
  private readonly invites = new InviteBook(
    () => this.kind,
    () => this.goHome(),
  );
  private resumeChecked = false;

  constructor(private readonly observer: AppObserver) {
    this.wireHome();
    this.wireChat();
    this.wireName();
    wireSettings(
      () => this.settings,
      (s) => (this.settings = s),
    );
    $("error-home").addEventListener("click", () => this.goHome());
    $("error-retry").addEventListener("click", () => (this.lastJoin ? void this.join(this.lastJoin) : void this.host()));
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && this.view?.phase === "connected") void this.acquireWakeLock();
    });
    // The tab closes or navigates away: the others learn at once that this person left.
    window.addEventListener("pagehide", () => this.session?.leave());
  }

  route(): void {
    const hash = location.hash;
    if (hash.startsWith("#join=")) {
      const parsed = parseInvite(hash, Date.now());
      // The secret leaves the address bar (history, synced tabs) once read; this tab alone keeps it
      // (sessionStorage) so that a reload rejoins, until Leave or panic.
      history.replaceState(null, "", location.pathname + location.search);
      if (!parsed.ok) {
        this.showFailure(classifyError({ source: "invite", error: parsed.error }));
        return;
      }
      keepJoined(hash);
      void this.join(parsed.invite);
      return;
    }
    const joined = keptJoined();
    if (joined && !this.session) {
      const parsed = parseInvite(joined, Date.now());
      if (parsed.ok) {
        void this.join(parsed.invite);
        return;
      }
      keepJoined(null);
    }
    if (!this.session) {
      show("home");
      registerServiceWorker();
      if (!this.resumeChecked) {
        this.resumeChecked = true;
        void this.invites.resumable().then((identity) => {
          // After a reload: host the same room with the same peer id while an invite is alive.
          if (identity && !this.session && !location.hash.startsWith("#join=")) void this.host(identity);
        });
      }
    }
  }

  /** 1:1: the link to the friend was authenticated; its verification code (group rooms: ui/room.ts). */
  private onAuthenticated(code: string, roomId: string): void {
    const shown = $("verify-code");
    shown.textContent = code;
    shown.dataset.code = code;
    $("verify").hidden = false;
    // Same room, other keys than the last connection in this tab: say so (sessionStorage: the tab only).
    const key = `ghostchat:code:${roomId}`;
    let previous: string | null = null;
    try {
      previous = sessionStorage.getItem(key);
      sessionStorage.setItem(key, code);
    } catch {
      // storage refused: the note is only a hint
    }
    $("verify-changed").hidden = previous === null || previous === code;
  }

  /** Host: a joiner was refused; the host keeps waiting and hears why. */
  private onRefused(reason: RefusalCode): void {
    const notice = $("invite-notice");
    notice.textContent = t(hostRefusalKey(reason));
    notice.dataset.refusal = reason;
    notice.hidden = false;
    if (document.body.dataset.view === "chat" && this.kind === "pair" && this.view?.phase !== "connected") show("invite");
  }

  private wireHome(): void {
    $("new-room").addEventListener("click", () => this.startHosting("pair"));
    $("new-group").addEventListener("click", () => this.startHosting("group"));
    $("group-invite").addEventListener("click", () => show("invite"));
    $("back-to-chat").addEventListener("click", () => show("chat"));
    $("copy-link").addEventListener("click", () => void this.copyLink());
  }

  private startHosting(kind: RoomKind): void {
    const url = new URL(location.href);
    if (kind === "group") url.searchParams.set("group", "");
    else url.searchParams.delete("group");
    url.hash = "";
    history.replaceState(null, "", url);
    this.kind = kind;
    void this.host();
  }

  /** The display name: remembered in this browser, editable in the room, sent to the others. */
  private wireName(): void {
    const input = $<HTMLInputElement>("my-name");
    input.value = storedName();
    input.addEventListener("change", () => {
      const name = cleanName(input.value);
      input.value = name;
      try {
        if (name === "") localStorage.removeItem(NAME_KEY);
        else localStorage.setItem(NAME_KEY, name);
      } catch {
        // storage refused: the name still goes to this room
      }
      this.session?.room?.setName(name);
      $("name-feedback").textContent = t("nameSaved");
    });
  }

  /** Opens a room of this page's kind: the one engine for 1:1 and group rooms. */
  private newRoom(options: Pick<MeshSessionOptions, "createPeer" | "host" | "invite">, roomId: () => string): MeshSession {
    this.closeRoom();
    $("verify").hidden = true;
    $("verify-changed").hidden = true;
    $("invite-notice").hidden = true;
    const settings = this.settings;
    // TURN providers from /api/ice are checked in this browser and the failing ones left out; the
    // server's relay-only hint and the user's "try through a relay" apply to every link.
    const ice = (this.ice = iceFailover(settings));
    const relayOnly = this.relayOnly;
    const network = {
      get relayOnly(): boolean {
        return relayOnly || ice?.relayOnly === true;
      },
    };
    const session = new MeshSession({
      ...options,
      createPeer: (servers) => options.createPeer(servers, network),
      name: storedName(),
      maxMembers: this.kind === "pair" ? 2 : MAX_MEMBERS,
      relayOnly,
      ...(ice ? { ice } : { loadIce: async () => settings.iceServers }),
    });
    session.events.on("status", (s) => {
      if (this.session === session) this.onStatus(s);
    });
    session.events.on("authenticated", (a) => {
      if (this.session !== session) return;
      // Every link has its own code; a group room shows them in its member list (ui/room.ts).
      if (this.kind === "pair") this.onAuthenticated(a.code.text, roomId());
      if (document.body.dataset.view === "invite" && this.kind === "pair") this.enterChat();
    });
    session.events.on("refused", (r) => {
      if (this.session === session && r.by === "us" && this.invites.identity && r.reason !== "timeout") this.onRefused(r.reason);
    });
    this.view = new RoomView(session, { phase: (p) => this.onRoomPhase(p), providers: () => this.ice?.providersByUrl ?? new Map() }, this.quality);
    this.session = session;
    session.events.on("room", () => this.renderCounter());
    this.observer.room?.(session);
    return session;
  }

  /** Leaves the current room (the others are told) and forgets its state on this page. */
  private closeRoom(): void {
    this.session?.leave();
    this.session = null;
    this.view?.dispose();
    this.view = null;
    this.ice?.dispose();
    this.ice = null;
    $("messages").replaceChildren();
    $("group-invite").hidden = true;
    $("back-to-chat").hidden = true;
    this.releaseWakeLock();
  }

  /**
   * Hosts a new room, or (`resume`) the room whose invites are still alive after a reload: the
   * same peer id and token, so the links already given out reach this page again.
   */
  private async host(resume?: HostIdentity): Promise<void> {
    this.lastJoin = null;
    $("join-info").hidden = true;
    const book = this.invites;
    const soleHost = await book.takeHostLock();
    const token = resume?.token ?? newToken();
    book.identity = resume ?? null;
    const settings = this.settings;
    const peerIdentity = resume ? { id: resume.peerId, token } : { token };
    const session = this.newRoom(
      {
        createPeer: (ice, network) => createPeerJsPort(peerServerOptions(settings, location), ice, peerIdentity, network),
        host: (peerId) => book.hostRoom(peerId, token, soleHost),
      },
      () => book.identity?.roomId ?? "",
    );
    try {
      await session.start();
    } catch {
      return; // the status says why
    }
    if (this.session !== session || !book.identity) return;
    await book.open(resume === undefined);
    // The host can go to its invites from the room and back: a group any time, a 1:1 room once the
    // friend left (a new link for someone new).
    $("group-invite").hidden = this.kind === "pair";
    $("back-to-chat").hidden = false;
    this.renderCounter();
    if (this.view?.phase === "waiting") show("invite");
  }

  private async join(invite: Invite): Promise<void> {
    this.lastJoin = invite;
    this.invites.close();
    const settings = this.settings;
    const session = this.newRoom(
      {
        createPeer: (ice, network) => createPeerJsPort(peerServerOptions(settings, location), ice, undefined, network),
        invite: { roomId: invite.roomId, inviteId: invite.inviteId, secret: invite.secret, hostPeerId: invite.hostPeerId },
      },
      () => invite.roomId,
    );
    // Who invited and until when (the host's name is known once connected: the member list shows it).
    const info = $("join-info");
    info.textContent = t("joinInfo", { host: shortId(invite.hostPeerId), time: new Date(invite.expiresAt).toLocaleString() });
    info.hidden = false;
    show("chat");
    this.renderCounter();
    try {
      await session.start();
    } catch {
      // the status says why
    }
  }

  private enterChat(): void {
    show("chat");
    this.renderCounter();
    $("composer").focus();
  }

  /** The session's progress until the room exists; after that the room's phase speaks. */
  private onStatus(s: MeshPhase): void {
    const status = $("status");
    const set = (phase: string, text: string) => {
      performance.mark(`ghostchat:${phase}`);
      status.dataset.phase = phase;
      document.body.dataset.phase = phase;
      status.textContent = text;
    };
    switch (s.phase) {
      case "starting":
        return set("ice", t("statusIce"));
      case "signaling":
        return set("signaling", t("statusSignaling", { attempt: s.attempt, total: s.total }));
      case "signaling-retry":
        return set("signaling-retry", t("statusSignalingRetry", { seconds: (s.retryInMs / 1000).toFixed(1) }));
      case "joining":
        return set("connecting", t("statusPeer", { attempt: s.attempt, total: s.total }));
      case "joining-retry":
        return set("connecting-retry", t("statusPeerRetry", { seconds: (s.retryInMs / 1000).toFixed(1) }));
      case "ready":
        registerServiceWorker();
        if (this.view) this.onRoomPhase(this.view.phase);
        return;
      case "failed":
        set("failed", t("statusFailed", { reason: t(failureKey(s.reason)) }));
        this.releaseWakeLock();
        this.renderCounter();
        if (s.refusal && s.reason === "refused") this.showError(refusalKey(s.refusal), s.refusal);
        else this.showFailure(classifyError({ source: "session", reason: s.reason }));
        return;
    }
  }

  private onRoomPhase(p: RoomPhase): void {
    if (!this.session?.room) return;
    const status = $("status");
    performance.mark(`ghostchat:${p}`);
    status.dataset.phase = p;
    document.body.dataset.phase = p;
    status.textContent = t(roomPhaseKey(p, this.kind));
    this.renderCounter();
    if (p === "connected") {
      // For bench/browser: invite opened (navigation start) -> chat ready.
      if (performance.getEntriesByName("ghostchat:chat-ready").length === 0) performance.mark("ghostchat:chat-ready");
      void this.acquireWakeLock();
      if (document.body.dataset.view !== "chat" && (this.lastJoin || document.body.dataset.view === "invite")) this.enterChat();
    }
    if (this.kind === "pair" && this.invites.identity) $("group-invite").hidden = p !== "peer-left";
    if (p === "peer-left" || p === "waiting") {
      // Nobody else in the room (any more): the screen may sleep. Reconnecting keeps it awake.
      this.releaseWakeLock();
    }
  }

  private async copyLink(): Promise<void> {
    const input = $<HTMLInputElement>("invite-link");
    try {
      await navigator.clipboard.writeText(input.value);
      $("copy-feedback").textContent = t("copied");
    } catch {
      input.select();
      $("copy-feedback").textContent = t("copyFailed");
    }
  }

  private showError(key: StringKey, refusal: RefusalCode): void {
    registerServiceWorker();
    resetErrorView();
    $("error-title").textContent = t("errorTitle");
    const body = $("error-body");
    body.textContent = t(key);
    body.dataset.refusal = refusal;
    // A new link is what fixes a bad, expired or revoked invite; another try may fix the rest.
    $("error-retry").hidden = ["unknown-invite", "expired", "revoked"].includes(refusal);
    show("error");
  }

  /** The error view for one kind of failure (ui/errors.ts), after the session's automatic retries. */
  private showFailure(kind: ErrorKind): void {
    registerServiceWorker();
    delete $("error-body").dataset.refusal;
    renderError(
      kind,
      {
        "retry-relay": () => {
          this.relayOnly = true;
          $("error-retry").click();
        },
        "new-invite": () => this.goHome(),
        settings: () => $("open-settings").click(),
        reload: () => location.reload(),
      },
      { phase: "failed", relayOnly: this.relayOnly },
    );
    show("error");
  }

  private goHome(): void {
    keepJoined(null);
    this.relayOnly = false;
    this.closeRoom();
    this.lastJoin = null;
    this.invites.stopRefreshing();
    $("join-info").hidden = true;
    $("verify").hidden = true;
    $("status").textContent = "";
    delete document.body.dataset.phase;
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
    show("home");
    $("new-room").focus();
  }

  // ---- chat ---------------------------------------------------------------------------------

  private wireChat(): void {
    const select = $<HTMLSelectElement>("self-destruct");
    for (const ms of SELF_DESTRUCT_CHOICES) {
      const option = el("option", ms === null ? t("selfDestructOff") : durationText(ms)) as HTMLOptionElement;
      option.value = ms === null ? "" : String(ms);
      select.append(option);
    }
    const composer = $<HTMLTextAreaElement>("composer");
    composer.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.sendDraft();
      }
    });
    composer.addEventListener("input", () => {
      this.renderCounter();
      this.view?.input(composer.value.trim().length === 0);
    });
    $("composer-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.sendDraft();
    });
    $("panic").addEventListener("click", () => void this.panic());
    document.addEventListener("keydown", (e) => {
      if (e.ctrlKey && e.shiftKey && (e.key === "X" || e.key === "x")) {
        e.preventDefault();
        void this.panic();
      }
    });
    $("leave").addEventListener("click", () => this.goHome());
    this.renderCounter();
  }

  private sendDraft(): void {
    const composer = $<HTMLTextAreaElement>("composer");
    const checked = validateOutgoing(composer.value);
    const select = $<HTMLSelectElement>("self-destruct");
    const ttl = select.value === "" ? null : Number(select.value);
    if (!checked.ok || !this.view?.send(checked.text, ttl)) return;
    composer.value = "";
    this.renderCounter();
  }

  /**
   * Panic: everything this page holds of the conversation goes — the messages on screen, the
   * room's shared history for late joiners, the draft, the verification-code memory of this tab, the
   * room's entries in IndexedDB (its invites: the links given out stop working) and the address
   * that carried an invite. The connection itself stays, so the chat can go on.
   */
  private async panic(): Promise<void> {
    if (document.body.dataset.view !== "chat") return;
    this.view?.wipe();
    this.session?.room?.forgetHistory();
    $<HTMLTextAreaElement>("composer").value = "";
    this.renderCounter();
    try {
      for (const key of Object.keys(sessionStorage)) if (key.startsWith("ghostchat:code:")) sessionStorage.removeItem(key);
    } catch {
      // storage refused: nothing was kept there either
    }
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
    keepJoined(null);
    $("announcer").textContent = t("panicDone");
    $("status").textContent = t("panicDone");
    await this.invites.wipe();
  }

  private renderCounter(): void {
    const length = $<HTMLTextAreaElement>("composer").value.length;
    const counter = $("counter");
    const over = length - MAX_MESSAGE_LENGTH;
    counter.textContent = over > 0 ? t("tooLong", { over }) : t("counter", { count: length, max: MAX_MESSAGE_LENGTH });
    counter.dataset.over = String(over > 0);
    const writable = this.view?.canWrite === true;
    $<HTMLTextAreaElement>("composer").disabled = !writable;
    $<HTMLButtonElement>("send").disabled = over > 0 || !writable;
  }

  private async acquireWakeLock(): Promise<void> {
    if (!("wakeLock" in navigator) || this.wakeLock || document.visibilityState !== "visible") return;
    try {
      this.wakeLock = await navigator.wakeLock.request("screen");
      this.wakeLock.addEventListener("release", () => (this.wakeLock = null));
    } catch {
      // refused (battery saver, policy): the chat works without it
    }
  }

  private releaseWakeLock(): void {
    void this.wakeLock?.release();
    this.wakeLock = null;
  }
}

/** The invite this tab joined with, for a reload (sessionStorage: this tab only, gone when it closes). */
const JOINED_KEY = "ghostchat:joined";

function keepJoined(fragment: string | null): void {
  try {
    if (fragment === null) sessionStorage.removeItem(JOINED_KEY);
    else sessionStorage.setItem(JOINED_KEY, fragment);
  } catch {
    // storage refused: a reload goes back to the start page
  }
}

function keptJoined(): string | null {
  try {
    return sessionStorage.getItem(JOINED_KEY);
  } catch {
    return null;
  }
}

function storedName(): string {
  try {
    return cleanName(localStorage.getItem(NAME_KEY) ?? "");
  } catch {
    return "";
  }
}

/** How long the failover check may wait for one TURN server's relay candidate. */
const TURN_CHECK_MS = 5000;

/**
 * ICE servers from /api/ice with failover across its providers (core/ice): TURN servers are checked
 * with a relay-only gathering in this browser, and the list asked for again without the providers
 * that failed. Null when the settings give the servers themselves (nothing to fail over to).
 */
function iceFailover(settings: ServerSettings): IceFailover | null {
  const endpoint = iceEndpoint(settings);
  if (endpoint === null) return null;
  const ice = new IceFailover({
    fetch: (exclude) => fetchIceAnswer(iceUrlExcluding(endpoint, exclude)),
    checkTurn: async (server) => (await gather([server], "relay", TURN_CHECK_MS)).candidates.some((c) => c.type === "relay"),
    setTimer: (fn, ms) => window.setTimeout(fn, Math.min(ms, 2 ** 31 - 1)),
    clearTimer: (handle) => window.clearTimeout(handle as number),
  });
  // For the operator's console and the e2e tests: which providers this page uses and left out.
  ice.onChange = (e) => {
    document.body.dataset.iceProviders = e.providers.join(",");
    document.body.dataset.iceExcluded = e.excluded.join(",");
  };
  return ice;
}

function roomPhaseKey(p: RoomPhase, kind: RoomKind): StringKey {
  switch (p) {
    case "waiting":
      return kind === "pair" ? "waitingForPeer" : "waitingForMembers";
    case "connected":
      return "statusConnected";
    case "reconnecting":
      return "statusReconnecting";
    case "unreachable":
      return kind === "pair" ? "statusUnreachable" : "statusMembersUnreachable";
    case "peer-left":
      return "statusPeerLeft";
  }
}

let swRegistered = false;

/**
 * Registered once the page is idle on a screen (home, invite, chat, error), not while it connects:
 * the worker's install fetches the whole app shell and would compete with the connection.
 */
function registerServiceWorker(): void {
  if (swRegistered || !("serviceWorker" in navigator) || import.meta.env.DEV) return;
  swRegistered = true;
  void navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => undefined);
}

function watchOnline(): void {
  const update = () => {
    $("offline").hidden = navigator.onLine;
    document.body.dataset.online = String(navigator.onLine);
    if (!navigator.onLine && document.body.dataset.view !== "chat") $("status").textContent = t("statusOffline");
  };
  window.addEventListener("online", update);
  window.addEventListener("offline", update);
  update();
}
