import {
  CallRoom,
  DEFAULT_SOURCE,
  MAX_CALL,
  adaptCall,
  bitrates,
  callFigures,
  initialAdapt,
  isSpeaking,
  lossBetween,
  mediaProblem,
  roomCallLinks,
  type AdaptState,
  type CallFigures,
  type CallRefusal,
  type CallView,
  type LinkReading,
  type VideoSource,
} from "../core/calls";
import type { MeshRoom, MeshSession } from "../core/room";
import { t } from "../core/strings";
import { el } from "./dom";
import { CALL_FIGURES_EVENT, type CallFiguresDetail, type CallLinkFigures } from "./quality";
import "./call.css";

/** Default camera: 640×360 keeps a 6-person mesh within a laptop's encoder and a home uplink. */
const CAMERA = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24 } };
const POLL_MS = 1000;

interface Tile {
  root: HTMLElement;
  video: HTMLVideoElement;
  caption: HTMLElement;
  last: CallFigures | null;
  adapt: AdaptState;
}

function button(id: string, text: string, className = "ghost"): HTMLButtonElement {
  const b = el("button", text, className) as HTMLButtonElement;
  b.type = "button";
  b.id = id;
  return b;
}

/**
 * The call panel of a room: start or join a voice or video call, mute, camera off, screen share,
 * devices, leave; a grid of the people in it with who is speaking and the call's figures. It renders
 * CallRoom's state and forwards intents; negotiation and the decisions are in core/calls.
 */
export class CallPanel {
  private readonly call: CallRoom;
  private readonly root = el("section", undefined, "call");
  private readonly status = el("p", undefined, "hint");
  private readonly notice = el("p", undefined, "notice");
  private readonly grid = el("div", undefined, "call-grid");
  private readonly startVoice = button("call-voice", t("call.startVoice"), "primary");
  private readonly startVideo = button("call-video", t("call.startVideo"));
  private readonly mute = button("call-mute", t("call.mute"));
  private readonly camera = button("call-camera", t("call.camera"));
  private readonly screen = button("call-screen", t("call.screen"));
  private readonly leave = button("call-leave", t("call.leave"), "danger");
  private readonly devices = el("details", undefined, "call-devices") as HTMLDetailsElement;
  private readonly micSelect = el("select") as HTMLSelectElement;
  private readonly camSelect = el("select") as HTMLSelectElement;
  private readonly speakerSelect = el("select") as HTMLSelectElement;
  private readonly tiles = new Map<string, Tile>();
  private readonly off: (() => void)[] = [];
  private mic: MediaStreamTrack | null = null;
  private cam: MediaStreamTrack | null = null;
  private shared: MediaStreamTrack | null = null;
  private micOn = true;
  private timer: number | undefined;
  private busy = false;

