// The insecure-context notice, as a phone on the LAN sees it: the app opened as http://<LAN address>.
// Servers may bind only 127.0.0.1 or addresses inside network namespaces the test made, so the test
// makes a namespace with a veth pair holding 192.168.77.1/24, starts the real server bound to that
// address (and to the namespace's own 127.0.0.1 for the control case), and runs Chromium inside
// the same namespace (a wrapper script as its executable; playwright talks to it over a pipe), and
// Firefox ESR through a small driver process started inside the namespace.
// Everything is removed afterwards: the server by PID, the namespace (and its veth pair) by name.
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium } from "playwright-core";
import { AXE_SOURCE, artifact, CHROMIUM, CHROMIUM_ARGS, SERVER_DLL, WEB_DIST, wrapPage } from "./harness.mjs";
import { stopProcess } from "../../tests/support/index.mjs";

const NS = `gcins${process.pid}`;
// The user guide shows these notices: GHOSTCHAT_UPDATE_SCREENSHOTS=1 writes them to docs/images.
const SHOTS = process.env.GHOSTCHAT_UPDATE_SCREENSHOTS === "1" ? path.resolve(import.meta.dirname, "../../docs/images") : null;
function screenshotPath(name) {
  if (!SHOTS) return artifact(name);
  mkdirSync(SHOTS, { recursive: true });
  return path.join(SHOTS, name);
}
const LAN_IP = "192.168.77.1";
// A fresh namespace has no other listeners: any port is free in it.
const PORT = 8080;

function ip(...args) {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

function startServerInNamespace() {
  const child = spawn(
    "ip",
    ["netns", "exec", NS, "dotnet", SERVER_DLL, "--urls", `http://${LAN_IP}:${PORT};http://127.0.0.1:${PORT}`, `--GhostChat:Web:RootPath=${WEB_DIST}`],
    {
      env: { ...process.env, GhostChat__Turn__Enabled: "false", Logging__LogLevel__Default: "Warning", DOTNET_NOLOGO: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout.on("data", (c) => (output += c));
  child.stderr.on("data", (c) => (output += c));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 60 s:\n${output}`)), 60_000);
    const poll = setInterval(() => {
      if (output.includes("GhostChat is running")) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve();
      }
    }, 100);
    child.once("exit", (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it was ready:\n${output}`));
    });
  });
  return {
    ready,
    async stop() {
      // `ip netns exec` execs the command: this PID is the server's.
      await stopProcess(child);
    },
  };
}

