import { t } from "../core/strings";
import { $ } from "./dom";

/** Chromium's install prompt event (not in TypeScript's DOM library). */
interface InstallPromptEvent extends Event {
  prompt(): Promise<void>;
  readonly userChoice: Promise<{ outcome: "accepted" | "dismissed" }>;
}

/** This browser already had a chat that connected: the moment to offer installing, not before. */
const CHATTED_KEY = "ghostchat:chatted";

/**
 * "Install GhostChat": offered on the start page once a first chat has connected — where the browser
 * offers installing (`beforeinstallprompt`), a button; on iPhone and iPad Safari, which has no such
 * event, how to add it to the Home Screen. Never while the app already runs installed.
 */
export class InstallOffer {
  private prompt: InstallPromptEvent | null = null;

  constructor() {
    window.addEventListener("beforeinstallprompt", (e) => {
      e.preventDefault(); // no mini-infobar at a random moment: the start page offers it
      this.prompt = e as InstallPromptEvent;
      this.render();
    });
    window.addEventListener("appinstalled", () => {
      this.prompt = null;
      this.render();
    });
    $("install").addEventListener("click", () => void this.install());
  }

  /** A chat connected: from now on the start page may offer installing. */
  chatted(): void {
    try {
      localStorage.setItem(CHATTED_KEY, "1");
    } catch {
      // storage refused: offered on this page only
    }
    this.render();
  }

  render(): void {
    const installed = matchMedia("(display-mode: standalone)").matches || (navigator as { standalone?: boolean }).standalone === true;
    const show = !installed && hasChatted();
    $("install").hidden = !(show && this.prompt);
    $("install-ios").hidden = !(show && !this.prompt && isIosSafari());
  }

  private async install(): Promise<void> {
    const prompt = this.prompt;
    if (!prompt) return;
    this.prompt = null;
    await prompt.prompt();
    const { outcome } = await prompt.userChoice;
    $("install-feedback").textContent = t(outcome === "accepted" ? "installDone" : "installLater");
    this.render();
  }
}

function hasChatted(): boolean {
  try {
    return localStorage.getItem(CHATTED_KEY) === "1";
  } catch {
    return false;
  }
}

/** Safari on iPhone or iPad (iPadOS reports a Mac with touch): installing is "Add to Home Screen" there. */
function isIosSafari(): boolean {
  const ua = navigator.userAgent;
  const ios = /iPhone|iPad|iPod/.test(ua) || (ua.includes("Macintosh") && navigator.maxTouchPoints > 1);
  return ios && /Safari/.test(ua) && !/CriOS|FxiOS|EdgiOS/.test(ua);
}
