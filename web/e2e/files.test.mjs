/* global TextEncoder, TextDecoder, File, DataTransfer, DragEvent, ClipboardEvent, MutationObserver, RTCDataChannel -- used in the page */
// Files and pictures between Chromium and Firefox ESR through the real server (docs/user-guide.md,
// "Files and pictures"): bytes arrive with the right SHA-256 in both directions and are written to
// the Origin Private File System; a PNG is previewed, an SVG with a script and a hostile name are
// not; a JPEG made in the page loses its Exif; cancel and decline on either side.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { deflateSync } from "node:zlib";
import { readOpfsFiles } from "./opfs-files.mjs";
import { describe, it } from "node:test";
import {
  artifact,
  AXE_SOURCE,
  chromiumPage,
  connectPair,
  createRoom,
  E2E_DIST,
  firefoxPage,
  launchFirefox,
  send,
  serverAndBrowsers,
  waitIncoming,
} from "./harness.mjs";

const sha = (b) => createHash("sha256").update(b).digest("hex");
const tmp = mkdtempSync(path.join(tmpdir(), "gc-files-"));

/** Puts a file in the page's file input as a user picking it would (Playwright's setInputFiles, Puppeteer's uploadFile). */
async function pick(p, name, mimeType, buffer) {
  // Playwright takes a buffer up to 50 MB (any name, hostile ones included); larger ones from a file.
  if (p.kind === "playwright" && buffer.length < 40 * 1024 * 1024) return p.page.setInputFiles("#file-input", { name, mimeType, buffer });
  const file = path.join(mkdtempSync(path.join(tmp, "f-")), name);
  writeFileSync(file, buffer);
  if (p.kind === "playwright") return p.page.setInputFiles("#file-input", file);
  const input = await p.page.$("#file-input");
  await input.uploadFile(file);
}

/** Waits for a file card of this name and direction in `state`; returns its transfer id. */
async function card(p, dir, name, state, timeout = undefined) {
  await p.waitFor(
    ([d, n, s]) =>
      [...document.querySelectorAll(`#messages li.file-card[data-direction="${d}"]`)].some((li) => li.dataset.state === s && li.textContent.includes(n)),
    [dir, name, state],
    timeout,
  );
  return p.eval(
    ([d, n]) => [...document.querySelectorAll(`#messages li.file-card[data-direction="${d}"]`)].find((li) => li.textContent.includes(n)).dataset.transfer,
    [dir, name],
  );
}

/** SHA-256 and size of every file this browser's OPFS holds for GhostChat (opfs-files.mjs). */
const opfsFiles = (p) => p.eval(readOpfsFiles);

/** The user's "accept files automatically up to" set to 1 GiB (kept in localStorage, so across a reload). */
function acceptUpTo1GiB(p) {
  return p.eval(() => {
    const s = document.querySelector("#auto-accept");
    s.value = String(1024 * 2 ** 20);
    s.dispatchEvent(new Event("change"));
  });
}

/** How many partial-file records (kept across a reload) this browser's IndexedDB holds. */
function partialRecords(p) {
  return p.eval(
    () =>
      new Promise((resolve, reject) => {
        const q = indexedDB.open("ghostchat-files");
        q.onerror = () => reject(q.error);
        q.onsuccess = () => {
          const r = q.result.transaction("partials").objectStore("partials").count();
          r.onsuccess = () => (q.result.close(), resolve(r.result));
        };
      }),
  );
}