describe("insecure context: the app opened over plain HTTP at a LAN address", { timeout: 240_000 }, () => {
  let server, browser, tmp;

  before(async () => {
    try {
      ip("netns", "add", NS);
    } catch (e) {
      throw new Error(`could not create network namespace ${NS} (needs root and iproute2): ${e.stderr ?? e.message}`, { cause: e });
    }
    ip("-n", NS, "link", "set", "lo", "up");
    ip("-n", NS, "link", "add", "gc0", "type", "veth", "peer", "name", "gc1");
    ip("-n", NS, "addr", "add", `${LAN_IP}/24`, "dev", "gc0");
    ip("-n", NS, "link", "set", "gc0", "up");
    ip("-n", NS, "link", "set", "gc1", "up");
    server = startServerInNamespace();
    await server.ready;
    tmp = mkdtempSync(path.join(os.tmpdir(), "gc-insecure-"));
    const wrapper = path.join(tmp, "chromium-in-namespace");
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${NS} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
    browser = await chromium.launch({ executablePath: wrapper, headless: true, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    try {
      ip("netns", "del", NS);
    } catch {
      /* never created */
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  async function open(url, viewport = { width: 1280, height: 800 }) {
    const context = await browser.newContext({ viewport });
    const page = wrapPage(await context.newPage(), "playwright");
    await page.goto(url);
    await page.waitFor(() => document.body.dataset.view === "home" || document.body.dataset.view === "insecure");
    return { ...page, context };
  }

  it("lanAddressOverHttp_NoticeSaysWhatBreaksAndWhatToDo", async () => {
    const p = await open(`http://${LAN_IP}:${PORT}/`);
    try {
      const seen = await p.eval(() => {
        const n = document.querySelector("#insecure-notice");
        return (
          n && {
            secure: window.isSecureContext,
            visible: n.getBoundingClientRect().height > 0,
            role: n.getAttribute("role"),
            title: n.querySelector("h2").textContent,
            text: n.textContent,
            features: [...n.querySelectorAll("#insecure-missing li")].map((li) => li.dataset.feature),
            hostKind: n.dataset.hostKind,
            fix: document.querySelector("#insecure-fix").textContent,
          }
        );
      });
      assert.ok(seen, "no insecure-context notice on the LAN address");
      assert.equal(seen.secure, false);
      assert.equal(seen.visible, true);
      assert.equal(seen.role, "alert");
      assert.equal(seen.title, "This page is not opened securely");
      assert.match(seen.text, new RegExp(`plain http:// at ${LAN_IP.replaceAll(".", "\\.")}.*GhostChat cannot start without them`));
      // What Chromium really withholds from an insecure page.
      assert.ok(seen.features.includes("webCrypto"), JSON.stringify(seen.features));
      assert.ok(seen.features.includes("serviceWorker"), JSON.stringify(seen.features));
      // No camera or microphone either: the notice says calls cannot work here.
      assert.ok(seen.features.includes("mediaDevices"), JSON.stringify(seen.features));
      assert.match(seen.text, /voice and video calls \(camera and microphone\)/);
      assert.equal(seen.hostKind, "local-network");
      assert.match(seen.fix, /https:\/\//);
      assert.match(seen.fix, /A LAN without a domain/);
      assert.match(seen.text, new RegExp(`http://localhost:${PORT}/`));
      // Chromium gives no WebCrypto here, so there is no invite handshake: the app does not start
      // (a New room button that fails would only confuse); the notice is the page. It passes axe
      // and causes no CSP errors.
      assert.deepEqual(
        await p.eval(() => ({
          view: document.body.dataset.view,
          shownViews: [...document.querySelectorAll("section.view")].filter((v) => !v.hidden).map((v) => v.id),
          settingsButton: document.querySelector("#open-settings").hidden,
        })),
        { view: "insecure", shownViews: [], settingsButton: true },
      );
      await p.eval(AXE_SOURCE); // evaluated by the driver: the page's CSP still holds for the app
      const violations = await p.eval(async () =>
        (await window.axe.run("#insecure-notice")).violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(" ")}`),
      );
      assert.deepEqual(violations, []);
      assert.deepEqual(
        p.errors.filter((e) => /Content Security Policy/i.test(e)),
        [],
      );
      // Nothing failed behind the notice (Chromium's own warning about ignored COOP on http aside).
      assert.deepEqual(
        p.errors.filter((e) => !/Cross-Origin-Opener-Policy/.test(e)),
        [],
      );
      await p.page.screenshot({ path: screenshotPath("insecure-notice.png") });
    } finally {
      await p.context.close();
    }
  });

  it("phoneWidth_NoticeFitsTheScreen", async () => {
    const p = await open(`http://${LAN_IP}:${PORT}/`, { width: 375, height: 740 });
    try {
      const box = await p.eval(() => {
        const r = document.querySelector("#insecure-notice").getBoundingClientRect();
        return { left: r.left, right: r.right, width: document.documentElement.clientWidth, scroll: document.documentElement.scrollWidth };
      });
      assert.ok(box.left >= 0 && box.right <= box.width, JSON.stringify(box));
      assert.ok(box.scroll <= box.width, `page scrolls sideways: ${JSON.stringify(box)}`);
      await p.page.screenshot({ path: screenshotPath("mobile-insecure-notice.png") });
    } finally {
      await p.context.close();
    }
  });

  it("invite link opened at the LAN address: the same explanation, no half-started join", async () => {
    const p = await open(`http://${LAN_IP}:${PORT}/#join=2.someone-sent-this-link`);
    try {
      assert.deepEqual(
        await p.eval(() => ({
          view: document.body.dataset.view,
          notice: !!document.querySelector("#insecure-notice"),
          error: document.querySelector("#view-error").hidden,
        })),
        { view: "insecure", notice: true, error: true },
      );
    } finally {
      await p.context.close();
    }
  });

  it("firefox: the same notice, and the app does not start", async () => {
    // Puppeteer drives Firefox over a WebSocket on the namespace's own loopback, so the driver runs
    // inside the namespace too: a child node process that prints what the page shows.
    const driver = `
      import { launchFirefox } from ${JSON.stringify(path.join(import.meta.dirname, "harness.mjs"))};
      const browser = await launchFirefox();
      try {
        const page = await browser.newPage();
        await page.goto(${JSON.stringify(`http://${LAN_IP}:${PORT}/`)}, { waitUntil: "load" });
        await page.waitForFunction(() => document.body.dataset.view === "insecure" || document.body.dataset.view === "home", { timeout: 45000 });
        const seen = await page.evaluate(() => ({
          secure: window.isSecureContext,
          view: document.body.dataset.view,
          features: [...document.querySelectorAll("#insecure-missing li")].map((li) => li.dataset.feature),
          hostKind: document.querySelector("#insecure-notice")?.dataset.hostKind ?? null,
        }));
        console.log("RESULT " + JSON.stringify(seen));
      } finally {
        await browser.close();
      }`;
    const out = execFileSync("ip", ["netns", "exec", NS, process.execPath, "--input-type=module", "-e", driver], {
      encoding: "utf8",
      timeout: 120_000,
      cwd: import.meta.dirname,
    });
    const line = out.split("\n").find((l) => l.startsWith("RESULT "));
    assert.ok(line, `the Firefox driver printed no result:\n${out}`);
    const seen = JSON.parse(line.slice(7));
    assert.equal(seen.secure, false);
    assert.equal(seen.view, "insecure");
    assert.equal(seen.hostKind, "local-network");
    assert.ok(seen.features.includes("webCrypto") && seen.features.includes("serviceWorker"), JSON.stringify(seen.features));
    assert.ok(seen.features.includes("mediaDevices"), JSON.stringify(seen.features));
  });

  it("loopbackOverHttp_IsSecure_NoNotice", async () => {
    const p = await open(`http://127.0.0.1:${PORT}/`);
    try {
      assert.deepEqual(
        await p.eval(() => ({ secure: window.isSecureContext, notice: document.querySelector("#insecure-notice") !== null, view: document.body.dataset.view })),
        { secure: true, notice: false, view: "home" },
      );
    } finally {
      await p.context.close();
    }
  });
});
