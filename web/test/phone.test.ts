// The phone- and WebKit-specific paths of the UI (issue 20), with fakes for what iOS Safari and
// Android Chrome do that our machines' Chromium and Firefox cannot show: channels closed in the
// background without a close event, no Wake Lock, no install prompt, no share sheet, no app badge.
import { describe, expect, it } from "vitest";
import type { ChannelPort, PeerPort } from "../src/core/connection";
import { setBadge } from "../src/ui/attention";
import { installChoice, installPlatform, type InstallEnv } from "../src/ui/install";
import { ChannelCheck, followChannels, watchComeBack } from "../src/ui/resume";
import { canShare, shareOrCopy } from "../src/ui/share";
import { WakeLock, type ScreenLock, type WakeLockEnv } from "../src/ui/wake-lock";

// ---- data channels after the background ------------------------------------------------------------

/** A channel whose readyState the test sets; close() fires the close handlers once, as PeerJS does. */
function fakeChannel(remoteId: string, withState = true) {
  let state: RTCDataChannelState = "open";
  const closeHandlers: (() => void)[] = [];
  let closed = 0;
  const channel: ChannelPort = {
    remoteId,
    send: () => undefined,
    onData: () => undefined,
    onClose: (h) => void closeHandlers.push(h),
    onIceState: () => undefined,
    close: () => {
      closed++;
      if (closed === 1) for (const h of closeHandlers) h();
    },
    ...(withState ? { readyState: () => state } : {}),
  };
  return {
    channel,
    setState: (s: RTCDataChannelState) => (state = s),
    get closed() {
      return closed;
    },
  };
}

function fakePeer() {
  let incoming: ((c: ChannelPort) => void) | null = null;
  const dialled = new Map<string, ChannelPort>();
  const port: PeerPort = {
    open: async () => "me",
    connect: async (id) => dialled.get(id)!,
    onIncoming: (h) => void (incoming = h),
    onDisconnected: () => undefined,
    reconnect: async () => undefined,
    destroy: () => undefined,
  };
  return { port, dialled, arrive: (c: ChannelPort) => incoming?.(c) };
}

describe("ChannelCheck: data channels after the background (WebKit)", () => {
  it("channelClosedInTheBackgroundWithoutAnEvent_ClosedOnComeBack_SessionHearsIt", async () => {
    const check = new ChannelCheck();
    const peer = fakePeer();
    const a = fakeChannel("a");
    const b = fakeChannel("b");
    peer.dialled.set("a", a.channel);
    const wrapped = check.wrap(peer.port);
    const heard: string[] = [];
    wrapped.onIncoming((c) => c.onClose(() => heard.push(`closed ${c.remoteId}`)));
    (await wrapped.connect("a")).onClose(() => heard.push("closed a"));
    peer.arrive(b.channel);
    expect(check.size).toBe(2);

    // All open: nothing is touched.
    expect(check.check()).toBe(0);
    expect(a.closed + b.closed).toBe(0);

    // WebKit closed b's channel while the page was hidden and told nobody.
    b.setState("closed");
    expect(check.check()).toBe(1);
    expect(b.closed).toBe(1);
    expect(a.closed).toBe(0);
    expect(heard).toEqual(["closed b"]); // the session's close handler: it drops the link and redials
    expect(check.size).toBe(1);
    expect(check.check()).toBe(0); // once
  });

  it("closingOrClosedLikewise_ChannelsThatCannotTell_LeftToTheSession", async () => {
    const check = new ChannelCheck();
    const peer = fakePeer();
    const closing = fakeChannel("x");
    const silent = fakeChannel("y", false);
    const wrapped = check.wrap(peer.port);
    wrapped.onIncoming(() => undefined);
    peer.arrive(closing.channel);
    peer.arrive(silent.channel);
    closing.setState("closing");
    expect(check.check()).toBe(1);
    expect(closing.closed).toBe(1);
    expect(silent.closed).toBe(0);
    expect(check.size).toBe(1);
  });

  it("aChannelClosedTheOrdinaryWay_Forgotten", async () => {
    const check = new ChannelCheck();
    const peer = fakePeer();
    const c = fakeChannel("a");
    peer.dialled.set("a", c.channel);
    const channel = await check.wrap(peer.port).connect("a");
    channel.close();
    expect(check.size).toBe(0);
    c.setState("closed");
    expect(check.check()).toBe(0);
  });

  it("theWrappedPeer_PassesEverythingElseThrough", async () => {
    const check = new ChannelCheck();
    const calls: string[] = [];
    const base = fakePeer().port;
    const port: PeerPort = {
      ...base,
      reconnect: async () => void calls.push("reconnect"),
      destroy: () => calls.push("destroy"),
      refresh: () => calls.push("refresh"),
    };
    const wrapped = check.wrap(port);
    expect(await wrapped.open()).toBe("me");
    await wrapped.reconnect();
    wrapped.refresh?.();
    wrapped.destroy();
    expect(calls).toEqual(["reconnect", "refresh", "destroy"]);
    expect(check.wrap(base).refresh).toBeUndefined(); // no refresh where the peer has none
  });
});