/** A real 3×2 RGB PNG (zlib-compressed scanlines, CRC-32 per chunk). */
function png() {
  const table = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = table[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(3, 0);
  ihdr.writeUInt32BE(2, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const rows = Buffer.from([0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(rows)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

describe("Files and pictures between Chromium and Firefox", { timeout: 600_000 }, () => {
  const ctx = serverAndBrowsers();

  it("chromiumAndFirefox_50MBBothWays_RightSha256OnDisk_PngPreviewed_PanicClears", async () => {
    const host = await chromiumPage(ctx.chromium);
    const guest = await firefoxPage(ctx.firefox);
    await connectPair(host, guest, ctx.server.url);

    const big = randomBytes(50 * 1024 * 1024 + 12_345);
    await pick(host, "notes.bin", "application/octet-stream", big);
    // Above the default automatic limit (25 MiB): Firefox is asked first.
    await card(guest, "in", "notes.bin", "asking");
    await guest.click('li.file-card[data-state="asking"] button[data-action="accept"]');
    await card(host, "out", "notes.bin", "done");
    await card(guest, "in", "notes.bin", "done");
    // Told politely (the page's aria-live="polite" announcer), as well as shown.
    assert.equal(await guest.eval(() => document.querySelector("#announcer[aria-live=polite]").textContent), "notes.bin has arrived");
    assert.ok(
      (await opfsFiles(guest)).some((f) => f.sha === sha(big) && f.size === big.length),
      "Firefox wrote the file to OPFS with the sender's SHA-256",
    );

    const back = randomBytes(50 * 1024 * 1024 + 7);
    await pick(guest, "reply.dat", "application/octet-stream", back);
    await card(host, "in", "reply.dat", "asking");
    await host.click('li.file-card[data-state="asking"] button[data-action="accept"]');
    await card(guest, "out", "reply.dat", "done");
    await card(host, "in", "reply.dat", "done");
    assert.ok(
      (await opfsFiles(host)).some((f) => f.sha === sha(back) && f.size === back.length),
      "Chromium wrote the file to OPFS with the sender's SHA-256",
    );

    const picture = png();
    await pick(guest, "dot.png", "image/png", picture);
    await card(host, "in", "dot.png", "done");
    // Decoded from a blob: URL under the server's CSP: a picture that loaded has a width.
    await host.waitFor(() => {
      const img = [...document.querySelectorAll("li.file-card img.file-preview")].find((i) => i.alt.includes("dot.png"));
      return img?.complete && img.naturalWidth === 3 && img.src.startsWith("blob:");
    });
    const save = await host.eval(() => {
      const a = [...document.querySelectorAll("li.file-card a[data-action=save]")].find((x) => x.download === "dot.png");
      return { download: a.download, href: a.href.slice(0, 5) };
    });
    assert.deepEqual(save, { download: "dot.png", href: "blob:" });
    // Panic clear: the cards and every received file of the page go.
    await host.click("#panic");
    await host.waitFor(() => document.querySelectorAll("li.file-card").length === 0);
    // Removing is asynchronous: look again until the folder is empty (bounded; a hang fails the test).
    for (let i = 0; i < 200 && (await opfsFiles(host)).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await opfsFiles(host), []);
    assert.deepEqual([...host.errors, ...guest.errors], []);
    await host.context.close();
    await guest.page.close();
  });

  it("textFileAndLongMessage_DeflatedBothWays_RightSha256_TheSameText", async () => {
    const host = await chromiumPage(ctx.chromium);
    const guest = await firefoxPage(ctx.firefox);
    await connectPair(host, guest, ctx.server.url);
    // Counted from outside the app: every data channel send of each page, deflated ones apart (a
    // file chunk whose first byte has the 0x80 flag; a chat frame {"t":"z",…}, which PeerJS's JSON
    // channel sends as the UTF-8 of the frame's JSON string).
    for (const p of [host, guest])
      await p.eval(() => {
        window.sends = { chunks: 0, deflatedChunks: 0, deflatedFrames: 0 };
        const send = RTCDataChannel.prototype.send;
        const text = new TextDecoder();
        RTCDataChannel.prototype.send = function (data) {
          if (this.label === "gc-files" && data instanceof ArrayBuffer && data.byteLength > 21) {
            window.sends.chunks++;
            if (new Uint8Array(data)[0] === 0x81) window.sends.deflatedChunks++;
          } else if (this.label !== "gc-files" && ArrayBuffer.isView(data) && text.decode(data).startsWith('"{\\"t\\":\\"z\\"')) window.sends.deflatedFrames++;
          return send.call(this, data);
        };
      });
    const sentBy = (p) => p.eval(() => window.sends);
    // A long message each way (before the file cards, which waitIncoming does not expect): deflated on the link, shown as typed.
    const long = "Minutes of the meeting: ".concat(Array.from({ length: 20 }, (_, i) => `item ${i} agreed, owner to follow up by Friday.`).join(" "));
    await send(host, long);
    await waitIncoming(guest, long);
    await send(guest, `${long} Noted.`);
    await waitIncoming(host, `${long} Noted.`);
    assert.ok((await sentBy(host)).deflatedFrames > 0, "Chromium sent the long message deflated");
    assert.ok((await sentBy(guest)).deflatedFrames > 0, "Firefox sent the long message deflated");
    const log = (n) =>
      Buffer.from(
        Array.from({ length: n }, (_, i) => `2026-12-05T10:${String(i % 60).padStart(2, "0")}:00Z INFO request ${i} served in ${i % 97} ms`).join("\n"),
      );
    const there = log(40_000); // about 2.5 MB
    await pick(host, "server.log", "text/plain", there);
    await card(host, "out", "server.log", "done");
    await card(guest, "in", "server.log", "done");
    assert.ok(
      (await opfsFiles(guest)).some((f) => f.sha === sha(there) && f.size === there.length),
      "Firefox has the log with its SHA-256",
    );
    const back = Buffer.from(log(30_000).toString().replace(/ /g, ","));
    await pick(guest, "table.csv", "text/csv", back);
    await card(host, "in", "table.csv", "done");
    assert.ok(
      (await opfsFiles(host)).some((f) => f.sha === sha(back) && f.size === back.length),
      "Chromium has the table with its SHA-256",
    );
    const h = await sentBy(host);
    const g = await sentBy(guest);
    assert.ok(h.deflatedChunks > 0 && h.deflatedChunks === h.chunks, `Chromium deflated its chunks: ${JSON.stringify(h)}`);
    assert.ok(g.deflatedChunks > 0 && g.deflatedChunks === g.chunks, `Firefox deflated its chunks: ${JSON.stringify(g)}`);
    assert.deepEqual([...host.errors, ...guest.errors], []);
    await host.context.close();
    await guest.page.close();
  });

  it("hostileNameAndSvg_NameSanitised_SvgNeverRendered_JpegExifRemoved_DropAndPasteSend", async () => {
    const host = await firefoxPage(ctx.firefox);
    const guest = await chromiumPage(ctx.chromium);
    await connectPair(host, guest, ctx.server.url);

    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="document.title=\'pwned\'"><script>document.title="pwned"</script></svg>');
    await pick(guest, "..\\..\\evil\u202Egnp.svg", "image/svg+xml", svg);
    await card(host, "in", "evilgnp.svg", "done");
    const shown = await host.eval(() => {
      const li = [...document.querySelectorAll("li.file-card")].find((x) => x.textContent.includes("evilgnp.svg"));
      return {
        images: li.querySelectorAll("img, svg, object, iframe, embed").length,
        download: li.querySelector("a[data-action=save]").download,
        title: document.title,
      };
    });
    assert.equal(shown.images, 0, "an SVG is offered as a download, never rendered");
    assert.equal(shown.download, "_.._evilgnp.svg");
    assert.notEqual(shown.title, "pwned");

    // A real JPEG drawn in the page, with an Exif segment naming a position put in after its SOI.
    await guest.eval(async () => {
      const canvas = document.createElement("canvas");
      canvas.width = 8;
      canvas.height = 8;
      const g = canvas.getContext("2d");
      g.fillStyle = "#c33";
      g.fillRect(0, 0, 8, 8);
      const jpeg = new Uint8Array(await (await new Promise((r) => canvas.toBlob(r, "image/jpeg", 0.9))).arrayBuffer());
      const exif = new TextEncoder().encode("Exif\0\0MM\0*\0\0\0\x08GPSLatitude 48.8584 N");
      const seg = new Uint8Array([0xff, 0xe1, (exif.length + 2) >> 8, (exif.length + 2) & 0xff, ...exif]);
      const file = new File([jpeg.subarray(0, 2), seg, jpeg.subarray(2)], "holiday.jpg", { type: "image/jpeg" });
      const dt = new DataTransfer();
      dt.items.add(file);
      const input = document.querySelector("#file-input");
      input.files = dt.files;
      input.dispatchEvent(new Event("change"));
    });
    await card(host, "in", "holiday.jpg", "done");

    // Dropped on the chat and pasted into the message box (the events a real drop and paste fire).
    await guest.eval(() => {
      const files = (name) => {
        const dt = new DataTransfer();
        dt.items.add(new File([`${name} text`], name, { type: "text/plain" }));
        return dt;
      };
      const chat = document.querySelector("#view-chat");
      chat.dispatchEvent(new DragEvent("dragover", { dataTransfer: files("dropped.txt"), bubbles: true, cancelable: true }));
      chat.dispatchEvent(new DragEvent("drop", { dataTransfer: files("dropped.txt"), bubbles: true, cancelable: true }));
      document.querySelector("#composer").dispatchEvent(new ClipboardEvent("paste", { clipboardData: files("pasted.txt"), bubbles: true, cancelable: true }));
    });
    await card(host, "in", "dropped.txt", "done");
    await card(host, "in", "pasted.txt", "done");
    assert.equal(await guest.eval(() => document.querySelector("#composer").value), "", "a pasted file is sent, not written into the draft");
    await host.waitFor(() =>
      [...document.querySelectorAll("img.file-preview")].some((i) => i.alt.includes("holiday.jpg") && i.complete && i.naturalWidth === 8),
    );
    const jpegs = (await opfsFiles(host)).filter((f) => f.latin1.startsWith("\xff\xd8"));
    assert.equal(jpegs.length, 1);
    assert.equal(jpegs[0].latin1.includes("GPSLatitude"), false, "the Exif segment was removed before sending");
    assert.equal(jpegs[0].latin1.includes("Exif"), false);
    assert.deepEqual([...host.errors, ...guest.errors], []);
    await host.page.close();
    await guest.context.close();
  });

  it("aboveAutoLimit_Asked_DeclineOrSenderCancel_BothSidesCancelled_LeavingEndsIt", async () => {
    // Chromium at a phone's size: the cards fit and pass axe.
    const host = await chromiumPage(ctx.chromium, { width: 390, height: 844 });
    const guest = await firefoxPage(ctx.firefox);
    await connectPair(host, guest, ctx.server.url);
    for (const p of [host, guest]) {
      await p.eval(() => {
        const s = document.querySelector("#auto-accept");
        s.value = "0";
        s.dispatchEvent(new Event("change"));
      });
    }
    // Firefox is asked about Chromium's file and declines it.
    await pick(host, "ask-me.bin", "application/octet-stream", randomBytes(50_000));
    await card(guest, "in", "ask-me.bin", "asking");
    await guest.click('li.file-card[data-state="asking"] button[data-action="cancel"]');
    await card(guest, "in", "ask-me.bin", "cancelled");
    await card(host, "out", "ask-me.bin", "cancelled");
    // Chromium is asked about Firefox's file; Firefox cancels it first.
    await pick(guest, "never.bin", "application/octet-stream", randomBytes(40_000));
    await card(host, "in", "never.bin", "asking");
    await host.eval(AXE_SOURCE);
    const violations = await host.eval(async () => {
      const result = await window.axe.run(document.querySelector("#messages"), { resultTypes: ["violations"] });
      return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    });
    assert.deepEqual(violations, []);
    const fit = await host.eval(() => {
      const width = document.documentElement.clientWidth;
      const cards = [...document.querySelectorAll("li.file-card")].map((li) => li.getBoundingClientRect());
      const buttons = [...document.querySelectorAll("li.file-card button")].map((b) => b.getBoundingClientRect().height);
      return {
        width,
        scroll: document.documentElement.scrollWidth,
        right: Math.max(...cards.map((r) => r.right)),
        left: Math.min(...cards.map((r) => r.left)),
        minButton: Math.min(...buttons),
      };
    });
    assert.ok(fit.left >= 0 && fit.right <= fit.width && fit.scroll <= fit.width, JSON.stringify(fit));
    assert.ok(fit.minButton >= 44, `touch targets: ${fit.minButton}px`);
    await host.screenshot(artifact("web-files-phone.png"));
    await guest.click('li.file-card[data-state="offered"] button[data-action="cancel"]');
    await card(guest, "out", "never.bin", "cancelled");
    await card(host, "in", "never.bin", "cancelled");
    // Accepted after asking: it arrives.
    const ok = randomBytes(60_000);
    await pick(host, "accepted.bin", "application/octet-stream", ok);
    await card(guest, "in", "accepted.bin", "asking");
    await guest.click('li.file-card[data-state="asking"] button[data-action="accept"]');
    await card(guest, "in", "accepted.bin", "done");
    await card(host, "out", "accepted.bin", "done");
    assert.ok((await opfsFiles(guest)).some((f) => f.sha === sha(ok)));
    // Firefox is asked about one more and leaves the room instead: Chromium's card ends, "the other side left".
    await pick(host, "left-behind.bin", "application/octet-stream", randomBytes(30_000));
    await card(guest, "in", "left-behind.bin", "asking");
    assert.deepEqual([...host.errors, ...guest.errors], []);
    await guest.click("#leave");
    await card(host, "out", "left-behind.bin", "failed");
    assert.match(await host.eval(() => document.querySelector('li.file-card[data-state="failed"] .file-status').textContent), /left/);
    await host.context.close();
    await guest.page.close();
  });
});

// The e2e test build (web/e2e-build): `__ghostchatMesh.fail(peer)` closes the link's connection
// under the session, which redials it — a new RTCPeerConnection, so a new file lane.
describe("Files across a redial and in a group room (e2e build)", { timeout: 600_000 }, () => {
  const ctx = serverAndBrowsers({}, { web: E2E_DIST });

  it("linkRedialledMidTransfer_GoesOnFromTheVerifiedChunks_RightSha256", async () => {
    const host = await chromiumPage(ctx.chromium);
    const guest = await firefoxPage(ctx.firefox);
    await connectPair(host, guest, ctx.server.url);
    const guestId = await guest.eval(() => window.__ghostchatMesh.id());
    // The sender's page cuts the link once a quarter of the file is acknowledged, and records the
    // states its card goes through.
    await host.eval((peer) => {
      window.__fileStates = [];
      let cut = false;
      new MutationObserver(() => {
        const li = document.querySelector('li.file-card[data-direction="out"]');
        if (!li) return;
        if (window.__fileStates.at(-1) !== li.dataset.state) window.__fileStates.push(li.dataset.state);
        const bar = li.querySelector("progress");
        if (!cut && bar && bar.value > bar.max / 4) {
          cut = true;
          window.__ghostchatMesh.fail(peer);
        }
      }).observe(document.querySelector("#messages"), { subtree: true, childList: true, attributes: true });
    }, guestId);
    const bytes = randomBytes(24 * 1024 * 1024 + 99);
    await pick(host, "resume.bin", "application/octet-stream", bytes);
    const where = async () => {
      const show = (p) =>
        p.eval(() =>
          [...document.querySelectorAll("li.file-card")].map(
            (li) => `${li.dataset.state} ${li.querySelector("progress")?.value ?? ""} ${li.querySelector(".file-status")?.textContent}`,
          ),
        );
      return `sender ${(await host.eval(() => window.__fileStates)).join("→")} ${await show(host)}; receiver ${await show(guest)}; links ${await host.eval(() => window.__ghostchatMesh.links().length)}`;
    };
    await card(guest, "in", "resume.bin", "done").catch(async (e) => assert.fail(`${e.message}: ${await where()}`));
    await card(host, "out", "resume.bin", "done");
    const states = await host.eval(() => window.__fileStates);
    assert.ok(states.indexOf("paused") > states.indexOf("moving") && states.indexOf("moving") >= 0, `states: ${states.join(" → ")}`);
    assert.ok(states.lastIndexOf("moving") > states.indexOf("paused"), "it moved again after the cut");
    // The receiver takes chunks only in order from what it verified: a restart from chunk 0 would have failed it.
    assert.ok((await opfsFiles(guest)).some((f) => f.sha === sha(bytes) && f.size === bytes.length));
    assert.deepEqual([...host.errors, ...guest.errors], []);
    await host.context.close();
    await guest.page.close();
  });

  it("groupOfThree_OneFileReachesBothMembers", async () => {
    const host = await chromiumPage(ctx.chromium);
    const link = await createRoom(host, ctx.server.url, "group");
    const members = [await firefoxPage(ctx.firefox), await chromiumPage(ctx.chromium)];
    for (const m of members) await m.goto(link);
    for (const p of [host, ...members]) await p.waitFor(() => window.__ghostchatMesh?.links().length >= 2);
    const bytes = randomBytes(1024 * 1024 + 3);
    await pick(host, "to-all.bin", "application/octet-stream", bytes);
    for (const m of members) await card(m, "in", "to-all.bin", "done");
    await card(host, "out", "to-all.bin", "done");
    for (const m of members) assert.ok((await opfsFiles(m)).some((f) => f.sha === sha(bytes)));
    assert.deepEqual([...host.errors, ...members.flatMap((m) => m.errors)], []);
    // The Chromium member closes its page; the next room opened in that browser removes what it kept.
    const context = members[1].context;
    await members[1].page.close();
    const next = await context.newPage();
    await next.goto(ctx.server.url + "/");
    await next.waitForFunction(() => document.body.dataset.view === "home");
    await next.click("#new-room");
    await next.waitForFunction(() => document.body.dataset.view === "invite");
    const left = () =>
      next.evaluate(async () => {
        let files = 0;
        const root = await (await navigator.storage.getDirectory()).getDirectoryHandle("ghostchat-files");
        for await (const [, page] of root.entries()) for await (const [, h] of page.entries()) if (h.kind === "file") files++;
        return files;
      });
    for (let i = 0; i < 200 && (await left()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await left(), 0);
    await host.context.close();
    await members[0].page.close();
    await context.close();
  });
});

// Resume after the receiver reloads its page (docs/protocol.md, "Files"): the receiver's page
// reloads itself mid-transfer (location.reload(), as a user pressing reload), rejoins the room as a
// new member, finds its partial file (OPFS) and its record (IndexedDB) and asks the sender to go on
// from the chunks it kept; the sender's card moves on from there, not from zero.
describe("Files: the receiver reloads its page mid-transfer", { timeout: 600_000 }, () => {
  const ctx = serverAndBrowsers();

  // Firefox does not get its goodbye out when a page reloads (Chromium does): the room still holds
  // the old page's seat. The reloaded page proves the member key the old one had (the tab hands it
  // on) and takes that seat at once; before, a 1:1 room refused it as "busy" until the old page
  // counted as unreachable (a minute), and the kept file had given up by then.
  for (const [senderKind, receiverKind, kind] of [
    ["firefox", "chromium", "pair"],
    ["chromium", "firefox", "pair"],
    ["chromium", "firefox", "group"],
  ]) {
    it(`${senderKind}Sends_${receiverKind}Reloads_${kind}_GoesOnFromTheKeptChunks_RightSha256OnDisk_RecordRemoved`, async () => {
      const open = (k) => (k === "chromium" ? chromiumPage(ctx.chromium) : firefoxPage(ctx.firefox));
      const host = await open(senderKind);
      const guest = await open(receiverKind);
      await guest.goto(await createRoom(host, ctx.server.url, kind));
      for (const p of [host, guest]) await p.waitFor(() => document.body.dataset.view === "chat" && document.body.dataset.phase === "connected");
      // Accepted without asking (the user's setting, kept across the reload).
      await acceptUpTo1GiB(guest);
      // The sender's card: every state and progress value it is drawn with.
      await host.eval(() => {
        window.__drawn = [];
        new MutationObserver(() => {
          const li = document.querySelector('li.file-card[data-direction="out"]');
          if (!li) return;
          const value = li.querySelector("progress")?.value ?? null;
          const last = window.__drawn.at(-1);
          if (!last || last.state !== li.dataset.state || last.value !== value) window.__drawn.push({ state: li.dataset.state, value });
        }).observe(document.querySelector("#messages"), { subtree: true, childList: true, attributes: true });
      });
      // The receiver reloads once a third of the file is verified (at least two 8 MiB segments on disk).
      await guest.eval(() => {
        window.__old = true; // this page, not the reloaded one
        new MutationObserver(() => {
          const bar = document.querySelector('li.file-card[data-direction="in"] progress');
          if (bar && bar.value > bar.max / 3 && !window.__reloading) {
            window.__reloading = true;
            location.reload();
          }
        }).observe(document.querySelector("#messages"), { subtree: true, childList: true, attributes: true });
      });
      const bytes = randomBytes(64 * 1024 * 1024 + 4321);
      await pick(host, "kept.bin", "application/octet-stream", bytes);
      // The reloaded page is let in (not refused as "busy": the error page), shows the kept
      // transfer, then receives the rest.
      await guest.waitFor(
        () =>
          !window.__old && (document.body.dataset.view === "error" || (document.body.dataset.view === "chat" && document.body.dataset.phase === "connected")),
      );
      assert.equal(await guest.eval(() => document.body.dataset.view), "chat", await guest.eval(() => document.querySelector("#error-body")?.textContent));
      await guest.waitFor(() => document.body.dataset.view === "chat" && !window.__reloading && document.querySelector('li.file-card[data-direction="in"]'));
      const show = (p) =>
        p.eval(() =>
          [...document.querySelectorAll("li.file-card")].map(
            (li) => `${li.dataset.state} ${li.querySelector("progress")?.value ?? ""} ${li.querySelector(".file-status")?.textContent}`,
          ),
        );
      await card(guest, "in", "kept.bin", "done").catch(async (e) =>
        assert.fail(
          `${e.message}: sender ${JSON.stringify(await host.eval(() => window.__drawn))} ${await show(host)}; receiver ${await show(guest)} ${await guest.eval(() => `${document.body.dataset.view} ${document.body.dataset.phase} ${document.querySelector("#status").textContent}`)}`,
        ),
      );
      await card(host, "out", "kept.bin", "done");
      const drawn = await host.eval(() => window.__drawn);
      const cut = drawn.findIndex((d) => d.state === "failed" || d.state === "paused");
      assert.ok(cut > 0, `the sender saw the receiver go: ${JSON.stringify(drawn)}`);
      const again = drawn.slice(cut).find((d) => d.state === "moving");
      assert.ok(again && again.value >= 8 * 1024 * 1024, `went on from the kept chunks, not from 0: ${JSON.stringify(drawn)}`);
      assert.ok(
        (await opfsFiles(guest)).some((f) => f.sha === sha(bytes) && f.size === bytes.length),
        `${receiverKind} has the whole file with the sender's SHA-256`,
      );
      assert.equal(await partialRecords(guest), 0, "the record of the partial file is gone once the file is done");
      assert.deepEqual([...host.errors, ...guest.errors], []);
      for (const p of [host, guest]) await (p.context ? p.context.close() : p.page.close());
    });
  }
});

describe("Files: panic clear while a file arrives", { timeout: 600_000 }, () => {
  const ctx = serverAndBrowsers();

  it("panicMidTransfer_KeptRecordAndPartialFileGone_SenderToldCancelled", async () => {
    const host = await firefoxPage(ctx.firefox);
    const guest = await chromiumPage(ctx.chromium);
    await connectPair(host, guest, ctx.server.url);
    await acceptUpTo1GiB(guest);
    await pick(host, "secret.bin", "application/octet-stream", randomBytes(96 * 1024 * 1024));
    // Once a record of the partial file is kept, panic.
    for (let i = 0; i < 900 && (await partialRecords(guest)) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok((await partialRecords(guest)) > 0, "a record of the partial file was kept while it arrived");
    await guest.click("#panic");
    await card(host, "out", "secret.bin", "cancelled");
    for (let i = 0; i < 200 && ((await partialRecords(guest)) > 0 || (await opfsFiles(guest)).length > 0); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await partialRecords(guest), 0, "no record of the partial file is left");
    assert.deepEqual(await opfsFiles(guest), []);
    assert.deepEqual([...host.errors, ...guest.errors], []);
    await host.page.close();
    await guest.context.close();
  });
});

// The operator's limit (GhostChat:Files:MaxBytes, here 1 MiB) reaches each page in its /api/ice
// answer: the page says it, a sender does not offer a larger file, and a receiver refuses a larger
// offer from a sender that does not keep to the limit — a Chromium page whose /api/ice answer is
// rewritten on its way in (Playwright's route) to allow 1 GiB.
describe("Files: the operator's size limit", { timeout: 600_000 }, () => {
  const ctx = serverAndBrowsers({ GhostChat__Files__MaxBytes: String(1024 * 1024) });

  /** A Chromium page told by its /api/ice answer that files up to 1 GiB are fine. */
  async function laxChromium() {
    const p = await chromiumPage(ctx.chromium);
    await p.page.route("**/api/ice*", async (route) => {
      const response = await route.fetch();
      route.fulfill({ response, json: { ...(await response.json()), maxFileBytes: 2 ** 30 } });
    });
    return p;
  }

  const note = (p) => p.eval(() => document.querySelector("#file-limit").textContent);

  for (const receiverKind of ["firefox", "chromium"]) {
    it(`aboveTheLimit_${receiverKind}SenderRefusesWithAMessage_${receiverKind}ReceiverRefusesALaxSender`, async () => {
      const lax = await laxChromium();
      const honest = receiverKind === "firefox" ? await firefoxPage(ctx.firefox) : await chromiumPage(ctx.chromium);
      await connectPair(lax, honest, ctx.server.url);
      await honest.waitFor(() => document.querySelector("#file-limit").textContent.includes("1.0 MB"));
      assert.equal(await note(honest), "This server allows files up to 1.0 MB.");
      assert.equal(await honest.eval(() => document.querySelector("#attach").getAttribute("aria-label")), "Send a file (up to 1.0 MB)");
      assert.equal(await note(lax), "This server allows files up to 1.0 GB.");

      // The honest page does not offer a file above the limit: a card says so, nothing reaches the other side.
      await pick(honest, "too-big.bin", "application/octet-stream", randomBytes(1024 * 1024 + 1));
      await honest.waitFor(() => document.querySelector('li.file-card[data-state="refused"]'));
      assert.equal(
        await honest.eval(() => document.querySelector('li.file-card[data-state="refused"] .file-status').textContent),
        "too-big.bin was not sent: it is larger than this server allows (1.0 MB).",
      );
      assert.equal(
        await honest.eval(() => document.querySelector("#announcer").textContent),
        "too-big.bin was not sent: it is larger than this server allows (1.0 MB).",
      );
      // At the limit exactly it goes.
      const fits = randomBytes(1024 * 1024);
      await pick(honest, "fits.bin", "application/octet-stream", fits);
      await card(lax, "in", "fits.bin", "done");
      assert.equal(await lax.eval(() => [...document.querySelectorAll("li.file-card")].some((li) => li.textContent.includes("too-big.bin"))), false);

      // The lax page offers a larger one: the honest receiver refuses it (too large), both cards say so.
      await pick(lax, "lax.bin", "application/octet-stream", randomBytes(2 * 1024 * 1024));
      await card(honest, "in", "lax.bin", "failed");
      await card(lax, "out", "lax.bin", "failed");
      for (const p of [honest, lax])
        assert.equal(
          await p.eval(
            () =>
              [...document.querySelectorAll('li.file-card[data-state="failed"]')].find((li) => li.textContent.includes("lax.bin")).querySelector(".file-status")
                .textContent,
          ),
          "Failed: larger than the limit",
        );
      // Nothing of it was written.
      assert.ok((await opfsFiles(honest)).every((f) => f.size <= 1024 * 1024));
      assert.deepEqual([...lax.errors, ...honest.errors], []);
      await lax.context.close();
      await (honest.context ? honest.context.close() : honest.page.close());
    });
  }
});

// A receiver whose browser dies mid-transfer (its process killed by PID: no goodbye, as when a
// phone kills a tab) stays a member, "reconnecting"; once no path has reached it for a minute
// (the room engine's unreachableAfterMs) the sender's transfer to it fails, saying so, and offers
// Send again: the file goes to whoever is connected then (here the next person with the link).
describe("Files: a receiver whose tab died without a goodbye", { timeout: 600_000 }, () => {
  const ctx = serverAndBrowsers();

  it("receiverKilled_SenderFailsUnreachableAfterAMinute_SendAgainReachesTheNextMember_RightSha256", async () => {
    const doomed = await launchFirefox();
    const pid = doomed.process().pid;
    try {
      const host = await chromiumPage(ctx.chromium);
      const guest = await firefoxPage(doomed);
      const link = await connectPair(host, guest, ctx.server.url);
      await acceptUpTo1GiB(guest);
      const bytes = randomBytes(96 * 1024 * 1024 + 11);
      await pick(host, "orphan.bin", "application/octet-stream", bytes);
      await card(guest, "in", "orphan.bin", "moving");
      process.kill(pid, "SIGKILL");
      await card(host, "out", "orphan.bin", "failed", 150_000);
      const status = () =>
        host.eval(
          () =>
            [...document.querySelectorAll('li.file-card[data-direction="out"]')]
              .find((li) => li.textContent.includes("orphan.bin"))
              .querySelector(".file-status").textContent,
        );
      assert.equal(await status(), "Failed: the other side could not be reached for a minute");
      // The unreachable member's seat goes to the next person with the link; Send again reaches them.
      const next = await chromiumPage(ctx.chromium);
      await next.goto(link);
      await next.waitFor(() => document.body.dataset.phase === "connected" && document.body.dataset.view === "chat");
      await host.click('li.file-card[data-state="failed"] button[data-action="resend"]');
      // Above the default automatic limit (25 MiB): the new member is asked first.
      await card(next, "in", "orphan.bin", "asking");
      await next.click('li.file-card[data-state="asking"] button[data-action="accept"]');
      await card(next, "in", "orphan.bin", "done");
      assert.ok((await opfsFiles(next)).some((f) => f.sha === sha(bytes) && f.size === bytes.length));
      assert.deepEqual([...host.errors, ...next.errors], []);
      await host.context.close();
      await next.context.close();
    } finally {
      await doomed.close().catch(() => undefined);
    }
  });
});
