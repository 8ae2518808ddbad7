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
 * offers installing (`beforeinstallprompt`), a button; on iPhone and iPad, where WebKit has no such
 * event, how to add it to the Home Screen (`installPlatform`). Never while the app already runs installed.
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
    const choice = installChoice({ ...installPlatform(), prompt: this.prompt !== null, chatted: hasChatted() });
    $("install").hidden = choice !== "prompt";
    $("install-ios").hidden = choice !== "home-screen";
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

/** What the start page knows about installing here (see `installPlatform`), and whether a chat connected yet. */
export interface InstallState {
  /** The app already runs installed (standalone). */
  readonly installed: boolean;
  /** Installing is "Add to Home Screen" from the share menu: WebKit on iPhone and iPad. */
  readonly homeScreen: boolean;
  /** The browser offered installing (`beforeinstallprompt`) and the offer is held. */
  readonly prompt: boolean;
  readonly chatted: boolean;
}

/**
 * What the start page offers: the browser's own install prompt where it gave one, else on iPhone
 * and iPad the words for "Add to Home Screen"; nothing before a first chat or when installed.
 */
export function installChoice(s: InstallState): "prompt" | "home-screen" | null {
  if (s.installed || !s.chatted) return null;
  if (s.prompt) return "prompt";
  return s.homeScreen ? "home-screen" : null;
}

/** The parts of the page `installPlatform` reads (the real ones, or a test's fakes). */
export interface InstallEnv {
  readonly window: object & { matchMedia(query: string): { matches: boolean } };
  readonly navigator: { readonly maxTouchPoints: number; readonly standalone?: boolean };
}

/**
 * Told by features, not by the browser's name: WebKit on iPhone and iPad has `navigator.standalone`
 * (no other engine has it; it is true in an app added to the Home Screen) and no
 * `beforeinstallprompt`; a touch screen tells it from Safari on a Mac. Every browser on iOS is
 * WebKit, and since iOS 16.4 each can add to the Home Screen from its share menu.
 */
export function installPlatform(env: InstallEnv = { window, navigator: navigator as InstallEnv["navigator"] }): Pick<InstallState, "installed" | "homeScreen"> {
  const webkitHomeScreen = "standalone" in env.navigator;
  const installed = env.window.matchMedia("(display-mode: standalone)").matches || env.navigator.standalone === true;
  const homeScreen = webkitHomeScreen && !("onbeforeinstallprompt" in env.window) && env.navigator.maxTouchPoints > 0;
  return { installed, homeScreen };
}
