import { t } from "../core/strings";
import { $ } from "./dom";

/** Where this browser remembers the notification choices. */
const NOTIFY_KEY = "ghostchat:notify";
const PREVIEWS_KEY = "ghostchat:notify-previews";
/** One notification per room at a time: a new message replaces the last one. */
const TAG = "ghostchat-message";

/**
 * What a person sees of new messages while the page is hidden: the unread count in the title and
 * the app badge, and (opt-in) a notification through the service worker — without the message's
 * text unless previews are on. Clicking it brings the room's tab back (src/sw/sw.js). All of it is
 * cleared when the page is visible again.
 */
export class Attention {
  private unread = 0;
  private readonly baseTitle = document.title;
  private readonly toggle = $<HTMLButtonElement>("notify");
  private readonly previews = $<HTMLInputElement>("notify-previews");

  constructor() {
    this.previews.checked = read(PREVIEWS_KEY);
    this.previews.addEventListener("change", () => write(PREVIEWS_KEY, this.previews.checked));
    this.render(read(NOTIFY_KEY) && permission() === "granted");
    this.toggle.addEventListener("click", () => void this.flip());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") void this.clear();
    });
  }

  /** A message from someone else arrived. */
  message(from: string, text: string): void {
    if (document.visibilityState === "visible") return;
    this.unread++;
    document.title = t("titleUnread", { count: this.unread, title: this.baseTitle });
    setBadge(this.unread);
    if (this.on && permission() === "granted") void this.notify(from, text);
  }

  private get on(): boolean {
    return this.toggle.getAttribute("aria-pressed") === "true";
  }

  private async flip(): Promise<void> {
    if (this.on) {
      write(NOTIFY_KEY, false);
      return this.render(false);
    }
    if (permission() === "unsupported") return this.say("notifyUnsupported");
    // Asked only now, on the person's own click, never on page load.
    const answer = permission() === "default" ? await Notification.requestPermission() : permission();
    if (answer !== "granted") return this.say("notifyDenied");
    write(NOTIFY_KEY, true);
    this.render(true);
  }

  private render(on: boolean): void {
    this.toggle.setAttribute("aria-pressed", String(on));
    this.toggle.textContent = t(on ? "notifyOn" : "notifyOff");
    this.previews.disabled = !on;
    $("notify-feedback").textContent = "";
  }

  private say(key: "notifyUnsupported" | "notifyDenied"): void {
    this.render(false);
    $("notify-feedback").textContent = t(key);
  }

  private async notify(from: string, text: string): Promise<void> {
    const title = t("notifyTitle", { from });
    const body = this.previews.checked ? text.slice(0, 200) : t("notifyBody");
    try {
      const registration = await navigator.serviceWorker.ready;
      // Through the worker that controls this tab, so the notification names this very tab (its
      // client id, src/sw/sw.js): a click focuses this room even when other GhostChat tabs are open.
      const worker = navigator.serviceWorker.controller;
      if (worker) worker.postMessage({ type: "notify", title, body, tag: TAG });
      else await registration.showNotification(title, { body, tag: TAG, data: { url: location.href.split("#")[0] } });
    } catch {
      // no worker or refused: the title and badge still tell
    }
  }

  private async clear(): Promise<void> {
    if (this.unread === 0) return;
    this.unread = 0;
    document.title = this.baseTitle;
    setBadge(0);
    try {
      const registration = await navigator.serviceWorker?.getRegistration();
      for (const n of (await registration?.getNotifications({ tag: TAG })) ?? []) n.close();
    } catch {
      // nothing shown
    }
  }
}

/** The little of `navigator` the app badge uses (the real one, or a test's fake). */
export interface BadgeNavigator {
  setAppBadge?(contents?: number): Promise<void>;
  clearAppBadge?(): Promise<void>;
}

/**
 * The unread count on the app's icon (Badging API: installed apps in Chromium, Home Screen apps in
 * Safari 16.4+), cleared at 0. Where the browser has no badge (Firefox, Safari in a tab) or refuses
 * it, nothing happens: the title still counts.
 */
export function setBadge(count: number, nav: BadgeNavigator = navigator): void {
  try {
    const done = count > 0 ? nav.setAppBadge?.(count) : nav.clearAppBadge?.();
    done?.catch(() => undefined);
  } catch {
    // a browser that throws instead of rejecting
  }
}

function permission(): NotificationPermission | "unsupported" {
  return "Notification" in window && "serviceWorker" in navigator ? Notification.permission : "unsupported";
}

function read(key: string): boolean {
  try {
    return localStorage.getItem(key) === "1";
  } catch {
    return false;
  }
}

function write(key: string, on: boolean): void {
  try {
    if (on) localStorage.setItem(key, "1");
    else localStorage.removeItem(key);
  } catch {
    // storage refused: the choice holds for this page
  }
}
