/* global Navigator, DataTransfer, File -- used in the page */
// The user guide's screenshots, taken by walking the main flow in real Chromium at desktop and phone
// widths: start page, invite (link, QR, active invites), both sides chatting with the verification
// code, a bad invite link, the server settings. With GHOSTCHAT_UPDATE_SCREENSHOTS=1 the PNGs go to
// docs/images/ (commit them); otherwise to the test artifacts, so a normal run never dirties the tree.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import {
  ARTIFACTS,
  FAKE_MEDIA_ARGS,
  IPHONE,
  createRoom,
  launchChromium,
  send,
  startServer,
  waitConnected,
  waitIncoming,
  waitOutgoingState,
  wrapPage,
} from "./harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
export const SCREENSHOT_DIR = process.env.GHOSTCHAT_UPDATE_SCREENSHOTS === "1" ? path.resolve(here, "../../docs/images") : path.join(ARTIFACTS, "screens");

const SIZES = {
  desktop: { viewport: { width: 1280, height: 800 } },
  mobile: { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true },
};

describe("user guide screenshots: the main flow at desktop and phone widths", { timeout: 300_000 }, () => {
  let server, browser;
  const taken = [];

  before(async () => {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    server = await startServer();
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** `phone`: the host's phone has a share sheet (as phones do; Chromium on Linux has none) and is told to be an iPhone (harness.mjs IPHONE). */
  async function page(size, { phone = false } = {}) {
    const context = await browser.newContext({ ...SIZES[size], deviceScaleFactor: 1, colorScheme: "light", reducedMotion: "reduce" });
    if (phone) {
      await context.addInitScript(IPHONE, false);
      await context.addInitScript(() => Object.defineProperty(Navigator.prototype, "share", { configurable: true, value: async () => undefined }));
    }
    return { ...wrapPage(await context.newPage(), "playwright"), context };
  }

  async function shot(p, name) {
    const file = path.join(SCREENSHOT_DIR, `${name}.png`);
    // Let the focus ring and fonts settle: wait for two animation frames in the page.
    await p.eval(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await p.page.screenshot({ path: file, fullPage: false, animations: "disabled", caret: "hide" });
    const png = readFileSync(file);
    assert.equal(png.subarray(1, 4).toString(), "PNG", `${file} is not a PNG`);
    taken.push(file);
    return file;
  }

  for (const size of Object.keys(SIZES)) {
    it(`${size}: start, invite, verified chat, bad link, settings`, async () => {
      const host = await page(size, { phone: size === "mobile" });
      const guest = await page(size);
      try {
        await host.goto(server.url + "/");
        await host.waitFor(() => document.body.dataset.view === "home");
        await shot(host, `${size}-home`);

        const link = await createRoom(host, server.url);
        await host.waitFor(() => document.querySelectorAll("#invite-list li").length > 0);
        await shot(host, `${size}-invite`);

        await guest.goto(link);
        await Promise.all([waitConnected(host), waitConnected(guest)]);
        // Both sides show the same verification code: the step the guide asks people to do.
        await host.waitFor(() => !document.querySelector("#verify").hidden && document.querySelector("#verify-code").textContent.length > 0);
        await guest.waitFor(() => !document.querySelector("#verify").hidden && document.querySelector("#verify-code").textContent.length > 0);
        const codes = await Promise.all([host, guest].map((p) => p.eval(() => document.querySelector("#verify-code").textContent)));
        assert.equal(codes[0], codes[1]);

        await send(host, "Hi! Does the code on your screen match mine?");
        await waitIncoming(guest, "Hi! Does the code on your screen match mine?");
        await send(guest, "Yes, it matches. *See you at 8*");
        await waitIncoming(host, "Yes, it matches. See you at 8");
        await waitOutgoingState(host, "Hi! Does the code on your screen match mine?", "read");
        await host.type("#composer", "Great");
        await guest.waitFor(() => !document.querySelector("#typing").hidden);
        await shot(host, `${size}-chat-host`);
        await shot(guest, `${size}-chat-guest`);

        // A damaged invite link: the guest is told plainly what happened and what to do.
        const bad = await page(size);
        try {
          await bad.goto(server.url + "/#join=2.not-a-real-invite");
          await bad.waitFor(() => document.body.dataset.view === "error");
          assert.match(await bad.eval(() => document.querySelector("#error-body").textContent), /not a valid GhostChat invite/);
          await shot(bad, `${size}-bad-link`);
        } finally {
          await bad.context.close();
        }

        if (size === "mobile") {
          // The on-screen keyboard takes the lower half: the chat keeps the messages and the composer.
          await guest.page.setViewportSize({ width: 360, height: 360 });
          await guest.waitFor(() => document.body.dataset.compact === "true");
          await guest.eval(() => document.querySelector("#composer").focus());
          await shot(guest, `${size}-keyboard`);
          // Back on the start page after a first chat, an iPhone is told how to add the app.
          await host.click("#leave");
          await host.waitFor(() => document.body.dataset.view === "home" && !document.querySelector("#install-ios").hidden);
          await shot(host, `${size}-install-ios`);
        }

        if (size === "desktop") {
          await host.click("#open-settings");
          await host.waitFor(() => document.querySelector("#settings-dialog").open);
          await shot(host, `${size}-settings`);
        }
      } finally {
        await host.context.close();
        await guest.context.close();
      }
    });
  }

  it("desktop: a group room of three", async () => {
    const members = [await page("desktop"), await page("desktop"), await page("desktop")];
    try {
      const [host, ...others] = members;
      await host.goto(server.url + "/");
      await host.waitFor(() => document.body.dataset.view === "home");
      await host.click("#new-group");
      await host.waitFor(() => document.body.dataset.view === "invite" && document.querySelector("#invite-link").value.includes("#join="));
      const link = await host.eval(() => document.querySelector("#invite-link").value);
      // A group room has no single "connected" phase: a member is in once its chat view is usable.
      const inRoom = (p) => p.waitFor(() => document.body.dataset.view === "chat" && !document.querySelector("#composer").disabled);
      for (const p of others) {
        await p.goto(link);
        await inRoom(p);
      }
      await inRoom(host);
      // Everyone lists the two others, connected directly.
      for (const p of members) {
        await p.waitFor(() => [...document.querySelectorAll("#members li")].filter((li) => li.dataset.path === "direct").length === 2);
      }
      await send(host, "Welcome to the group!");
      for (const p of others) await waitIncoming(p, "Welcome to the group!");
      await send(others[0], "Thanks, hello everyone");
      await waitIncoming(host, "Thanks, hello everyone");
      await host.waitFor(() => {
        const li = [...document.querySelectorAll('#messages li[data-direction="out"]')].find(
          (x) => x.querySelector(".msg-text").textContent === "Welcome to the group!",
        );
        return li && li.dataset.delivered === "2";
      });
      await others[1].waitFor(() => [...document.querySelectorAll("#messages li .msg-text")].length === 2);
      await shot(others[1], "desktop-group");
    } finally {
      for (const p of members) await p.context.close();
    }
  });

  it("desktop and phone: a picture and a file in the chat", async () => {
    const host = await page("desktop");
    const guest = await page("mobile", { phone: true });
    try {
      const link = await createRoom(host, server.url);
      await guest.goto(link);
      await Promise.all([waitConnected(host), waitConnected(guest)]);
      // A picture drawn in the page and a document, as if picked with the attach button.
      await host.eval(async () => {
        const canvas = Object.assign(document.createElement("canvas"), { width: 480, height: 300 });
        const g = canvas.getContext("2d");
        const sky = g.createLinearGradient(0, 0, 0, 300);
        sky.addColorStop(0, "#7fb3ff");
        sky.addColorStop(1, "#fde2b0");
        g.fillStyle = sky;
        g.fillRect(0, 0, 480, 300);
        g.fillStyle = "#2f6b3a";
        g.beginPath();
        g.moveTo(0, 300);
        g.lineTo(160, 140);
        g.lineTo(300, 260);
        g.lineTo(380, 180);
        g.lineTo(480, 300);
        g.fill();
        const blob = await new Promise((r) => canvas.toBlob(r, "image/png"));
        const dt = new DataTransfer();
        dt.items.add(new File([blob], "mountains.png", { type: "image/png" }));
        const input = document.querySelector("#file-input");
        input.files = dt.files;
        input.dispatchEvent(new Event("change"));
      });
      await guest.waitFor(() => [...document.querySelectorAll("img.file-preview")].some((i) => i.complete && i.naturalWidth === 480));
      await host.page.setInputFiles("#file-input", { name: "trip-plan.pdf", mimeType: "application/pdf", buffer: Buffer.alloc(180_000, 37) });
      await guest.waitFor(() => [...document.querySelectorAll('li.file-card[data-state="done"]')].length === 2);
      // The picture's card at the top of the log, the document's below it.
      await guest.eval(() => document.querySelector("li.file-card").scrollIntoView({ block: "start" }));
      await shot(guest, "mobile-files");
      // The sender's side on a desktop: the same two cards, sent and checked.
      await host.waitFor(() => [...document.querySelectorAll('li.file-card[data-state="done"]')].length === 2);
      await shot(host, "desktop-files");
    } finally {
      await host.context.close();
      await guest.context.close();
    }
  });

  it("desktop and phone: a video call", async () => {
    // Chromium's fake camera and microphone (a test pattern and a beep): browser switches, not the app.
    const media = await launchChromium(FAKE_MEDIA_ARGS);
    const open = async (size) => {
      const context = await media.newContext({ ...SIZES[size], deviceScaleFactor: 1, colorScheme: "light", reducedMotion: "reduce" });
      return { ...wrapPage(await context.newPage(), "playwright"), context };
    };
    const host = await open("desktop");
    const guest = await open("mobile");
    /** Every tile of someone else in the call shows moving video. */
    const playing = (p) =>
      p.waitFor(() => {
        const others = [...document.querySelectorAll("#call-grid figure:not([data-peer='self'])")];
        return (
          others.length === 1 &&
          others.every(
            (f) =>
              f.querySelector("video").readyState >= 2 &&
              f.querySelector("video").videoWidth > 0 &&
              /^\d+x\d+$/.test(document.querySelector("#view-chat .chat-tools .quality")?.dataset.callResolution ?? ""),
          )
        );
      });
    try {
      const link = await createRoom(host, server.url);
      await guest.goto(link);
      await Promise.all([waitConnected(host), waitConnected(guest)]);
      await host.click("#call-video");
      await guest.waitFor(() => document.querySelector("#call")?.dataset.members === "1" && !document.querySelector("#call-video").hidden);
      await guest.click("#call-video");
      await Promise.all([playing(host), playing(guest)]);
      await send(host, "Can you see the whiteboard?");
      await waitIncoming(guest, "Can you see the whiteboard?");
      await host.eval(() => document.querySelector("#call").scrollIntoView({ block: "start" }));
      await shot(host, "desktop-call");
      await guest.eval(() => document.querySelector("#call").scrollIntoView({ block: "start" }));
      await shot(guest, "mobile-call");
    } finally {
      await host.context.close();
      await guest.context.close();
      await media.close();
    }
  });

  it("every screenshot the user guide shows was taken", () => {
    const guide = readFileSync(path.resolve(here, "../../docs/user-guide.md"), "utf8");
    const referenced = [...guide.matchAll(/\]\(images\/([a-z0-9-]+\.png)\)/g)].map((m) => m[1]);
    assert.ok(referenced.length >= 6, `the user guide shows only ${referenced.length} screenshots`);
    const names = new Set(taken.map((f) => path.basename(f)).concat(["insecure-notice.png", "mobile-insecure-notice.png"]));
    for (const r of referenced) {
      assert.ok(names.has(r), `docs/user-guide.md shows images/${r}, which no e2e test takes`);
      assert.ok(existsSync(path.resolve(here, "../../docs/images", r)), `docs/images/${r} is not committed (run with GHOSTCHAT_UPDATE_SCREENSHOTS=1)`);
    }
  });
});