  constructor(
    private readonly session: MeshSession,
    private readonly room: MeshRoom,
    private readonly nameOf: (peer: string) => string,
    anchor: HTMLElement,
  ) {
    this.call = new CallRoom(roomCallLinks(session, room));
    this.root.id = "call";
    this.root.setAttribute("aria-labelledby", "call-title");
    const title = el("h2", t("call.heading"), "visually-hidden");
    title.id = "call-title";
    this.status.id = "call-status";
    this.status.setAttribute("role", "status");
    this.status.setAttribute("aria-live", "polite");
    this.notice.id = "call-notice";
    this.notice.setAttribute("role", "alert");
    this.notice.hidden = true;
    this.grid.id = "call-grid";
    this.grid.setAttribute("role", "group");
    this.grid.setAttribute("aria-label", t("call.heading"));
    this.grid.hidden = true;
    const bar = el("div", undefined, "call-bar");
    bar.append(this.startVoice, this.startVideo, this.mute, this.camera, this.screen, this.leave, this.devices);
    this.screen.hidden = typeof navigator.mediaDevices?.getDisplayMedia !== "function" || matchMedia("(pointer: coarse)").matches;
    const summary = el("summary", t("call.devices"));
    this.devices.append(summary, this.field("call-mic", t("call.microphone"), this.micSelect), this.field("call-cam", t("call.cameraDevice"), this.camSelect));
    if ("setSinkId" in HTMLMediaElement.prototype) this.devices.append(this.field("call-speaker", t("call.speaker"), this.speakerSelect));
    this.root.append(title, bar, this.status, this.notice, this.grid);
    anchor.after(this.root);

    this.startVoice.addEventListener("click", () => void this.join(false));
    this.startVideo.addEventListener("click", () => void this.join(true));
    this.leave.addEventListener("click", () => this.hangUp());
    this.mute.addEventListener("click", () => this.toggleMic());
    this.camera.addEventListener("click", () => void this.toggleCamera());
    this.screen.addEventListener("click", () => void this.toggleScreen());
    this.micSelect.addEventListener("change", () => void this.switchDevice("audio"));
    this.camSelect.addEventListener("change", () => void this.switchDevice("video"));
    this.speakerSelect.addEventListener("change", () => this.applySpeaker());
    this.devices.addEventListener("toggle", () => void (this.devices.open && this.listDevices()));
    this.off.push(
      this.call.events.on("state", (v) => this.render(v)),
      this.call.events.on("media", ({ peer, tracks }) => this.showRemote(peer, tracks)),
      this.call.events.on("refused", ({ from, reason }) => this.refused(from, reason)),
      room.events.on("roster", (members) => {
        this.call.prune(members.map((m) => m.id));
        this.renderStates();
      }),
    );
    this.render(this.call.view);
  }

  dispose(): void {
    for (const f of this.off.splice(0)) f();
    this.call.stop();
    this.stopLocal();
    window.clearInterval(this.timer);
    this.root.remove();
  }

  private field(id: string, label: string, select: HTMLSelectElement): HTMLElement {
    const wrap = el("div", undefined, "field");
    const l = el("label", label) as HTMLLabelElement;
    l.htmlFor = id;
    select.id = id;
    wrap.append(l, select);
    return wrap;
  }

  // ---- intents ----

