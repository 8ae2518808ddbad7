/* global Navigator -- IPHONE runs in the page */
// Shared helpers for the end-to-end tests: the REAL GhostChat server (started per test file, stopped
// by PID), Debian's Chromium through playwright-core and Firefox ESR through puppeteer-core (WebDriver BiDi).
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before } from "node:test";
import { chromium } from "playwright-core";
import puppeteer from "puppeteer-core";
import { freePort, SERVER_DLL, SERVER_READY, stopProcess, waitForOutput } from "../../tests/support/index.mjs";

export { freePort, SERVER_DLL };

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export const WEB_DIST = path.resolve(here, "../dist");
/** The e2e test build (`npm run build:e2e`): the same app plus `window.__ghostchatMesh` (e2e-build/). */
export const E2E_DIST = path.resolve(here, "../dist-e2e");
export const ARTIFACTS = process.env.GHOSTCHAT_ARTIFACTS ?? path.resolve(here, "../test-artifacts");
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const FIREFOX = process.env.FIREFOX_PATH ?? "/usr/bin/firefox-esr";
/** Generous: the machine is shared and slow at times. Timeouts only bound a hang; they never measure. */
export const WAIT = 45_000;

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Starts the built server on a free loopback port; resolves once it prints its ready line. It serves
 * the shipped bundle (web/dist), or with `{ web: E2E_DIST }` the e2e test build.
 */
