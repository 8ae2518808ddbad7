// Attack: somebody holding a room's invite link takes the host's peer id while the host's page is
// away (reloading, closed, offline), to break the invites and receive the joiners' offers. The
// squatter is the official peerjs@1.5.5 client in its own Chromium page, registering the id from the
// link with a token of its own. The host's id is token-bound (docs/protocol.md, "Peer ids"), so the
// real server refuses it; the host comes back with its kept token and the joiner reaches the real host.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { chromiumPage, createRoom, send, serverAndChromium, waitConnected, waitIncoming, wrapPage } from "./harness.mjs";

const PEERJS = readFileSync(createRequire(import.meta.url).resolve("peerjs/dist/peerjs.min.js"), "utf8");

/**
 * In a blank page, the official client registers `id` with its own token as soon as the id is free
 * (it retries while the server still answers ID-TAKEN for the host's closing socket). Resolves with
 * "open" or the client's error; the page keeps the peer and counts the connections it is offered.
 */
async function squat(page, port, id) {
  await page.addScriptTag({ content: PEERJS });
  return page.evaluate(
    async ({ port, id }) => {
      window.offered = 0;
      for (let attempt = 0; attempt < 200; attempt++) {
        const peer = new window.peerjs.Peer(id, { host: "127.0.0.1", port, path: "/", key: "peerjs", secure: false, token: "squatter-token", debug: 0 });
        const result = await new Promise((resolve) => {
          peer.on("open", () => resolve("open"));
          peer.on("error", (e) => resolve(`${e.type}: ${e.message}`));
        });
        if (!result.startsWith("unavailable-id")) {
          window.squatter = peer;
          peer.on("connection", () => window.offered++);
          return result;
        }
        peer.destroy();
        await new Promise((r) => setTimeout(r, 50));
      }
      return "the id stayed taken";
    },
    { port, id },
  );
}

describe("Room host ids cannot be squatted (Chromium, official peerjs client, real server)", { timeout: 200_000 }, () => {
  const ctx = serverAndChromium();

  it("hostAway_SquatterWithTheLinkIsRefused_HostComesBack_JoinerReachesTheRealHost", async () => {
    const { server, browser } = ctx;
    const host = await chromiumPage(browser);
    const link = await createRoom(host, server.url);
    const hostId = decodeURIComponent(new URL(link).hash.split(".")[1]);
    await host.page.close(); // the host's tab is gone; its browser keeps the identity (IndexedDB)

    const attacker = await browser.newContext();
    const squatterPage = await attacker.newPage();
    const answer = await squat(squatterPage, server.port, hostId);
    assert.equal(answer, "server-error: Invalid id: this id belongs to another token (ids beginning with 'gc1-' are made from their token)");

    // A friend opens the link while the host is still away, then the host's browser opens the app again.
    const guest = await chromiumPage(browser);
    await guest.goto(link);
    await guest.waitFor(() => ["connecting", "connecting-retry"].includes(document.body.dataset.phase));
    const back = wrapPage(await host.context.newPage(), "playwright");
    await back.goto(server.url + "/");
    await Promise.all([waitConnected(back), waitConnected(guest)]);
    assert.equal(
      await back.eval(() => document.querySelector("#verify-code").dataset.code),
      await guest.eval(() => document.querySelector("#verify-code").dataset.code),
    );
    await send(back, "the real host");
    await waitIncoming(guest, "the real host");
    assert.equal(await squatterPage.evaluate(() => window.offered), 0);
    await attacker.close();
    await host.context.close();
    await guest.context.close();
  });

  // A room opened by an earlier version has a server-handed UUID as host id: after the upgrade the
  // host resumes it with that id and its kept token, and the links it gave out still work.
  it("roomFromAnEarlierVersion_HostResumesWithItsOldId_OldLinkStillWorks", async () => {
    const { server, browser } = ctx;
    const host = await chromiumPage(browser);
    const link = await createRoom(host, server.url);
    await host.page.close();
    const oldId = "0f0e0d0c-0b0a-4908-8706-050403020100";
    const edit = await host.context.newPage();
    await edit.goto(server.url + "/healthz"); // same origin, no app running
    await edit.evaluate(
      (oldId) =>
        new Promise((resolve, reject) => {
          const req = indexedDB.open("ghostchat-invites");
          req.onerror = () => reject(req.error);
          req.onsuccess = () => {
            const tx = req.result.transaction("host", "readwrite");
            const store = tx.objectStore("host");
            const get = store.get("identity");
            get.onsuccess = () => store.put({ ...get.result, peerId: oldId }, "identity");
            tx.oncomplete = () => resolve();
            tx.onerror = () => reject(tx.error);
          };
        }),
      oldId,
    );
    await edit.close();
    const back = wrapPage(await host.context.newPage(), "playwright");
    await back.goto(server.url + "/");
    await back.waitFor(() => document.body.dataset.view === "invite" && document.body.dataset.phase === "waiting");
    const parts = new URL(link).hash.split(".");
    parts[1] = oldId;
    const guest = await chromiumPage(browser);
    await guest.goto(link.split("#")[0] + parts.join("."));
    await Promise.all([waitConnected(back), waitConnected(guest)]);
    await send(back, "old link");
    await waitIncoming(guest, "old link");
    await host.context.close();
    await guest.context.close();
  });
});