describe("followChannels: a peer whose channels are looked at first", () => {
  it("refused_Closed_ADialFails_AnIncomingOneIsNotDelivered", async () => {
    const peer = fakePeer();
    const dialled = fakeChannel("a");
    const incoming = fakeChannel("b");
    peer.dialled.set("a", dialled.channel);
    const port = followChannels(peer.port, () => null);
    await expect(port.connect("a")).rejects.toMatchObject({ name: "PeerError", kind: "network" });
    const delivered: string[] = [];
    port.onIncoming((c) => delivered.push(c.remoteId));
    peer.arrive(incoming.channel);
    expect([dialled.closed, incoming.closed, delivered.length]).toEqual([1, 1, 0]);
  });
});

describe("watchComeBack: what counts as the page coming back", () => {
  function targets() {
    const doc = Object.assign(new EventTarget(), { visibilityState: "hidden" as DocumentVisibilityState });
    return { window: new EventTarget(), document: doc };
  }
  const pageshow = (persisted: boolean) => Object.assign(new Event("pageshow"), { persisted });

  it("shownUnfrozenRestoredOnline_EachCallsBack_HiddenAndAFreshLoadDoNot", () => {
    const t = targets();
    const calls: boolean[] = [];
    const stop = watchComeBack((networkChanged) => calls.push(networkChanged), t);
    t.document.dispatchEvent(new Event("visibilitychange")); // hidden: going away, not coming back
    t.window.dispatchEvent(pageshow(false)); // the first load
    expect(calls).toEqual([]);
    t.document.visibilityState = "visible";
    t.document.dispatchEvent(new Event("visibilitychange"));
    t.document.dispatchEvent(new Event("resume")); // Chromium unfroze the page
    t.window.dispatchEvent(pageshow(true)); // back/forward cache
    t.window.dispatchEvent(new Event("online"));
    expect(calls).toEqual([false, false, false, true]);
    stop();
    t.window.dispatchEvent(new Event("online"));
    expect(calls).toHaveLength(4);
  });
});

// ---- Wake Lock: absent on older iOS, refused, released by the system ---------------------------------

function fakeLockEnv(opts: { api?: "none" | "grant" | "refuse" | "manual"; visible?: boolean } = {}) {
  const requests: string[] = [];
  const sentinels: { released: boolean; fire: () => void }[] = [];
  let settle: ((s: ScreenLock) => void) | null = null;
  const make = (): ScreenLock => {
    const listeners: (() => void)[] = [];
    const s = {
      released: false,
      fire: () => listeners.forEach((l) => l()),
    };
    sentinels.push(s);
    return {
      addEventListener: (_t, l) => void listeners.push(l),
      release: async () => {
        s.released = true;
        s.fire();
      },
    };
  };
  const api = opts.api ?? "grant";
  const env: { -readonly [K in keyof WakeLockEnv]: WakeLockEnv[K] } = {
    navigator:
      api === "none"
        ? {}
        : {
            wakeLock: {
              request: (type) => {
                requests.push(type);
                if (api === "refuse") return Promise.reject(new DOMException("battery saver", "NotAllowedError"));
                if (api === "manual") return new Promise<ScreenLock>((r) => (settle = r));
                return Promise.resolve(make());
              },
            },
          },
    document: { visibilityState: opts.visible === false ? "hidden" : "visible" },
  };
  return { env, requests, sentinels, grant: () => settle?.(make()) };
}

