import { t } from "../core/strings";
import { $ } from "./dom";

/** The app's screens: one `<section id="view-…">` each, one shown at a time. */
export type View = "home" | "invite" | "chat" | "error" | "nowebrtc";
const VIEWS: View[] = ["home", "invite", "chat", "error", "nowebrtc"];

/** Shows one screen; `body[data-view]` names it (styles, e2e). */
export function show(view: View): void {
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== view;
  document.body.dataset.view = view;
}

export function shown(): View | undefined {
  return document.body.dataset.view as View | undefined;
}

let swRegistered = false;

/**
 * Registered once the page is idle on a screen (home, invite, chat, error), not while it connects:
 * the worker's install fetches the whole app shell and would compete with the connection.
 */
export function registerServiceWorker(): void {
  if (swRegistered || !("serviceWorker" in navigator) || import.meta.env.DEV) return;
  swRegistered = true;
  void navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => undefined);
}

/** The offline banner, and the status line off a room. */
export function watchOnline(): void {
  const update = () => {
    $("offline").hidden = navigator.onLine;
    document.body.dataset.online = String(navigator.onLine);
    if (!navigator.onLine && shown() !== "chat") $("status").textContent = t("statusOffline");
  };
  window.addEventListener("online", update);
  window.addEventListener("offline", update);
  update();
}

/**
 * The height the page can use above an on-screen keyboard, as `--visible-height` (the chat view
 * uses it): browsers that shrink only the visual viewport when the keyboard opens would otherwise
 * leave the composer under it.
 */
const COMPACT_BELOW_PX = 480;

export function followVisualViewport(): void {
  const vv = window.visualViewport;
  if (!vv) return;
  const update = () => {
    const height = Math.round(vv.height * vv.scale);
    document.documentElement.style.setProperty("--visible-height", `${height}px`);
    // Little room (a keyboard open on a phone, landscape): the chat keeps only messages and composer.
    document.body.dataset.compact = String(height < COMPACT_BELOW_PX);
  };
  vv.addEventListener("resize", update);
  update();
}
