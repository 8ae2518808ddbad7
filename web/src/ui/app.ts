import QRCode from "qrcode";
import { HostHandshake, JoinerHandshake, NonceLog, type ChannelFingerprints, type RefusalCode } from "../core/auth";
import { ChatSession, type AuthFailure, type AuthSuccess, type ChannelPort, type SessionStatus } from "../core/connection";
import { createPeerJsPort, type PeerIdentity } from "../core/connection/peerjs-adapter";
import { Conversation, MAX_MESSAGE_LENGTH, SELF_DESTRUCT_CHOICES, validateOutgoing, type ChatMessage, type WireMessage } from "../core/delivery";
import { HostInvites, MemoryInviteStore, inviteLink, newToken, parseInvite, type HostIdentity, type Invite } from "../core/invites";
import { IdbInviteStore } from "../core/invites/idb-store";
import { iceEndpoint, loadSettings, peerServerOptions, saveSettings, settingsToForm, validateSettings, type ServerSettings, type SettingsField } from "../core/settings";
import { t, type StringKey } from "../core/strings";
import { formatMessage } from "../core/text";
import { TypingReceiver, TypingSender } from "../core/typing";
import { $, applyStrings, el, renderSegments } from "./dom";
import { renderInviteList, shortInviteName } from "./invites";
import { classifyError, type ErrorKind } from "../core/errors";
import { renderError, resetErrorView } from "./errors";
import { QualityIndicator } from "./quality";
import { MEMBER_INVITE_ID, MeshSession, type MeshPhase, type MeshSessionOptions } from "../core/room";
import { GroupView } from "./group";
import { IceFailover, fetchIceAnswer, iceUrlExcluding } from "../core/ice";
import { gather } from "./gather";

/** One formatter for every message (creating one per call costs milliseconds on the send path). */
const TIME_FORMAT = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

type View = "home" | "invite" | "chat" | "error" | "nowebrtc";
const VIEWS: View[] = ["home", "invite", "chat", "error", "nowebrtc"];

/** The UI: renders state and forwards intents; the logic lives in core/. */
export function startApp(): void {
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
  const app = new App();
  app.route();
  window.addEventListener("hashchange", () => app.route());
}

function show(view: View): void {
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== view;
  document.body.dataset.view = view;
}

class App {
  private settings: ServerSettings = loadSettings(localStorage);
  private session: ChatSession | null = null;
  /** The session's ICE servers with failover (null with custom servers in the settings). */
  private ice: IceFailover | null = null;
  /** The group room's ICE servers with failover (null with custom servers in the settings). */
  private groupIce: IceFailover | null = null;
  private conversation = new Conversation();
  private readonly typingOut = new TypingSender();
  private readonly typingIn = new TypingReceiver();
  private expiryTimer: number | undefined;
  private typingTimer: number | undefined;
  private wakeLock: WakeLockSentinel | null = null;
  private lastJoin: Invite | null = null;
  private readonly rendered = new Map<string, HTMLElement>();
  private readonly quality = new QualityIndicator($("view-chat").querySelector<HTMLElement>(".chat-tools") ?? $("view-chat"));
  /** "Try again through a relay" chosen: TURN candidates only. */
  private relayOnly = false;
  // ---- invites (issue 6): the host's invite book, identity and the handshake's nonce memory ----
  private invitesBook: Promise<HostInvites> | null = null;
  private identity: HostIdentity | null = null;
  private readonly nonces = new NonceLog();
  private inviteTimer: number | undefined;
  private resumeChecked = false;
  private hostLock: Promise<boolean> | null = null;
  /** The room key from the authenticated channel (the group chat uses it). */
  roomKey: string | null = null;
  // ---- group rooms (issue 7): the page address carries ?group; a MeshSession replaces ChatSession ----
  private group = new URLSearchParams(location.search).has("group");
  private mesh: MeshSession | null = null;
  private groupView: GroupView | null = null;