describe("WakeLock: the screen stays on where the browser can, nothing breaks where it cannot", () => {
  it("noWakeLockApi_OlderIos_AcquireIsAQuietNoOp", async () => {
    const { env } = fakeLockEnv({ api: "none" });
    const lock = new WakeLock(env);
    expect(lock.supported).toBe(false);
    await expect(lock.acquire()).resolves.toBeUndefined();
    expect(lock.held).toBe(false);
    expect(() => lock.release()).not.toThrow();
  });

  it("refused_NoError_NotHeld_AskedAgainNextTime", async () => {
    const f = fakeLockEnv({ api: "refuse" });
    const lock = new WakeLock(f.env);
    await expect(lock.acquire()).resolves.toBeUndefined();
    expect(lock.held).toBe(false);
    await lock.acquire();
    expect(f.requests).toEqual(["screen", "screen"]);
  });

  it("granted_HeldOnce_ReleasedByTheSystemWhenHidden_TakenAgainWhenShown", async () => {
    const f = fakeLockEnv();
    const lock = new WakeLock(f.env);
    await lock.acquire();
    await lock.acquire();
    expect(f.requests).toEqual(["screen"]);
    expect(lock.held).toBe(true);
    f.sentinels[0]!.fire(); // the page was hidden: the system let go
    expect(lock.held).toBe(false);
    await lock.acquire();
    expect(f.requests).toHaveLength(2);
    expect(lock.held).toBe(true);
    lock.release();
    expect(f.sentinels[1]!.released).toBe(true);
    expect(lock.held).toBe(false);
  });

  it("hiddenPage_NotAsked", async () => {
    const f = fakeLockEnv({ visible: false });
    await new WakeLock(f.env).acquire();
    expect(f.requests).toEqual([]);
  });

  it("roomLeftWhileTheRequestWasPending_TheLateLockIsGivenBack", async () => {
    const f = fakeLockEnv({ api: "manual" });
    const lock = new WakeLock(f.env);
    const pending = lock.acquire();
    void lock.acquire(); // a second call while the first waits asks nothing more
    lock.release();
    f.grant();
    await pending;
    expect(f.requests).toEqual(["screen"]);
    expect(lock.held).toBe(false);
    expect(f.sentinels[0]!.released).toBe(true);
  });
});

// ---- install: the browser's prompt, or Add to Home Screen on iPhone and iPad -------------------------

function installEnv(opts: { beforeInstallPrompt: boolean; standalone?: boolean; touch: number; displayStandalone?: boolean }): InstallEnv {
  const win: InstallEnv["window"] & { onbeforeinstallprompt?: null } = { matchMedia: () => ({ matches: opts.displayStandalone === true }) };
  if (opts.beforeInstallPrompt) win.onbeforeinstallprompt = null;
  const nav: { maxTouchPoints: number; standalone?: boolean } = { maxTouchPoints: opts.touch };
  if (opts.standalone !== undefined) nav.standalone = opts.standalone;
  return { window: win, navigator: nav };
}

describe("install: detected by features, not by the browser's name", () => {
  it("iphoneOrIpad_NoInstallPrompt_StandaloneProperty_Touch_HomeScreenGuidance", () => {
    expect(installPlatform(installEnv({ beforeInstallPrompt: false, standalone: false, touch: 5 }))).toEqual({ installed: false, homeScreen: true });
  });

  it("addedToTheHomeScreen_Installed_NothingOffered", () => {
    const p = installPlatform(installEnv({ beforeInstallPrompt: false, standalone: true, touch: 5 }));
    expect(p.installed).toBe(true);
    expect(installChoice({ ...p, prompt: false, chatted: true })).toBeNull();
  });

  it("androidChrome_HasThePromptEvent_NoGuidance; macSafari_NoTouch_NoGuidance; firefox_Neither", () => {
    expect(installPlatform(installEnv({ beforeInstallPrompt: true, touch: 5 })).homeScreen).toBe(false);
    expect(installPlatform(installEnv({ beforeInstallPrompt: false, standalone: false, touch: 0 })).homeScreen).toBe(false);
    expect(installPlatform(installEnv({ beforeInstallPrompt: false, touch: 5 })).homeScreen).toBe(false);
    expect(installPlatform(installEnv({ beforeInstallPrompt: true, touch: 0, displayStandalone: true })).installed).toBe(true);
  });

  it("choice_NothingBeforeAFirstChat_ThePromptWhereGiven_ElseTheGuidance", () => {
    const ios = { installed: false, homeScreen: true };
    expect(installChoice({ ...ios, prompt: false, chatted: false })).toBeNull();
    expect(installChoice({ ...ios, prompt: false, chatted: true })).toBe("home-screen");
    const chrome = { installed: false, homeScreen: false };
    expect(installChoice({ ...chrome, prompt: false, chatted: true })).toBeNull();
    expect(installChoice({ ...chrome, prompt: true, chatted: true })).toBe("prompt");
    expect(installChoice({ ...chrome, prompt: true, chatted: false })).toBeNull();
  });
});

