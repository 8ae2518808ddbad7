import { serverFileLimit } from "./file-limit";
import { MEMBER_INVITE_ID, newSigner, storedSigner, type RefusalCode } from "../core/auth";
import type { PeerPort } from "../core/connection";
import { MAX_MEMBERS } from "../core/delivery";
import { classifyError, type ErrorKind } from "../core/errors";
import { IceFailover, fetchIceAnswer, iceUrlExcluding } from "../core/ice";
import { newToken, type HostIdentity, type Invite } from "../core/invites";
import { MeshSession, type MeshPhase, type MeshSessionOptions } from "../core/room";
import { iceEndpoint, peerServerOptions, type ServerSettings } from "../core/settings";
import { t, type StringKey } from "../core/strings";
import { createPeerJsPort } from "../adapters/peerjs";
import { gather } from "../adapters/gather";
import { Attention } from "./attention";
import { Composer } from "./composer";
import { $ } from "./dom";
import { failureKey, hostRefusalKey, showFailure, showRefusal } from "./errors";
import { HideIp } from "./hide-ip";
import { InviteBook, type RoomKind } from "./invites";
import { handOnMemberKey, takeBackMemberKey, takeMemberKey, type KeptMemberKey } from "./member-key";
import { storedName, wireName } from "./name";
import { QualityIndicator } from "./quality";
import { ChannelCheck, watchComeBack } from "./resume";
import { canShare, shareOrCopy } from "./share";
import { RoomView, shortId, type RoomPhase } from "./room";
import { registerServiceWorker, show, shown } from "./shell";
import { WakeLock } from "./wake-lock";

/**
 * Who wants to see each room the app opens: field data (ui/telemetry.ts) watches every room; the e2e
 * test build (web/e2e-build) also passes an observer to reach the session it drives and to put its
 * link cutter under the signaling peer.
 */
export interface AppObserver {
  room?(session: MeshSession, context?: RoomContext): void;
  peer?(port: PeerPort): PeerPort;
}

/** What an observer may know of a room besides its session: joining or hosting, and the TURN providers by URL. */
export interface RoomContext {
  joining: boolean;
  providers(): ReadonlyMap<string, string>;
}

/**
 * The room screens of one tab: opens a room as host or joiner on the one engine (core/room),
 * follows its progress in the status line, and hands the room to its view (ui/room.ts), the
 * composer, the invite book (ui/invites.ts) and the error screen (ui/errors.ts).
 */
export class RoomPage {
  kind: RoomKind = new URLSearchParams(location.search).has("group") ? "group" : "pair";
  private session: MeshSession | null = null;
  private view: RoomView | null = null;
  /** The room's ICE servers with failover (null with custom servers in the settings). */
  private ice: IceFailover | null = null;
  private lastJoin: Invite | null = null;
  /** A joiner's member key, handed on to the page after a reload of this tab (ui/member-key.ts). */
  private memberKey: KeptMemberKey | null = null;
  /** Host: the invite each member came in with (a removal revokes it). */
  private readonly invitedWith = new Map<string, string>();
  /** "Try again through a relay" chosen: TURN candidates only. */
  private relayOnly = false;
  private readonly quality = new QualityIndicator($("view-chat").querySelector<HTMLElement>(".chat-tools") ?? $("view-chat"));
  private readonly wakeLock = new WakeLock();
  /** The room's data channels, checked when the page comes back (WebKit closes them in the background). */
  private readonly channels = new ChannelCheck();
  /** Unread count, badge and (opt-in) notifications while the page is hidden. */
  private readonly attention = new Attention();
  readonly composer = new Composer(() => this.view);
  /** Turned on in a room: its links are made again through the relay. */
  private readonly hideIp = new HideIp((on) => {
    if (on) this.session?.relinkAll();
  });
  /** The host's invite book, its identity and the invite view. */
  readonly invites: InviteBook;