  constructor() {
    this.wireHome();
    this.wireChat();
    this.wireSettings();
    this.wireInvites();
    $("error-home").addEventListener("click", () => this.goHome());
    $("error-retry").addEventListener("click", () => (this.lastJoin ? void this.join(this.lastJoin) : void this.host()));
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") {
        this.flushRead();
        if (this.session?.connected) void this.acquireWakeLock();
      }
    });
    window.addEventListener("pagehide", () => {
      this.session?.close();
      this.mesh?.leave();
    });
  }

  route(): void {
    const hash = location.hash;
    if (hash.startsWith("#join=")) {
      const parsed = parseInvite(hash, Date.now());
      if (!parsed.ok) {
        this.showFailure(classifyError({ source: "invite", error: parsed.error }));
        return;
      }
      void this.join(parsed.invite);
      return;
    }
    if (!this.session) {
      show("home");
      registerServiceWorker();
      if (!this.resumeChecked) {
        this.resumeChecked = true;
        void this.tryResume();
      }
    }
  }

  // ---- invites ------------------------------------------------------------------------------

  /** The invite book in IndexedDB (memory when the browser refuses IndexedDB). */
  private book(): Promise<HostInvites> {
    this.invitesBook ??= IdbInviteStore.open().then(
      (store) => new HostInvites(store),
      () => new HostInvites(new MemoryInviteStore()),
    );
    return this.invitesBook;
  }

  /** After a reload: host the same room with the same peer id while an invite is alive. */
  private async tryResume(): Promise<void> {
    const identity = await (await this.book()).resume();
    if (!identity || this.session || location.hash.startsWith("#join=")) return;
    if (!(await this.takeHostLock())) return; // another tab of this browser hosts the room
    if (this.session) return;
    void this.host(identity);
  }

  /** One tab hosts at a time (the same id in two tabs would push each other off the server). */
  private takeHostLock(): Promise<boolean> {
    if (!("locks" in navigator)) return Promise.resolve(true);
    this.hostLock ??= new Promise<boolean>((resolve) => {
      void navigator.locks
        .request("ghostchat-host", { ifAvailable: true }, (lock) => {
          resolve(lock !== null);
          return lock ? new Promise<void>(() => undefined) : undefined; // held for the page's life
        })
        .catch(() => resolve(true));
    });
    return this.hostLock;
  }

  private wireInvites(): void {
    $("new-invite").addEventListener("click", () => void this.newInvite());
    $("end-room").addEventListener("click", () => void this.endRoom());
  }

  private async newInvite(): Promise<void> {
    if (!this.identity) return;
    const invite = await (await this.book()).issue(this.identity);
    await this.showLink(invite);
    $("invite-feedback").textContent = "";
    await this.refreshInvites();
  }

  private async renewInvite(inviteId: string): Promise<void> {
    if (!this.identity) return;
    const invite = await (await this.book()).renew(this.identity, inviteId);
    await this.showLink(invite);
    $("invite-feedback").textContent = t("inviteRenewedNote");
    await this.refreshInvites();
    $("invite-link").focus();
  }

  private async revokeInvite(inviteId: string): Promise<void> {
    await (await this.book()).revoke(inviteId);
    $("invite-feedback").textContent = t("inviteRevokedNote", { id: shortInviteName(inviteId) });
    await this.refreshInvites();
  }

  private async endRoom(): Promise<void> {
    await (await this.book()).endRoom();
    this.identity = null;
    this.goHome();
  }

  /** Redraws the list of active invites, again every 30 s while hosting (time left, warnings). */
  private async refreshInvites(): Promise<void> {
    window.clearTimeout(this.inviteTimer);
    if (!this.identity) return;
    const book = await this.book();
    await book.purge(); // expired invites leave the store while the page stays open, too
    const list = await book.active(this.identity.roomId);
    renderInviteList(list, { renew: (id) => void this.renewInvite(id), revoke: (id) => void this.revokeInvite(id) });
    this.inviteTimer = window.setTimeout(() => void this.refreshInvites(), 30_000);
  }

  private async showLink(invite: Invite | null): Promise<void> {
    $("invite-not-kept").hidden = invite !== null;
    for (const id of ["invite-link-row", "invite-expiry", "qr"]) $(id).hidden = invite === null;
    if (!invite) {
      $<HTMLInputElement>("invite-link").value = "";
      return;
    }
    const link = this.group ? groupLink(inviteLink(location.href, invite)) : inviteLink(location.href, invite);
    $<HTMLInputElement>("invite-link").value = link;
    $("invite-expiry").textContent = t("inviteExpires", { time: new Date(invite.expiresAt).toLocaleString() });
    $("copy-feedback").textContent = "";
    await QRCode.toCanvas($<HTMLCanvasElement>("qr"), link, { errorCorrectionLevel: "M", margin: 2, width: 232 });
  }

  private onAuthenticated(outcome: AuthSuccess, roomId: string): void {
    this.roomKey = outcome.roomKey;
    const code = $("verify-code");
    code.textContent = outcome.code.text;
    code.dataset.code = outcome.code.text;
    $("verify").hidden = false;
    // Same room, other keys than the last connection in this tab: say so (sessionStorage: the tab only).
    const key = `ghostchat:code:${roomId}`;
    let previous: string | null = null;
    try {
      previous = sessionStorage.getItem(key);
      sessionStorage.setItem(key, outcome.code.text);
    } catch {
      // storage refused: the note is only a hint
    }
    $("verify-changed").hidden = previous === null || previous === outcome.code.text;
  }

  /** Host: a joiner was refused; the host keeps waiting and hears why. */
  private onRefused(outcome: AuthFailure): void {
    const notice = $("invite-notice");
    notice.textContent = t(hostRefusalKey(outcome.reason));
    notice.dataset.refusal = outcome.reason;
    notice.hidden = false;
    if (document.body.dataset.view === "chat") {
      this.setChatEnabled(false);
      show("invite");
    }
  }

  private wireHome(): void {
    $("new-room").addEventListener("click", () => void this.host());
    $("new-group").addEventListener("click", () => {
      const url = new URL(location.href);
      url.searchParams.set("group", "");
      url.hash = "";
      history.replaceState(null, "", url);
      this.group = true;
      void this.host();
    });
    $("group-invite").addEventListener("click", () => show("invite"));
    $("back-to-chat").addEventListener("click", () => show("chat"));
    $("copy-link").addEventListener("click", () => void this.copyLink());
  }

  private newSession(identity?: PeerIdentity | { token: string }): ChatSession {
    this.session?.close();
    this.ice?.dispose();
    this.resetConversation();
    this.roomKey = null;
    $("verify").hidden = true;
    $("verify-changed").hidden = true;
    $("invite-notice").hidden = true;
    const settings = this.settings;
    const ice = (this.ice = iceFailover(settings));
    const session = new ChatSession({
      createPeer: (iceServers, network) => createPeerJsPort(peerServerOptions(settings, location), iceServers, identity, network),
      // Without an /api/ice endpoint the settings give the servers themselves.
      ...(ice ? { ice } : { loadIce: async () => settings.iceServers }),
      relayOnly: this.relayOnly,
      // Every channel proves the invite secret over both DTLS fingerprints before it carries chat.
      handshake: async (role, channel) => {
        const fingerprints = await readFingerprints(channel);
        if (!fingerprints) return null;
        if (role === "host") {
          const id = this.identity;
          if (!id) return null;
          return new HostHandshake({ roomId: id.roomId, roomKey: id.roomKey, fingerprints, lookup: async (inviteId) => (await this.book()).check(inviteId), nonces: this.nonces });
        }
        const invite = this.lastJoin;
        return invite ? new JoinerHandshake({ roomId: invite.roomId, inviteId: invite.inviteId, secret: invite.secret, fingerprints }) : null;
      },
    });
    session.events.on("status", (s) => this.onStatus(s));
    session.events.on("message", (m) => this.onWire(m));
    session.events.on("authenticated", (a) => this.onAuthenticated(a, this.identity?.roomId ?? this.lastJoin?.roomId ?? ""));
    session.events.on("refused", (r) => this.onRefused(r));
    this.session = session;
    return session;
  }

  /**
   * Hosts a new room, or (`resume`) the room whose invites are still alive after a reload: the
   * same peer id and token, so the links already given out reach this page again.
   */
  private async host(resume?: HostIdentity): Promise<void> {
    if (this.group) return this.hostGroup(resume);
    this.lastJoin = null;
    $("join-info").hidden = true;
    const book = await this.book();
    const soleHost = await this.takeHostLock();
    const token = resume?.token ?? newToken();
    this.identity = resume ?? null;
    const session = this.newSession(resume ? { id: resume.peerId, token } : { token });
    let id: string;
    try {
      id = await session.host();
    } catch {
      return; // status already says why
    }
    if (this.session !== session) return;
    if (resume) {
      await this.showLink(null);
    } else {
      this.identity = await book.startRoom(id, token, { keepOthers: !soleHost });
      await this.showLink(await book.issue(this.identity));
    }
    $("invite-feedback").textContent = "";
    await this.refreshInvites();
    if (session.current.phase === "waiting") show("invite");
  }

  private async join(invite: Invite): Promise<void> {
    if (this.group) return this.joinGroup(invite);
    this.lastJoin = invite;
    this.identity = null;
    window.clearTimeout(this.inviteTimer);
    const session = this.newSession();
    // Who invited (no display names in the app: the host's id, shortened) and until when.
    const info = $("join-info");
    info.textContent = t("joinInfo", { host: shortPeerId(invite.hostPeerId), time: new Date(invite.expiresAt).toLocaleString() });
    info.hidden = false;
    show("chat");
    this.setChatEnabled(false);
    try {
      await session.join(invite.hostPeerId);
    } catch {
      // status already says why
    }
  }

  // ---- group rooms ---------------------------------------------------------------------------

  private newMesh(options: Pick<MeshSessionOptions, "createPeer" | "host" | "invite">, roomId: () => string): MeshSession {
    this.session?.close();
    this.session = null;
    this.disposeGroup();
    this.resetConversation();
    this.roomKey = null;
    $("verify").hidden = true;
    $("verify-changed").hidden = true;
    $("invite-notice").hidden = true;
    const settings = this.settings;
    // The same failover across ICE providers as a 1:1 chat: each TURN provider is checked before the
    // list is used (a member links to up to eleven others with it), the ones without a relay
    // candidate are left out, and the server's relay-only hint applies to every link.
    const ice = (this.groupIce = iceFailover(settings));
    const network = { get relayOnly(): boolean { return ice?.relayOnly === true; } };
    const mesh = new MeshSession({
      ...options,
      createPeer: (servers) => options.createPeer(servers, network),
      name: "",
      loadIce: ice
        ? async () => {
            await ice.load({ relayOnly: true });
            return [...ice.servers];
          }
        : async () => settings.iceServers,
    });
    mesh.events.on("status", (s) => this.onGroupStatus(s));
    mesh.events.on("authenticated", (a) => {
      // The verification code is the one of the invite handshake (joiner and host); member links prove the room key.
      if (a.inviteId !== MEMBER_INVITE_ID) this.onAuthenticated(a, roomId());
      if (document.body.dataset.view === "invite" && this.mesh === mesh) {
        show("chat");
        this.setChatEnabled(true);
      }
    });
    mesh.events.on("refused", (r) => {
      if (r.by === "us" && this.identity && r.reason !== "timeout") this.onRefused({ ok: false, reason: r.reason, by: r.by });
    });
    this.groupView = new GroupView(mesh);
    this.mesh = mesh;
    return mesh;
  }

  private disposeGroup(): void {
    this.mesh?.leave();
    this.mesh = null;
    this.groupIce?.dispose();
    this.groupIce = null;
    this.groupView?.dispose();
    this.groupView = null;
    $("group-invite").hidden = true;
    $("back-to-chat").hidden = true;
  }

  private async hostGroup(resume?: HostIdentity): Promise<void> {
    this.lastJoin = null;
    $("join-info").hidden = true;
    const book = await this.book();
    void this.takeHostLock();
    const token = resume?.token ?? newToken();
    this.identity = resume ?? null;
    const settings = this.settings;
    const identity = resume ? { id: resume.peerId, token } : { token };
    const mesh = this.newMesh(
      {
        createPeer: (ice, network) => createPeerJsPort(peerServerOptions(settings, location), ice, identity, network),
        host: async (peerId) => {
          this.identity ??= await book.startRoom(peerId, token);
          const id = this.identity;
          return { roomId: id.roomId, roomKey: id.roomKey, lookupInvite: async (inviteId) => (await this.book()).check(inviteId) };
        },
      },
      () => this.identity?.roomId ?? "",
    );
    try {
      await mesh.start();
    } catch {
      return; // the status says why
    }
    if (this.mesh !== mesh || !this.identity) return;
    await this.showLink(resume ? null : await book.issue(this.identity));
    $("invite-feedback").textContent = "";
    await this.refreshInvites();
    $("group-invite").hidden = false;
    $("back-to-chat").hidden = false;
    this.setChatEnabled(true);
    show("invite");
  }

  private async joinGroup(invite: Invite): Promise<void> {
    this.lastJoin = invite;
    this.identity = null;
    window.clearTimeout(this.inviteTimer);
    const settings = this.settings;
    const mesh = this.newMesh(
      {
        createPeer: (ice, network) => createPeerJsPort(peerServerOptions(settings, location), ice, undefined, network),
        invite: { roomId: invite.roomId, inviteId: invite.inviteId, secret: invite.secret, hostPeerId: invite.hostPeerId },
      },
      () => invite.roomId,
    );
    const info = $("join-info");
    info.textContent = t("joinInfo", { host: shortPeerId(invite.hostPeerId), time: new Date(invite.expiresAt).toLocaleString() });
    info.hidden = false;
    show("chat");
    this.setChatEnabled(false);
    try {
      await mesh.start();
    } catch {
      // the status says why
    }
  }

  private onGroupStatus(s: MeshPhase): void {
    const status = $("status");
    status.dataset.phase = s.phase;
    document.body.dataset.phase = s.phase;
    switch (s.phase) {
      case "starting":
        status.textContent = t("statusIce");
        break;
      case "signaling-retry":
        status.textContent = t("statusSignalingRetry", { seconds: (s.retryInMs / 1000).toFixed(1) });
        break;
      case "joining":
        status.textContent = t("statusPeer", { attempt: 1, total: 1 });
        break;
      case "ready":
        status.textContent = t("statusConnected");
        registerServiceWorker();
        if (performance.getEntriesByName("ghostchat:chat-ready").length === 0) performance.mark("ghostchat:chat-ready");
        if (this.lastJoin) {
          show("chat");
          this.setChatEnabled(true);
          $("composer").focus();
        }
        break;
      case "failed": {
        this.setChatEnabled(false);
        if (s.reason === "refused" && s.refusal) this.showError(refusalKey(s.refusal), null, s.refusal);
        else this.showError(s.reason === "server-unreachable" ? "errorServerUnreachable" : s.reason === "server-refused" ? "errorServerRefused" : "errorPeerUnreachable", null);
        break;
      }
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

  private onStatus(s: SessionStatus): void {
    performance.mark(`ghostchat:${s.phase}`);
    const status = $("status");
    status.dataset.phase = s.phase;
    status.textContent = statusText(s);
    document.body.dataset.phase = s.phase;
    switch (s.phase) {
      case "waiting":
        registerServiceWorker();
        break;
      case "connected":
        registerServiceWorker();
        // For bench/browser: invite opened (navigation start) → chat ready.
        if (performance.getEntriesByName("ghostchat:chat-ready").length === 0) performance.mark("ghostchat:chat-ready");
        show("chat");
        this.setChatEnabled(true);
        void this.acquireWakeLock();
        $("composer").focus();
        if (this.session) this.quality.start(this.session, this.ice?.providersByUrl);
        break;
      case "failed":
        this.quality.stop();
        this.setChatEnabled(false);
        this.releaseWakeLock();
        if (s.reason === "refused" && s.refusal) this.showError(refusalKey(s.refusal), null, s.refusal);
        else this.showFailure(classifyError({ source: "session", reason: s.reason }));
        break;
      case "peer-left":
        this.quality.stop();
        this.setChatEnabled(false);
        this.releaseWakeLock();
        this.typingIn.signal(false, Date.now());
        this.renderTyping();
        break;
      case "reconnecting":
        this.setChatEnabled(false);
        break;
      default:
        break;
    }
  }

  private showError(key: StringKey | null, text: string | null, refusal?: RefusalCode): void {
    registerServiceWorker();
    resetErrorView();
    $("error-title").textContent = t("errorTitle");
    const body = $("error-body");
    body.textContent = key ? t(key) : (text ?? "");
    if (refusal) body.dataset.refusal = refusal;
    else delete body.dataset.refusal;
    // A new link is what fixes a bad, expired or revoked invite; another try may fix the rest.
    $("error-retry").hidden = refusal ? ["unknown-invite", "expired", "revoked"].includes(refusal) : key !== null;
    show("error");
  }

  /** The error view for one kind of failure (ui/errors.ts), after the session's automatic retries. */
  private showFailure(kind: ErrorKind): void {
    registerServiceWorker();
    delete $("error-body").dataset.refusal;
    renderError(kind, {
      "retry-relay": () => {
        this.relayOnly = true;
        $("error-retry").click();
      },
      "new-invite": () => this.goHome(),
      settings: () => $("open-settings").click(),
      reload: () => location.reload(),
    }, { phase: "failed", relayOnly: this.relayOnly });
    show("error");
  }

  private goHome(): void {
    this.quality.stop();
    this.relayOnly = false;
    this.session?.close();
    this.session = null;
    this.ice?.dispose();
    this.ice = null;
    this.disposeGroup();
    this.lastJoin = null;
    window.clearTimeout(this.inviteTimer);
    $("join-info").hidden = true;
    this.resetConversation();
    this.releaseWakeLock();
    $("status").textContent = "";
    if (location.hash) history.replaceState(null, "", location.pathname);
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
      const signal = this.typingOut.input(Date.now(), composer.value.trim().length === 0);
      if (signal !== null) this.session?.send({ t: "typing", on: signal });
    });
    $("composer-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.sendDraft();
    });
    $("panic").addEventListener("click", () => this.panic());
    document.addEventListener("keydown", (e) => {
      if (e.ctrlKey && e.shiftKey && (e.key === "X" || e.key === "x")) {
        e.preventDefault();
        this.panic();
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
    if (checked.ok && this.groupView?.send(checked.text, ttl)) {
      composer.value = "";
      this.renderCounter();
      return;
    }
    if (!checked.ok || !this.session?.connected) return;
    const { message, wire } = this.conversation.compose(checked.text, Date.now(), ttl);
    this.session.send(wire);
    const stop = this.typingOut.stop();
    if (stop !== null) this.session.send({ t: "typing", on: false });
    composer.value = "";
    this.renderCounter();
    this.renderMessage(message);
    this.scheduleExpiry();
  }

  private onWire(wire: WireMessage): void {
    const now = Date.now();
    if (wire.t === "typing") {
      this.typingIn.signal(wire.on, now);
      this.renderTyping();
      return;
    }
    const result = this.conversation.apply(wire, now);
    for (const reply of result.reply) this.session?.send(reply);
    if (result.received) {
      this.typingIn.messageArrived();
      this.renderTyping();
      this.renderMessage(result.received);
      $("announcer").textContent = t("newMessageAnnounce", { text: result.received.text.slice(0, 140) });
      this.flushRead();
      this.scheduleExpiry();
    } else if (result.changed) {
      const ids = wire.t === "ack" ? [wire.id] : wire.t === "read" ? wire.ids : [];
      for (const m of this.conversation.messages) if (ids.includes(m.id)) this.updateState(m);
    }
  }

  /** Reports received messages as read while the page is visible. */
  private flushRead(): void {
    if (document.visibilityState !== "visible" || !this.session?.connected) return;
    const ids = this.conversation.takeUnreadReceived();
    if (ids.length > 0) this.session.send({ t: "read", ids });
  }

  private panic(): void {
    if (document.body.dataset.view !== "chat") return;
    this.conversation.clear();
    this.rendered.clear();
    $("messages").replaceChildren();
    $<HTMLTextAreaElement>("composer").value = "";
    this.renderCounter();
    window.clearTimeout(this.expiryTimer);
    $("announcer").textContent = t("panicDone");
    $("status").textContent = t("panicDone");
  }

  private resetConversation(): void {
    this.conversation = new Conversation();
    this.rendered.clear();
    $("messages").replaceChildren();
    window.clearTimeout(this.expiryTimer);
    this.typingIn.signal(false, 0);
    this.renderTyping();
  }

  private renderMessage(m: ChatMessage): void {
    const li = el("li", undefined, "msg");
    li.dataset.id = m.id;
    li.dataset.direction = m.direction;
    li.append(el("span", (m.direction === "out" ? t("you") : t("friend")) + ": ", "visually-hidden"));
    const text = el("p", undefined, "msg-text");
    renderSegments(text, formatMessage(m.text));
    li.append(text);
    const meta = el("div", undefined, "msg-meta");
    const time = el("time", TIME_FORMAT.format(m.sentAt));
    time.setAttribute("datetime", new Date(m.sentAt).toISOString());
    meta.append(time);
    if (m.ttlMs !== null) meta.append(el("span", t("selfDestructNote", { time: durationText(m.ttlMs) }), "msg-ttl"));
    if (m.direction === "out") meta.append(el("span", "", "msg-state"));
    li.append(meta);
    this.rendered.set(m.id, li);
    this.updateState(m);
    const list = $("messages");
    list.append(li);
    // Scroll on the next frame: reading scrollHeight now would force a layout on the send path.
    requestAnimationFrame(() => (list.scrollTop = list.scrollHeight));
  }

  private updateState(m: ChatMessage): void {
    const li = this.rendered.get(m.id);
    if (!li || li.dataset.state === m.state) return;
    li.dataset.state = m.state;
    const state = li.querySelector(".msg-state");
    if (state) state.textContent = t(m.state === "read" ? "stateRead" : m.state === "delivered" ? "stateDelivered" : "stateSending");
  }

  private scheduleExpiry(): void {
    window.clearTimeout(this.expiryTimer);
    const next = this.conversation.nextExpiry();
    if (next === null) return;
    this.expiryTimer = window.setTimeout(() => {
      for (const id of this.conversation.expire(Date.now())) {
        this.rendered.get(id)?.remove();
        this.rendered.delete(id);
      }
      this.scheduleExpiry();
    }, Math.max(0, next - Date.now()));
  }

  private renderTyping(): void {
    const now = Date.now();
    $("typing").hidden = !this.typingIn.isTyping(now);
    window.clearTimeout(this.typingTimer);
    const again = this.typingIn.recheckIn(now);
    if (again !== null) this.typingTimer = window.setTimeout(() => this.renderTyping(), again + 10);
  }

  private renderCounter(): void {
    const length = $<HTMLTextAreaElement>("composer").value.length;
    const counter = $("counter");
    const over = length - MAX_MESSAGE_LENGTH;
    counter.textContent = over > 0 ? t("tooLong", { over }) : t("counter", { count: length, max: MAX_MESSAGE_LENGTH });
    counter.dataset.over = String(over > 0);
    $<HTMLButtonElement>("send").disabled = over > 0 || !(this.session?.connected || this.groupView?.ready);
  }

  private setChatEnabled(enabled: boolean): void {
    $<HTMLTextAreaElement>("composer").disabled = !enabled;
    this.renderCounter();
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

  // ---- settings -----------------------------------------------------------------------------

  private wireSettings(): void {
    const dialog = $<HTMLDialogElement>("settings-dialog");
    const custom = $<HTMLInputElement>("set-custom");
    const syncDisabled = () => ($<HTMLFieldSetElement>("set-fields").disabled = !custom.checked);
    custom.addEventListener("change", syncDisabled);
    $("open-settings").addEventListener("click", () => {
      const form = settingsToForm(this.settings.custom ? this.settings : { ...this.settings, host: location.hostname, port: Number(location.port || (location.protocol === "https:" ? 443 : 80)), secure: location.protocol === "https:" });
      custom.checked = form.custom;
      $<HTMLInputElement>("set-host").value = form.host;
      $<HTMLInputElement>("set-port").value = form.port;
      $<HTMLInputElement>("set-path").value = form.path;
      $<HTMLInputElement>("set-key").value = form.key;
      $<HTMLInputElement>("set-secure").checked = form.secure;
      $<HTMLTextAreaElement>("set-ice").value = form.iceServers;
      $("settings-feedback").textContent = "";
      this.showFieldErrors({});
      syncDisabled();
      dialog.showModal();
    });
    $("settings-close").addEventListener("click", () => dialog.close());
    $("settings-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const result = validateSettings({
        custom: custom.checked,
        host: $<HTMLInputElement>("set-host").value,
        port: $<HTMLInputElement>("set-port").value,
        path: $<HTMLInputElement>("set-path").value,
        key: $<HTMLInputElement>("set-key").value,
        secure: $<HTMLInputElement>("set-secure").checked,
        iceServers: $<HTMLTextAreaElement>("set-ice").value,
      });
      if (!result.ok) {
        this.showFieldErrors(result.errors);
        return;
      }
      this.showFieldErrors({});
      this.settings = result.settings;
      saveSettings(localStorage, result.settings);
      $("settings-feedback").textContent = t("settingsSaved");
    });
  }

  private showFieldErrors(errors: Partial<Record<SettingsField, string>>): void {
    const fields: SettingsField[] = ["host", "port", "path", "key", "iceServers"];
    let first: HTMLElement | null = null;
    for (const f of fields) {
      const msg = errors[f];
      $(`err-${f}`).textContent = msg ? t(msg as StringKey) : "";
      const input = $(f === "iceServers" ? "set-ice" : `set-${f}`);
      if (msg) {
        input.setAttribute("aria-invalid", "true");
        first ??= input;
      } else input.removeAttribute("aria-invalid");
    }
    first?.focus();
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


function statusText(s: SessionStatus): string {
  switch (s.phase) {
    case "idle": return t("statusIdle");
    case "ice": return t("statusIce");
    case "signaling": return t("statusSignaling", { attempt: s.attempt, total: s.total });
    case "signaling-retry": return t("statusSignalingRetry", { seconds: (s.retryInMs / 1000).toFixed(1) });
    case "waiting": return t("waitingForPeer");
    case "connecting": return t("statusPeer", { attempt: s.attempt, total: s.total });
    case "connecting-retry": return t("statusPeerRetry", { seconds: (s.retryInMs / 1000).toFixed(1) });
    case "connected": return t("statusConnected");
    case "reconnecting": return t("statusReconnecting");
    case "server-lost": return t("statusServerLost");
    case "peer-left": return t("statusPeerLeft");
    case "failed": {
      if (s.reason === "refused" && s.refusal) return t("statusFailed", { reason: t(refusalKey(s.refusal)) });
      const reason: StringKey = s.reason === "server-unreachable" ? "errorServerUnreachable" : s.reason === "server-refused" ? "errorServerRefused" : s.reason === "id-taken" ? "errorIdTaken" : s.reason === "room-full" ? "errorRoomFull" : s.reason === "ice-failed" ? "error.ice-failed.status" : "errorPeerUnreachable";
      return t("statusFailed", { reason: t(reason) });
    }
  }
}

/**
 * The connection's fingerprints. Right when the channel opens a browser may not have published the
 * applied descriptions yet (seen in Chromium under load), so this asks again for up to 3 s.
 */
async function readFingerprints(channel: ChannelPort): Promise<ChannelFingerprints | null> {
  for (let i = 0; i < 60; i++) {
    const f = channel.fingerprints?.() ?? null;
    if (f) return f;
    await new Promise((r) => setTimeout(r, 50));
  }
  return null;
}

/** What the joiner reads when the handshake failed. */
function refusalKey(code: RefusalCode): StringKey {
  switch (code) {
    case "unknown-invite": return "refusedUnknown";
    case "expired": return "refusedExpired";
    case "revoked": return "refusedRevoked";
    case "auth-failed":
    case "replay": return "refusedIntercepted";
    case "busy": return "errorRoomFull";
    case "timeout": return "refusedTimeout";
    case "protocol": return "refusedProtocol";
  }
}

/** What the host reads when it refused (or was refused by) a joiner. */
function hostRefusalKey(code: RefusalCode): StringKey {
  switch (code) {
    case "unknown-invite": return "hostRefusedUnknown";
    case "expired": return "hostRefusedExpired";
    case "revoked": return "hostRefusedRevoked";
    case "auth-failed":
    case "replay": return "hostRefusedIntercepted";
    case "timeout": return "hostRefusedTimeout";
    case "busy":
    case "protocol": return "hostRefusedProtocol";
  }
}

/** A group room's invite link: the page address says "group" (the fragment stays the invite's own). */
function groupLink(link: string): string {
  const url = new URL(link);
  url.search = "?group";
  if (new URLSearchParams(location.search).get("test") === "1") url.search = "?group&test=1";
  return url.toString();
}

/** A host id for people: the first 8 characters, with an ellipsis when cut. */
function shortPeerId(id: string): string {
  return id.length > 8 ? `${id.slice(0, 8)}…` : id;
}

function durationText(ms: number): string {
  return ms >= 60_000 ? t("selfDestructMinutes", { n: ms / 60_000 }) : t("selfDestructSeconds", { n: ms / 1000 });
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