  private async join(video: boolean): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.setNotice(null);
    try {
      if (this.call.view.members.length >= MAX_CALL) return this.setNotice(t("call.full", { max: MAX_CALL }));
      const stream = await this.acquire(true, video);
      if (!stream) return;
      this.mic = stream.getAudioTracks()[0] ?? null;
      this.cam = stream.getVideoTracks()[0] ?? null;
      this.micOn = true;
      if (this.call.join(this.mic, this.cam) === "full") {
        this.stopLocal();
        return this.setNotice(t("call.full", { max: MAX_CALL }));
      }
      this.tile("self").video.srcObject = new MediaStream(this.cam ? [this.cam] : []);
      this.timer = window.setInterval(() => void this.poll(), POLL_MS);
    } finally {
      this.busy = false;
    }
  }

  private hangUp(): void {
    this.call.leave();
    this.stopLocal();
    window.clearInterval(this.timer);
    this.timer = undefined;
    for (const peer of [...this.tiles.keys()]) this.removeTile(peer);
    this.render(this.call.view);
  }

  private toggleMic(): void {
    this.micOn = !this.micOn;
    this.send();
  }

  private async toggleCamera(): Promise<void> {
    if (this.cam) {
      this.cam.stop();
      this.cam = null;
    } else {
      const stream = await this.acquire(false, true);
      this.cam = stream?.getVideoTracks()[0] ?? null;
    }
    this.send();
  }

  private async toggleScreen(): Promise<void> {
    if (this.shared) return this.stopSharing();
    try {
      const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
      this.shared = stream.getVideoTracks()[0] ?? null;
      this.shared?.addEventListener("ended", () => this.stopSharing());
      this.send();
    } catch (e) {
      // NotAllowedError: the person closed the picker, nothing to say. Anything else: no screen to share.
      if (!(e instanceof DOMException && e.name === "NotAllowedError")) this.setNotice(t("call.screenFailed"));
    }
  }

  private stopSharing(): void {
    this.shared?.stop();
    this.shared = null;
    this.send();
  }

  private async switchDevice(kind: "audio" | "video"): Promise<void> {
    const select = kind === "audio" ? this.micSelect : this.camSelect;
    const constraints = { deviceId: { exact: select.value } };
    try {
      const stream = await navigator.mediaDevices.getUserMedia(kind === "audio" ? { audio: constraints } : { video: { ...CAMERA, ...constraints } });
      const track = stream.getTracks()[0] ?? null;
      if (kind === "audio") {
        this.mic?.stop();
        this.mic = track;
      } else {
        this.cam?.stop();
        this.cam = track;
      }
      this.send();
    } catch (e) {
      this.problem(e);
    }
  }

  private applySpeaker(): void {
    for (const tile of this.tiles.values()) {
      const v = tile.video as HTMLVideoElement & { setSinkId?: (id: string) => Promise<void> };
      void v.setSinkId?.(this.speakerSelect.value).catch(() => undefined);
    }
  }

  /** What this side sends now: the microphone unless muted, the shared screen or else the camera. */
  private send(): void {
    if (this.mic) this.mic.enabled = this.micOn;
    const video = this.shared ?? this.cam;
    this.call.setTracks(this.micOn ? this.mic : null, video);
    const self = this.tiles.get("self");
    if (self) self.video.srcObject = new MediaStream(video ? [video] : []);
    this.render(this.call.view);
  }

  private async acquire(audio: boolean, video: boolean): Promise<MediaStream | null> {
    const devices = navigator.mediaDevices as MediaDevices | undefined;
    if (!window.isSecureContext || !devices?.getUserMedia) {
      this.setNotice(t(`call.problem.${mediaProblem(null, window.isSecureContext, !!devices?.getUserMedia)}`));
      return null;
    }
    try {
      return await devices.getUserMedia({
        audio: audio ? (this.micSelect.value ? { deviceId: { exact: this.micSelect.value } } : true) : false,
        video: video ? (this.camSelect.value ? { ...CAMERA, deviceId: { exact: this.camSelect.value } } : CAMERA) : false,
      });
    } catch (e) {
      this.problem(e);
      return null;
    }
  }

  private problem(e: unknown): void {
    const name = e instanceof Error || e instanceof DOMException ? e.name : null;
    this.setNotice(t(`call.problem.${mediaProblem(name, window.isSecureContext, true)}`));
  }

  private async listDevices(): Promise<void> {
    const all = await navigator.mediaDevices.enumerateDevices().catch(() => [] as MediaDeviceInfo[]);
    const fill = (select: HTMLSelectElement, kind: MediaDeviceKind, current: string | undefined, fallback: string) => {
      const options = all
        .filter((d) => d.kind === kind)
        .map((d, i) => new Option(d.label || `${fallback} ${i + 1}`, d.deviceId, false, d.deviceId === current));
      select.replaceChildren(...(options.length ? options : [new Option(kind === "audiooutput" ? t("call.speakerDefault") : t("call.none"), "")]));
    };
    fill(this.micSelect, "audioinput", this.mic?.getSettings().deviceId, t("call.microphone"));
    fill(this.camSelect, "videoinput", this.cam?.getSettings().deviceId, t("call.cameraDevice"));
    fill(this.speakerSelect, "audiooutput", this.speakerSelect.value || undefined, t("call.speaker"));
  }

  private stopLocal(): void {
    for (const track of [this.mic, this.cam, this.shared]) track?.stop();
    this.mic = this.cam = this.shared = null;
  }

  // ---- rendering ----

  private setNotice(text: string | null, refusal?: { peer: string; reason: CallRefusal }): void {
    this.notice.textContent = text ?? "";
    this.notice.hidden = text === null;
    if (refusal) {
      this.notice.dataset.refusal = refusal.reason;
      this.notice.dataset.peer = refusal.peer;
    } else {
      delete this.notice.dataset.refusal;
      delete this.notice.dataset.peer;
    }
  }

  /**
   * Call signalling the engine refused. A description naming another certificate than the verified
   * one is told (someone may be in the middle); the rest (a stray offer, a busy connection) is not the
   * person's concern: the engine retries or ignores it, and the room goes on either way.
   */
  private refused(peer: string, reason: CallRefusal): void {
    if (reason === "fingerprint") this.setNotice(t("call.refusedFingerprint", { name: this.nameOf(peer) }), { peer, reason });
  }

  private render(v: CallView): void {
    const others = v.members.length;
    this.root.dataset.joined = String(v.joined);
    this.root.dataset.members = String(others);
    this.startVoice.hidden = this.startVideo.hidden = v.joined;
    this.startVoice.textContent = others > 0 ? t("call.joinVoice") : t("call.startVoice");
    this.startVideo.textContent = others > 0 ? t("call.joinVideo") : t("call.startVideo");
    for (const b of [this.mute, this.camera, this.leave]) b.hidden = !v.joined;
    this.devices.hidden = !v.joined;
    this.screen.hidden = !v.joined || typeof navigator.mediaDevices?.getDisplayMedia !== "function" || matchMedia("(pointer: coarse)").matches;
    this.mute.setAttribute("aria-pressed", String(v.joined && !this.micOn));
    this.camera.setAttribute("aria-pressed", String(v.joined && !this.cam));
    this.screen.setAttribute("aria-pressed", String(this.shared !== null));
    this.screen.textContent = this.shared ? t("call.screenStop") : t("call.screen");
    this.grid.hidden = !v.joined;
    this.status.textContent = v.joined
      ? others > 0
        ? t("call.inCall", { count: v.members.map((m) => this.nameOf(m.peer)).join(", ") })
        : t("call.alone")
      : others >= MAX_CALL
        ? t("call.inProgressFull", { count: others })
        : others > 0
          ? t("call.inProgress", { count: others })
          : "";
    this.status.title = v.joined ? t("call.verified") : "";
    if (v.joined) {
      const self = this.tile("self");
      self.root.dataset.mic = String(this.micOn && !!this.mic);
      for (const m of v.members) {
        const tile = this.tile(m.peer);
        tile.root.dataset.mic = String(m.mic);
        tile.root.dataset.cam = String(m.cam);
      }
      for (const peer of [...this.tiles.keys()]) if (peer !== "self" && !v.members.some((m) => m.peer === peer)) this.removeTile(peer);
    }
    this.renderStates();
  }

  /** Members the chat shows as reconnecting are shown so in the grid too (same links, same recovery). */
  private renderStates(): void {
    const states = new Map(this.room.members().map((m) => [m.id, m.state]));
    for (const [peer, tile] of this.tiles) {
      if (peer === "self") continue;
      const reconnecting = states.get(peer) === "reconnecting" || states.get(peer) === "unreachable";
      tile.root.dataset.state = reconnecting ? "reconnecting" : "up";
      // Who is speaking in words too, not only by the tile's border colour.
      tile.caption.textContent = [
        this.nameOf(peer),
        tile.root.dataset.mic === "false" ? t("call.muted") : "",
        tile.root.dataset.speaking === "true" ? t("call.speaking") : "",
        reconnecting ? t("call.reconnecting") : "",
      ]
        .filter(Boolean)
        .join(" · ");
    }
    const self = this.tiles.get("self");
    if (self) self.caption.textContent = [t("call.you"), this.micOn ? "" : t("call.muted")].filter(Boolean).join(" · ");
  }

  private tile(peer: string): Tile {
    let tile = this.tiles.get(peer);
    if (tile) return tile;
    const root = el("figure", undefined, "call-tile");
    root.dataset.peer = peer;
    const video = el("video") as HTMLVideoElement;
    video.autoplay = true;
    video.playsInline = true;
    video.muted = peer === "self"; // never play our own microphone back
    const caption = el("figcaption");
    root.append(video, caption);
    this.grid.append(root);
    tile = { root, video, caption, last: null, adapt: initialAdapt() };
    this.tiles.set(peer, tile);
    return tile;
  }

  private removeTile(peer: string): void {
    const tile = this.tiles.get(peer);
    if (!tile) return;
    if (peer !== "self") this.publish(peer, null);
    tile.video.srcObject = null;
    tile.root.remove();
    this.tiles.delete(peer);
  }

  private showRemote(peer: string, tracks: MediaStreamTrack[]): void {
    if (tracks.length === 0 || !this.call.view.joined) return;
    // Negotiated with the verified certificate since: the refusal is over.
    if (this.notice.dataset.peer === peer) this.setNotice(null);
    const tile = this.tile(peer);
    tile.video.srcObject = new MediaStream(tracks);
    if (this.speakerSelect.value) this.applySpeaker();
    void tile.video.play().catch(() => undefined);
    this.renderStates();
  }

  /** The figures of the call with `peer` go to that member's quality indicator (ui/room.ts listens). */
  private publish(peer: string, figures: CallLinkFigures | null): void {
    this.root.dispatchEvent(new CustomEvent<CallFiguresDetail>(CALL_FIGURES_EVENT, { bubbles: true, detail: { peer, figures } }));
  }

  /** What this side's video sends now (the screen or the camera), for the resolution the bitrate allows. */
  private videoSource(): VideoSource | null {
    const s = (this.shared ?? this.cam)?.getSettings();
    return s?.width && s.height ? { width: s.width, height: s.height, fps: s.frameRate ?? DEFAULT_SOURCE.fps } : null;
  }

  /**
   * Once a second: who is speaking, the figures of each link, and what each video sender may use
   * (core/calls/adapt: each link's measured capacity, the uplink's, and the number of receivers).
   */
  private async poll(): Promise<void> {
    const readings = new Map<string, LinkReading>();
    for (const m of this.call.view.members) {
      const tile = this.tiles.get(m.peer);
      const report = await this.session.stats(m.peer).catch(() => null);
      if (!tile || !report) continue;
      const now = callFigures(report);
      const speaking = String(isSpeaking(now));
      if (tile.root.dataset.speaking !== speaking) {
        tile.root.dataset.speaking = speaking;
        this.renderStates();
      }
      tile.root.dataset.framesDecoded = String(now.framesDecoded);
      const prev = tile.last;
      tile.last = now;
      if (!prev) continue;
      const rates = bitrates(prev, now);
      tile.root.dataset.sendBps = String(Math.round(rates.sendBps));
      tile.root.dataset.receiveBps = String(Math.round(rates.receiveBps));
      this.publish(m.peer, {
        ...rates,
        loss: lossBetween(prev, now),
        jitterMs: now.jitterMs,
        width: now.width,
        height: now.height,
        fps: now.framesPerSecond,
      });
      readings.set(m.peer, { availableBps: now.availableBps, rttMs: now.rttMs, loss: now.sentLoss });
    }
    const states = new Map([...this.tiles].map(([peer, tile]) => [peer, tile.adapt] as const));
    let pausedFor: string | null = null;
    for (const [peer, step] of adaptCall(states, readings, this.videoSource())) {
      const tile = this.tiles.get(peer);
      if (!tile) continue;
      tile.adapt = step.state;
      tile.root.dataset.capacityBps = String(Math.round(step.capacityBps));
      tile.root.dataset.maxBitrate = String(step.limit.maxBitrate);
      tile.root.dataset.scale = String(step.limit.scaleResolutionDownBy);
      if (!step.limit.active) pausedFor = this.nameOf(peer);
      await this.call
        .port(peer)
        ?.limitVideo?.(step.limit)
        .catch(() => undefined);
    }
    this.root.dataset.videoPaused = String(pausedFor !== null);
    if (pausedFor !== null) this.setNotice(t("call.videoPaused", { name: pausedFor }));
    else if (this.notice.textContent?.startsWith(t("call.videoPaused", { name: "" }).slice(0, 12))) this.setNotice(null);
  }
}