  constructor(
    private readonly observer: AppObserver,
    private readonly settings: () => ServerSettings,
    private readonly home: () => void,
    /** A chat connected (the start page may then offer installing the app). */
    private readonly connected: () => void,
  ) {
    this.invites = new InviteBook(
      () => this.kind,
      () => home(),
      async () => this.session?.rekey(),
    );
    wireName((name) => this.session?.room?.setName(name));
    $("group-invite").addEventListener("click", () => show("invite"));
    $("back-to-chat").addEventListener("click", () => show("chat"));
    $("copy-link").addEventListener("click", () => void this.copyLink());
    // Phones (and desktops with a share sheet): the system's share sheet; copying stays beside it.
    $("share-link").hidden = !canShare({ url: location.origin });
    $("share-link").addEventListener("click", () => void this.shareLink());
    $("error-retry").addEventListener("click", () => this.retry());
    $("panic").title = t("panicHelp");
    $("panic").setAttribute("aria-keyshortcuts", "Control+Shift+X");
    $("panic").addEventListener("click", () => void this.panic());
    document.addEventListener("keydown", (e) => {
      if (e.ctrlKey && e.shiftKey && (e.key === "X" || e.key === "x")) {
        e.preventDefault();
        void this.panic();
      }
    });
    // Back from the background (a phone may have frozen the page) or back online: the channels
    // WebKit closed meanwhile are dropped, then every path is checked now rather than by the timers.
    watchComeBack((networkChanged) => {
      // The page lives on: after a pagehide that means it came back from the back/forward cache, and
      // the member key it handed on goes back out of the tab's storage (a tab duplicated now must not get it).
      takeBackMemberKey();
      if (document.visibilityState === "visible" && this.view?.phase === "connected") void this.wakeLock.acquire();
      this.channels.check();
      this.session?.resume(networkChanged);
    });
    // The tab closes or navigates away: the others learn at once that this person left.
    window.addEventListener("pagehide", () => {
      this.session?.leave();
      handOnMemberKey(this.memberKey, keptJoined() !== null);
    });
  }

  /** A room is open in this tab. */
  get open(): boolean {
    return this.session !== null;
  }