// ---- sharing: no share sheet, copy instead ----------------------------------------------------------

describe("shareOrCopy: the share sheet where there is one, copying where not", () => {
  const data = { title: "GhostChat", text: "Join me", url: "https://chat.example/#join=x" };
  const copier = (ok = true) => {
    const calls: number[] = [];
    return { calls, copy: async () => (calls.push(1), ok) };
  };

  it("noShareApi_DesktopFirefoxOrChromiumOnLinux_Copied", async () => {
    const c = copier();
    expect(canShare(data, {})).toBe(false);
    expect(await shareOrCopy(data, c.copy, {})).toBe("copied");
    expect(c.calls).toHaveLength(1);
  });

  it("shareSheet_GetsTheData_NothingCopied", async () => {
    const c = copier();
    const shared: ShareData[] = [];
    expect(await shareOrCopy(data, c.copy, { share: async (d) => void shared.push(d) })).toBe("shared");
    expect(shared).toEqual([data]);
    expect(c.calls).toHaveLength(0);
  });

  it("sheetClosedByThePerson_NothingElseHappens", async () => {
    const c = copier();
    const nav = { share: () => Promise.reject(new DOMException("closed", "AbortError")) };
    expect(await shareOrCopy(data, c.copy, nav)).toBe("cancelled");
    expect(c.calls).toHaveLength(0);
  });

  it("sheetFailsOrCannotShareThis_CopiedInstead_CopyRefused_Said", async () => {
    const failing = { share: () => Promise.reject(new DOMException("no gesture", "NotAllowedError")) };
    expect(await shareOrCopy(data, copier().copy, failing)).toBe("copied");
    const c = copier();
    const refusesData = { share: async () => undefined, canShare: () => false };
    expect(canShare(data, refusesData)).toBe(false);
    expect(await shareOrCopy(data, c.copy, refusesData)).toBe("copied");
    expect(await shareOrCopy(data, copier(false).copy, {})).toBe("copy-failed");
  });
});

// ---- the app badge: absent, refused, present --------------------------------------------------------

describe("setBadge: the unread count on the app icon where the platform has one", () => {
  it("present_SetWithTheCount_ClearedAtZero", () => {
    const calls: string[] = [];
    const nav = { setAppBadge: async (n?: number) => void calls.push(`set ${n}`), clearAppBadge: async () => void calls.push("clear") };
    setBadge(2, nav);
    setBadge(0, nav);
    expect(calls).toEqual(["set 2", "clear"]);
  });

  it("absent_FirefoxOrSafariInATab_NothingHappens_NoError", () => {
    expect(() => setBadge(3, {})).not.toThrow();
    expect(() => setBadge(0, {})).not.toThrow();
  });

  it("refusedOrThrowing_Swallowed", async () => {
    const rejected: Promise<void>[] = [];
    const nav = {
      setAppBadge: () => {
        const p = Promise.reject(new DOMException("not installed", "NotAllowedError"));
        rejected.push(p);
        return p;
      },
      clearAppBadge: () => {
        throw new TypeError("Illegal invocation");
      },
    };
    expect(() => setBadge(1, nav)).not.toThrow();
    expect(() => setBadge(0, nav)).not.toThrow();
    await Promise.allSettled(rejected); // handled: no unhandled rejection fails the run
  });
});