export async function startServer(extraEnv = {}, fixedPort = undefined, { web = WEB_DIST } = {}) {
  const port = fixedPort ?? (await freePort());
  // Serve this checkout's web/dist (what `npm run build` just made), not the copy beside the dll.
  const child = spawn("dotnet", [SERVER_DLL, "--urls", `http://127.0.0.1:${port}`, `--GhostChat:Web:RootPath=${web}`], {
    env: { ...process.env, GhostChat__Turn__Enabled: "false", Logging__LogLevel__Default: "Warning", DOTNET_NOLOGO: "1", ...extraEnv },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (c) => (output += c);
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  await waitForOutput(child, SERVER_READY, { timeoutMs: 60_000, output: () => output, what: "server" });
  child.stdout.off("data", collect);
  child.stderr.off("data", collect);
  child.stdout.resume();
  child.stderr.resume();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    async stop() {
      await stopProcess(child);
    },
  };
}

export async function launchChromium(extraArgs = []) {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

/** Chromium's fake camera, microphone and screen (a 1280×720 pattern), allowed without a prompt (calls). */
export const FAKE_MEDIA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"];

/** `extraPrefs`: more Firefox preferences for one suite (calls-relay.test.mjs: loopback relays). */
export async function launchFirefox(extraPrefs = {}) {
  return puppeteer.launch({
    browser: "firefox",
    executablePath: FIREFOX,
    headless: true,
    extraPrefsFirefox: {
      "media.peerconnection.ice.obfuscate_host_addresses": false,
      "media.peerconnection.ice.default_address_only": false,
      "network.proxy.type": 0,
      // Calls: a fake camera and microphone, allowed without a prompt.
      "media.navigator.streams.fake": true,
      "media.navigator.permission.disabled": true,
      ...extraPrefs,
    },
  });
}

/**
 * A thin wrapper so tests read the same on either driver. `kind` is "playwright" or "puppeteer";
 * every page records console errors (CSP violations included) and page errors.
 */
/** Evaluates the async `fn(arg)` in the page until it resolves truthy; throws after `timeout` ms. */
async function pollPage(page, fn, arg, timeout) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await page.evaluate(fn, arg);
    if (value) return value;
    if (Date.now() > end) throw new Error(`waitFor timed out after ${timeout} ms: ${String(fn).slice(0, 200)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function wrapPage(page, kind) {
  const errors = [];
  page.on("console", (msg) => {
    const type = typeof msg.type === "function" ? msg.type() : msg.type;
    if (type === "error") errors.push(msg.text());
  });
  page.on("pageerror", (e) => errors.push(String(e?.message ?? e)));
  return {
    page,
    kind,
    errors,
    goto: (url) => page.goto(url, { waitUntil: "load" }),
    click: (sel) => page.click(sel),
    /**
     * Waits until `fn(arg)` is truthy in the page (the browser's own polling, not a sleep). An async
     * `fn` is polled from here: Playwright's waitForFunction takes the promise it returns as truthy
     * at once, so it would not wait at all.
     */
    waitFor: (fn, arg, timeout = WAIT) =>
      fn.constructor.name === "AsyncFunction"
        ? pollPage(page, fn, arg, timeout)
        : kind === "playwright"
          ? page.waitForFunction(fn, arg, { timeout })
          : page.waitForFunction(fn, { timeout, polling: "raf" }, arg),
    eval: (fn, arg) => page.evaluate(fn, arg),
    async type(sel, text) {
      await page.focus(sel);
      await page.keyboard.type(text);
    },
    async press(combo) {
      // "Shift+Enter" style combos: both drivers understand down/press/up.
      const keys = combo.split("+");
      const key = keys.pop();
      for (const k of keys) await page.keyboard.down(k);
      await page.keyboard.press(key);
      for (const k of keys.reverse()) await page.keyboard.up(k);
    },
    screenshot: (file) => page.screenshot({ path: file, fullPage: false }),
  };
}

export async function chromiumPage(browser, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  return { ...wrapPage(page, "playwright"), context };
}

export async function firefoxPage(browser) {
  const page = await browser.newPage();
  return wrapPage(page, "puppeteer");
}

export function artifact(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}

export const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

// ---- app-level steps --------------------------------------------------------------------------

/**
 * The real server and a Chromium for the tests of one `describe`: started before them, stopped after
 * (the server by PID). The returned object's `server` and `browser` are set once `before` ran.
 */
export function serverAndChromium(env = {}) {
  const ctx = { server: null, browser: null };
  before(async () => {
    ctx.server = await startServer(env);
    ctx.browser = await launchChromium();
  });
  after(async () => {
    await ctx.browser?.close();
    await ctx.server?.stop();
  });
  return ctx;
}

/** The same with a Firefox too (`ctx.chromium`, `ctx.firefox`); `web` as for startServer. */
export function serverAndBrowsers(env = {}, { web = WEB_DIST } = {}) {
  const ctx = { server: null, chromium: null, firefox: null };
  before(async () => {
    ctx.server = await startServer(env, undefined, { web });
    ctx.chromium = await launchChromium();
    ctx.firefox = await launchFirefox();
  });
  after(async () => {
    await ctx.firefox?.close();
    await ctx.chromium?.close();
    await ctx.server?.stop();
  });
  return ctx;
}

/** Host opens the app and makes a room (1:1, or `"group"`); resolves with the invite link. */
export async function createRoom(host, baseUrl, kind = "pair") {
  await host.goto(baseUrl + "/");
  await host.waitFor(() => document.body.dataset.view === "home");
  await host.click(kind === "group" ? "#new-group" : "#new-room");
  await host.waitFor(() => document.body.dataset.view === "invite" && document.querySelector("#invite-link").value.includes("#join="));
  return host.eval(() => document.querySelector("#invite-link").value);
}

export async function waitConnected(p) {
  await p.waitFor(() => document.body.dataset.phase === "connected" && document.body.dataset.view === "chat" && !document.querySelector("#composer").disabled);
}

/** Host makes a room, guest opens the link, both reach the chat. */
export async function connectPair(host, guest, baseUrl) {
  const link = await createRoom(host, baseUrl);
  await guest.goto(link);
  await Promise.all([waitConnected(host), waitConnected(guest)]);
  return link;
}

/** Types `text` (line breaks with Shift+Enter) and sends it with Enter. */
export async function send(p, text) {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (i > 0) await p.press("Shift+Enter");
    await p.type("#composer", lines[i]);
  }
  await p.press("Enter");
}

/** Waits until the page shows an incoming message with exactly this text; returns its id. */
export async function waitIncoming(p, text) {
  await p.waitFor((t) => [...document.querySelectorAll('#messages li[data-direction="in"] .msg-text')].some((e) => e.textContent === t), text);
  return p.eval(
    (t) => [...document.querySelectorAll('#messages li[data-direction="in"]')].find((li) => li.querySelector(".msg-text").textContent === t).dataset.id,
    text,
  );
}

export async function waitOutgoingState(p, text, state) {
  await p.waitFor(
    ([t, s]) =>
      [...document.querySelectorAll('#messages li[data-direction="out"]')].some(
        (li) => li.querySelector(".msg-text").textContent === t && li.dataset.state === s,
      ),
    [text, state],
  );
}

export function messageTexts(p) {
  return p.eval(() => [...document.querySelectorAll("#messages li .msg-text")].map((e) => e.textContent));
}

/**
 * Simulates hiding (or showing) a Chromium tab: each test context has a visible tab of its own, so the
 * page's `document.visibilityState` is overridden and `visibilitychange` fired — the app's own code
 * path from there on (its listeners read visibilityState).
 */
export function setHidden(p, hidden) {
  return p.eval((h) => {
    if (h) {
      Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
      Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
    } else {
      delete document.visibilityState; // back to Document.prototype's real getters
      delete document.hidden;
    }
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}

/**
 * An init script giving a Chromium page what the app tells WebKit on an iPhone by (ui/install.ts
 * installPlatform): no `beforeinstallprompt`, a `navigator.standalone` (true once added to the Home
 * Screen), a touch screen. WebKit itself cannot run here.
 */
export const IPHONE = (standalone = false) => {
  delete window.onbeforeinstallprompt;
  Object.defineProperty(Navigator.prototype, "standalone", { configurable: true, get: () => standalone });
  Object.defineProperty(Navigator.prototype, "maxTouchPoints", { configurable: true, get: () => 5 });
};