  /**
   * Hosts a new room, or (`resume`) the room whose invites are still alive after a reload: the
   * same peer id and token, so the links already given out reach this page again.
   */
  async host(resume?: HostIdentity): Promise<void> {
    this.lastJoin = null;
    this.memberKey = null;
    $("join-info").hidden = true;
    const book = this.invites;
    const soleHost = await book.takeHostLock();
    const token = resume?.token ?? newToken();
    book.identity = resume ?? null;
    const settings = this.settings();
    const peerIdentity = resume ? { id: resume.peerId, token } : { token };
    const session = this.newRoom(
      {
        createPeer: async (ice, network) => this.peer(await createPeerJsPort(peerServerOptions(settings, location), ice, peerIdentity, network)),
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
    this.composer.render();
    if (this.view?.phase === "waiting") show("invite");
  }

  async join(invite: Invite): Promise<void> {
    this.lastJoin = invite;
    this.invites.close();
    const settings = this.settings();
    const kept = this.memberKey?.room === invite.roomId ? this.memberKey : { room: invite.roomId, key: await takeMemberKey(invite.roomId) };
    this.memberKey = kept;
    const session = this.newRoom(
      {
        signer: async () => (await storedSigner(kept.key)) ?? newSigner(),
        createPeer: async (ice, network) => this.peer(await createPeerJsPort(peerServerOptions(settings, location), ice, undefined, network)),
        invite: { roomId: invite.roomId, inviteId: invite.inviteId, secret: invite.secret, hostPeerId: invite.hostPeerId, hostKeyHash: invite.hostKeyHash },
      },
      () => invite.roomId,
    );
    // Who invited and until when (the host's name is known once connected: the member list shows it).
    const info = $("join-info");
    info.textContent = t("joinInfo", { host: shortId(invite.hostPeerId), time: new Date(invite.expiresAt).toLocaleString() });
    info.hidden = false;
    show("chat");
    this.composer.render();
    try {
      await session.start();
    } catch {
      // the status says why
    }
  }

  /** Leaves the room (the others are told) and forgets everything this page showed of it. */
  close(): void {
    this.closeRoom();
    this.relayOnly = false;
    this.lastJoin = null;
    this.memberKey = null;
    this.invites.stopRefreshing();
    $("join-info").hidden = true;
    $("verify").hidden = true;
    $("status").textContent = "";
    delete document.body.dataset.phase;
  }

  /** The error screen for one kind of failure (ui/errors.ts), with the actions that can fix it. */
  failed(kind: ErrorKind): void {
    showFailure(
      kind,
      {
        "retry-relay": () => {
          this.relayOnly = true;
          this.retry();
        },
        "new-invite": () => this.home(),
        settings: () => $("open-settings").click(),
        reload: () => location.reload(),
      },
      { phase: "failed", relayOnly: this.relayOnly },
    );
  }

  private peer(port: PeerPort): PeerPort {
    return this.channels.wrap(this.observer.peer ? this.observer.peer(port) : port);
  }

  private retry(): void {
    if (this.lastJoin) void this.join(this.lastJoin);
    else void this.host();
  }

  /** Opens a room of this page's kind: the one engine for 1:1 and group rooms. */
  private newRoom(options: Pick<MeshSessionOptions, "createPeer" | "host" | "invite" | "signer">, roomId: () => string): MeshSession {
    this.closeRoom();
    $("verify").hidden = true;
    $("verify-changed").hidden = true;
    $("invite-notice").hidden = true;
    const settings = this.settings();
    // TURN providers from /api/ice are checked in this browser and the failing ones left out; the
    // server's relay-only hint and the user's "try through a relay" apply to every link.
    const ice = (this.ice = iceFailover(settings));
    const relayOnly = this.relayOnly;
    const hideIp = this.hideIp;
    const network = {
      get relayOnly(): boolean {
        return relayOnly || hideIp.on || ice?.relayOnly === true;
      },
    };
    const session = new MeshSession({
      ...options,
      createPeer: (servers) => options.createPeer(servers, network),
      name: storedName(),
      maxMembers: this.kind === "pair" ? 2 : MAX_MEMBERS,
      relayOnly: relayOnly || hideIp.on,
      ...(ice ? { ice } : { loadIce: async () => settings.iceServers }),
    });
    session.events.on("status", (s) => {
      if (this.session === session) this.onStatus(s);
    });
    session.events.on("authenticated", (a) => {
      if (this.session !== session) return;
      if (a.inviteId !== MEMBER_INVITE_ID) this.invitedWith.set(a.peer, a.inviteId);
      // Every link has its own code; a group room shows them in its member list (ui/room.ts).
      if (this.kind === "pair") showPairCode(a.code.text, roomId());
      if (shown() === "invite" && this.kind === "pair") this.enterChat();
    });
    session.events.on("refused", (r) => {
      // "busy": someone else tried the link of a full 1:1 room; the host's chat goes on undisturbed.
      if (this.session === session && r.by === "us" && this.invites.identity && r.reason !== "timeout" && r.reason !== "busy") this.onRefused(r.reason);
    });
    session.events.on("removed", () => {
      if (this.session !== session) return;
      this.closeRoom();
      keepJoined(null);
      this.failed("removed");
    });
    this.view = new RoomView(
      session,
      {
        phase: (p) => this.onRoomPhase(p),
        providers: () => this.ice?.providersByUrl ?? new Map(),
        incoming: (from, text) => this.attention.message(from, text),
        remove: async (id) => {
          if (!(await session.removeMember(id))) return false;
          const inviteId = this.invitedWith.get(id);
          if (inviteId) await this.invites.revokeRemoved(inviteId);
          return true;
        },
      },
      this.quality,
    );
    this.session = session;
    session.events.on("room", () => this.composer.render());
    this.observer.room?.(session, { joining: this.lastJoin !== null, providers: () => this.ice?.providersByUrl ?? new Map() });
    return session;
  }

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
    this.wakeLock.release();
  }

  /** Host: a joiner was refused; the host keeps waiting and hears why. */
  private onRefused(reason: RefusalCode): void {
    const notice = $("invite-notice");
    notice.textContent = t(hostRefusalKey(reason));
    notice.dataset.refusal = reason;
    notice.hidden = false;
    if (shown() === "chat" && this.kind === "pair" && this.view?.phase !== "connected") show("invite");
  }

  private enterChat(): void {
    show("chat");
    this.composer.render();
    this.composer.focus();
  }

  /** The session's progress until the room exists; after that the room's phase speaks. */
  private onStatus(s: MeshPhase): void {
    switch (s.phase) {
      case "starting":
        return setStatus("ice", t("statusIce"));
      case "signaling":
        return setStatus("signaling", t("statusSignaling", { attempt: s.attempt, total: s.total }));
      case "signaling-retry":
        return setStatus("signaling-retry", t("statusSignalingRetry", { seconds: (s.retryInMs / 1000).toFixed(1) }));
      case "joining":
        return setStatus("connecting", t("statusPeer", { attempt: s.attempt, total: s.total }));
      case "joining-retry":
        return setStatus("connecting-retry", t("statusPeerRetry", { seconds: (s.retryInMs / 1000).toFixed(1) }));
      case "ready":
        registerServiceWorker();
        if (this.view) this.onRoomPhase(this.view.phase);
        return;
      case "failed":
        setStatus("failed", t("statusFailed", { reason: t(failureKey(s.reason)) }));
        this.wakeLock.release();
        this.composer.render();
        if (s.refusal && s.reason === "refused") showRefusal(s.refusal);
        else this.failed(classifyError({ source: "session", reason: s.reason }));
        return;
    }
  }

  private onRoomPhase(p: RoomPhase): void {
    if (!this.session?.room) return;
    setStatus(p, t(roomPhaseKey(p, this.kind)));
    this.composer.render();
    if (p === "connected") {
      // For bench/browser: invite opened (navigation start) -> chat ready.
      if (performance.getEntriesByName("ghostchat:chat-ready").length === 0) performance.mark("ghostchat:chat-ready");
      void this.wakeLock.acquire();
      this.connected();
      if (shown() !== "chat" && (this.lastJoin || shown() === "invite")) this.enterChat();
    }
    if (this.kind === "pair" && this.invites.identity) $("group-invite").hidden = p !== "peer-left";
    // Nobody else in the room (any more): the screen may sleep. Reconnecting keeps it awake.
    if (p === "peer-left" || p === "waiting") this.wakeLock.release();
  }

  private async copyLink(): Promise<boolean> {
    const input = $<HTMLInputElement>("invite-link");
    try {
      await navigator.clipboard.writeText(input.value);
      $("copy-feedback").textContent = t("copied");
      return true;
    } catch {
      input.select();
      $("copy-feedback").textContent = t("copyFailed");
      return false;
    }
  }

  private async shareLink(): Promise<void> {
    const url = $<HTMLInputElement>("invite-link").value;
    const outcome = await shareOrCopy({ title: t("appName"), text: t("shareInviteText"), url }, () => this.copyLink());
    if (outcome === "copied") $("copy-feedback").textContent = t("shareFailed");
  }

  /**
   * Panic: everything this page holds of the conversation goes — the messages on screen, the
   * room's shared history for late joiners, the draft, the verification-code memory of this tab, the
   * room's entries in IndexedDB (its invites: the links given out stop working) and the address
   * that carried an invite. The connection itself stays, so the chat can go on.
   */
  private async panic(): Promise<void> {
    if (shown() !== "chat") return;
    this.view?.wipe();
    this.session?.room?.forgetHistory();
    this.composer.clear();
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
}

/** The status line and `body[data-phase]` (styles, e2e), with a performance mark per phase (bench). */
function setStatus(phase: string, text: string): void {
  performance.mark(`ghostchat:${phase}`);
  const status = $("status");
  status.dataset.phase = phase;
  document.body.dataset.phase = phase;
  status.textContent = text;
}

/** 1:1: the link to the friend was authenticated; its verification code (group rooms: ui/room.ts). */
function showPairCode(code: string, roomId: string): void {
  const shownCode = $("verify-code");
  shownCode.textContent = code;
  shownCode.dataset.code = code;
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

/** The invite this tab joined with, for a reload (sessionStorage: this tab only, gone when it closes). */
const JOINED_KEY = "ghostchat:joined";

export function keepJoined(fragment: string | null): void {
  try {
    if (fragment === null) {
      sessionStorage.removeItem(JOINED_KEY);
      takeBackMemberKey();
    } else sessionStorage.setItem(JOINED_KEY, fragment);
  } catch {
    // storage refused: a reload goes back to the start page
  }
}

export function keptJoined(): string | null {
  try {
    return sessionStorage.getItem(JOINED_KEY);
  } catch {
    return null;
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
    // The same answer names the operator's file size limit (ui/files.ts shows and applies it).
    serverFileLimit.set(ice.maxFileBytes);
  };
  return ice;
}
