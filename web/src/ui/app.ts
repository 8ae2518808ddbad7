import { sharedDraft } from "../core/delivery";
import { classifyError } from "../core/errors";
import { parseInvite } from "../core/invites";
import { loadSettings, type ServerSettings } from "../core/settings";
import { t } from "../core/strings";
import { $, applyStrings } from "./dom";
import { HomeView } from "./home";
import { InstallOffer } from "./install";
import type { RoomKind } from "./invites";
import { RoomPage, keepJoined, keptJoined, type AppObserver } from "./room-page";
import { wireSettings } from "./settings";
import { followVisualViewport, registerServiceWorker, show, watchOnline } from "./shell";
import { FieldData } from "./telemetry";

export type { AppObserver } from "./room-page";

/**
 * The app: a router over the address and the views (ui/home.ts, ui/room-page.ts with ui/room.ts and
 * ui/invites.ts, ui/settings.ts, ui/errors.ts). The UI renders state and forwards intents; the logic
 * lives in core/.
 */
export function startApp(observer: AppObserver = {}): void {
  applyStrings();
  $("qr").setAttribute("aria-label", t("qrLabel"));
  watchOnline();
  followVisualViewport();
  if (typeof RTCPeerConnection === "undefined") {
    show("nowebrtc");
    return;
  }
  // Field data (opt-in): asks once when the server has it on, and watches rooms through the observer.
  const field = new FieldData();
  const app = new App(field.observer(observer));
  void field.start();
  void app.takeShared();
  app.route();
  window.addEventListener("hashchange", () => app.route());
}

/** The cache the service worker keeps shared text in until the page takes it (src/sw/sw.js). */
const SHARE_CACHE = "ghostchat-share";

class App {
  private settings: ServerSettings = loadSettings(localStorage);
  private readonly home = new HomeView((kind) => this.newRoom(kind));
  private readonly rooms: RoomPage;
  private readonly install = new InstallOffer();
  private resumeChecked = false;

  constructor(observer: AppObserver) {
    this.rooms = new RoomPage(
      observer,
      () => this.settings,
      () => this.goHome(),
      () => this.install.chatted(),
    );
    wireSettings(
      () => this.settings,
      (s) => (this.settings = s),
    );
    $("error-home").addEventListener("click", () => this.goHome());
    $("leave").addEventListener("click", () => this.goHome());
  }

  /**
   * Something shared from another app: the service worker kept it (src/sw/sw.js, the manifest's
   * share target) and opened "/?shared". It waits in the composer for the next room; the marker
   * leaves the address and the kept copy is deleted.
   */
  async takeShared(): Promise<void> {
    const url = new URL(location.href);
    if (!url.searchParams.has("shared")) return;
    url.searchParams.delete("shared");
    history.replaceState(null, "", url);
    let kept = "";
    try {
      const cache = await caches.open(SHARE_CACHE);
      kept = (await (await cache.match("/shared"))?.text()) ?? "";
      await cache.delete("/shared");
    } catch {
      // no cache (private mode): nothing was kept
    }
    const draft = sharedDraft(new URLSearchParams(kept));
    if (draft === null) return;
    this.rooms.composer.prefill(draft);
    $("shared-note").hidden = false;
  }

  /** `#join=…` joins; a tab that joined rejoins after a reload; otherwise home (or the hosted room, resumed). */
  route(): void {
    const hash = location.hash;
    if (hash.startsWith("#join=")) {
      const parsed = parseInvite(hash, Date.now());
      // The secret leaves the address bar (history, synced tabs) once read; this tab alone keeps it
      // (sessionStorage) so that a reload rejoins, until Leave or panic.
      history.replaceState(null, "", location.pathname + location.search);
      if (!parsed.ok) {
        this.rooms.failed(classifyError({ source: "invite", error: parsed.error }));
        return;
      }
      keepJoined(hash);
      void this.rooms.join(parsed.invite);
      return;
    }
    const joined = keptJoined();
    if (joined && !this.rooms.open) {
      const parsed = parseInvite(joined, Date.now());
      if (parsed.ok) {
        void this.rooms.join(parsed.invite);
        return;
      }
      keepJoined(null);
    }
    if (this.rooms.open) return;
    this.home.show(false);
    this.install.render();
    registerServiceWorker();
    if (this.resumeChecked) return;
    this.resumeChecked = true;
    void this.rooms.invites.resumable().then((identity) => {
      // After a reload: host the same room with the same peer id while an invite is alive.
      if (identity && !this.rooms.open && !location.hash.startsWith("#join=")) void this.rooms.host(identity);
    });
  }

  /** A new room of `kind`: the address says which (`?group`), so a reload keeps it. */
  private newRoom(kind: RoomKind): void {
    const url = new URL(location.href);
    if (kind === "group") url.searchParams.set("group", "");
    else url.searchParams.delete("group");
    url.hash = "";
    history.replaceState(null, "", url);
    this.rooms.kind = kind;
    void this.rooms.host();
  }

  private goHome(): void {
    keepJoined(null);
    this.rooms.close();
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
    this.home.show(true);
    this.install.render();
  }
}
