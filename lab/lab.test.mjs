// The `lab` suite: real browsers in network namespaces behind NATs and firewalls, the real server on
// the public side. Runs only as root with CAP_NET_ADMIN; otherwise every test reports a clear skip.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { before, describe, it } from "node:test";
import { createRoomAndJoin } from "./pair.mjs";
import { labSuite } from "./suite.mjs";
import { createLab, labUnavailableReason, leftoverNamespaces, ROOT, scenario, SERVER_IP } from "./netlab.mjs";
import { FIREFOX_NOTICES, newPage, runDiagnosticsPage, sendAndReceive, waitPath } from "./browser.mjs";

const skip = labUnavailableReason();
const ARTIFACTS = process.env.GHOSTCHAT_ARTIFACTS ?? path.join(ROOT, "web/test-artifacts");
const artifact = (name) => (mkdirSync(ARTIFACTS, { recursive: true }), path.join(ARTIFACTS, name));

describe("network lab: lifecycle", { skip: skip ?? false }, () => {
  it("destroy_RemovesEveryNamespace_EvenAfterAFailedBuild", async () => {
    const lab = await createLab(["cone", "slow"]);
    const prefix = lab.prefix;
    assert.equal(leftoverNamespaces(prefix).length, 5); // srv, r1, c1, r2, c2
    await lab.destroy();
    assert.deepEqual(leftoverNamespaces(prefix), []);

    const bad = { ...scenario("cone"), name: "bad", nat: "carrier-grade" };
    const before = execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
    await assert.rejects(createLab(["cone", bad], { prefix: "glfail-" }), /unknown nat 'carrier-grade'/);
    assert.deepEqual(leftoverNamespaces("glfail-"), []);
    assert.equal(execFileSync("ip", ["netns", "list"], { encoding: "utf8" }), before);
  });

  it("delay_HoldsPackets_LossDrops", async () => {
    const lab = await createLab([{ ...scenario("cone"), name: "d", delayMs: 100 }, { ...scenario("cone"), name: "l", lossPercent: 100 }]);
    try {
      // A TCP connect to a closed port is one round trip (SYN → RST): 2 × 100 ms through the delayed router.
      const rtt = (c) => Number(lab.exec(c, "bash", ["-c", `s=$(date +%s%N); timeout 5 bash -c "echo > /dev/tcp/198.51.100.1/9" 2>/dev/null; echo $(( ($(date +%s%N)-s)/1000000 ))`]).trim());
      assert.ok(rtt("c1") >= 190, `delayed round trip ${rtt("c1")} ms`);
      // 100 % loss: the connect never gets an answer (the 5 s timeout ends it).
      assert.ok(rtt("c2") >= 4900);
    } finally {
      await lab.destroy();
    }
  });
});

describe("network lab: network changes", { skip: skip ?? false }, () => {
  /** Sends one UDP datagram from client `c` to the server side; resolves with the address:port the server saw, or null. */
  async function seenBy(lab, c) {
    const listener = spawn("ip", ["netns", "exec", lab.ns("srv"), process.execPath, "-e",
      `const s = require("dgram").createSocket("udp4"); s.on("message", (m, r) => { console.log(r.address + ":" + r.port); process.exit(0); }); s.bind(9999, "${SERVER_IP}", () => console.log("up")); setTimeout(() => process.exit(0), 3000);`]);
    let out = "";
    await new Promise((resolve) => listener.stdout.on("data", (d) => ((out += d), out.startsWith("up\n") && resolve())));
    try {
      lab.exec(c, process.execPath, ["-e", `const s = require("dgram").createSocket("udp4"); s.send("x", 9999, "${SERVER_IP}", () => s.close());`]);
    } catch { /* a cut may refuse nothing: UDP just vanishes */ }
    await new Promise((resolve) => listener.once("exit", resolve));
    return out.split("\n").slice(1).find(Boolean) ?? null;
  }

  it("cutPaths_DropsAllButSignaling_MoveSide_NewAddressForTheInternet", async () => {
    const lab = await createLab(["cone", "cone"]);
    try {
      assert.match(await seenBy(lab, "c1"), /^198\.51\.100\.11:/);
      lab.cutPaths();
      assert.equal(await seenBy(lab, "c1"), null, "UDP through the cut");
      assert.ok(lab.cutDrops(1) > 0);
      // TCP to the signaling port still passes (refused: nothing listens there in this test).
      assert.match(lab.exec("c1", "bash", ["-c", `timeout 3 bash -c "echo > /dev/tcp/${SERVER_IP}/443" 2>&1; echo rc=$?`]), /refused/);
      lab.restorePaths();
      assert.match(await seenBy(lab, "c1"), /^198\.51\.100\.11:/);
      const moved = lab.moveSide(1);
      assert.deepEqual(moved, { clientIp: "10.1.1.2", wanIp: "198.51.100.51", oldWan: "198.51.100.11" });
      assert.match(await seenBy(lab, "c1"), /^198\.51\.100\.51:/);
      assert.match(lab.exec("c1", "ip", ["-4", "-o", "addr", "show", "dev", "eth0"]), /10\.1\.1\.2\/24/);
      assert.doesNotMatch(lab.exec("c1", "ip", ["-4", "-o", "addr", "show", "dev", "eth0"]), /10\.1\.0\.2/);
    } finally {
      await lab.destroy();
    }
  });
});

describe("network lab: diagnostics, chat paths and errors", { skip: skip ?? false }, () => {
  // Sides: 1 open (public address), 2 cone, 3 symmetric, 4 udp-blocked, 5 tcp443-only, 6 slow-lossy, 7 cone.
  const SIDES = ["open", "cone", "symmetric", "udp-blocked", "tcp443-only", "slow-lossy", "cone"];
  const env = labSuite(SIDES);
  const browsers = new Map();
  const browser = async (side) => {
    if (!browsers.has(side)) browsers.set(side, await env.lab.launchChromium(side));
    return browsers.get(side);
  };

  const expectations = {
    1: { outlook: "direct", has: ["no-nat", "turn-udp-ok", "turn-tcp-ok", "turn-tls-ok"], not: ["udp-blocked"] },
    2: { outlook: "direct", has: ["nat-friendly", "turn-udp-ok"], not: ["symmetric-nat", "udp-blocked"] },
    3: { outlook: "relay", has: ["symmetric-nat", "turn-udp-ok", "turn-tcp-ok"], not: ["nat-friendly"] },
    4: { outlook: "relay", has: ["udp-blocked", "turn-tcp-ok", "turn-tls-ok"], not: ["turn-udp-ok", "only-443"] },
    5: { outlook: "relay", has: ["udp-blocked", "turn-tls-ok", "only-443"], not: ["turn-tcp-ok", "turn-udp-ok"] },
  };

  it("diagnostics_ReachTheRightVerdict_PerScenario", async () => {
    const results = await Promise.all(Object.keys(expectations).map(async (side) => {
      const { page, context } = await newPage(await browser(Number(side)));
      const result = await runDiagnosticsPage(page, env.url);
      if (side === "5") {
        await page.locator("#diag-summary").scrollIntoViewIfNeeded();
        await page.screenshot({ path: artifact("lab-diagnostics-tcp443-only.png"), fullPage: true });
      }
      await context.close();
      return [side, result];
    }));
    for (const [side, r] of results) {
      const e = expectations[side];
      const label = `${SIDES[side - 1]}: ${r.verdicts.join(" ")}`;
      assert.equal(r.outlook, e.outlook, label);
      for (const v of e.has) assert.ok(r.verdicts.includes(v), `${label} lacks ${v}`);
      for (const v of e.not) assert.ok(!r.verdicts.includes(v), `${label} has ${v}`);
      assert.equal(r.report.signaling.ok, true);
      assert.doesNotMatch(JSON.stringify(r.report), /"credential"/);
    }
    // The symmetric side saw two mappings for one socket; the cone side one.
    assert.equal(results.find(([s]) => s === "3")[1].report.nat.mapped.length, 2);
    assert.equal(results.find(([s]) => s === "2")[1].report.nat.mapped.length, 1);
  });

  // [host side, guest side, expected path on the host, on the guest] (data-path of #quality).
  const pairs = [
    [2, 7, /^direct-udp$/, /^direct-udp$/],
    [3, 2, /^relay-/, /^relay-/],
    [1, 4, /./, /^relay-tcp$/],
    [3, 5, /./, /^relay-tls$/],
    [6, 7, /./, /./],
  ];
  for (const [hostSide, guestSide, hostPath, guestPath] of pairs) {
    it(`chat_Connects_${SIDES[hostSide - 1]}_to_${SIDES[guestSide - 1]}_ShowsPath`, async () => {
      const host = await newPage(await browser(hostSide));
      const guest = await newPage(await browser(guestSide));
      try {
        await createRoomAndJoin(host.page, guest.page, env.url);
        const [hp, gp] = await Promise.all([waitPath(host.page), waitPath(guest.page)]);
        assert.match(hp.path, hostPath, `host ${JSON.stringify(hp)}`);
        assert.match(gp.path, guestPath, `guest ${JSON.stringify(gp)}`);
        if (/^relay/.test(hp.path) || /^relay/.test(gp.path)) assert.ok(/relay/.test(hp.path) && /relay/.test(gp.path), "both sides see the relay");
        await sendAndReceive(host.page, guest.page, `hello from ${SIDES[hostSide - 1]}`);
        await sendAndReceive(guest.page, host.page, `hello from ${SIDES[guestSide - 1]}`);
        if (guestSide === 5) {
          await guest.page.focus("#quality");
          await guest.page.screenshot({ path: artifact("lab-quality-relay-tls.png") });
          assert.match(gp.tooltip, /relay over TLS/);
        }
        assert.deepEqual([...host.errors, ...guest.errors], []);
      } finally {
        await host.context.close();
        await guest.context.close();
      }
    });
  }

  it("nothingReachable_ErrorExplainsAndOffersRelayAndDiagnostics", async () => {
    // The relay's TLS listener is off: the tcp443-only side has no path at all (signaling still works on 443).
    await env.lab.stopServer();
    env.url = (await env.lab.startServer({ GhostChat__Turn__TlsCertificatePath: null, GhostChat__Turn__TlsKeyPath: null, GhostChat__Ice__Providers__embedded__Urls__4: null })).url;
    const host = await newPage(await browser(2));
    const guest = await newPage(await browser(5));
    try {
      const diag = await runDiagnosticsPage(guest.page, env.url);
      assert.equal(diag.outlook, "none", diag.verdicts.join(" "));
      assert.ok(diag.verdicts.includes("relay-unreachable"), diag.verdicts.join(" "));
      await createRoomAndJoin(host.page, guest.page, env.url, { expectError: true });
      await guest.page.waitForFunction(() => document.body.dataset.view === "error", null, { timeout: 120_000 });
      const shown = await guest.page.evaluate(() => ({
        kind: document.querySelector("#view-error").dataset.kind,
        title: document.querySelector("#error-title").textContent,
        body: document.querySelector("#error-body").textContent,
        cause: document.querySelector("#error-cause").textContent,
        actions: [...document.querySelectorAll("#view-error button:not([hidden])")].map((b) => b.id),
      }));
      assert.equal(shown.kind, "ice-failed", JSON.stringify(shown));
      assert.match(shown.body, /none got through/);
      assert.match(shown.cause, /firewall/);
      assert.ok(shown.actions.includes("error-action-retry-relay") && shown.actions.includes("error-action-diagnostics") && shown.actions.includes("error-action-copy-report"), shown.actions.join(" "));
      // Automatic retries came first.
      const attempts = await guest.page.evaluate(() => performance.getEntriesByName("ghostchat:connecting").length);
      assert.ok(attempts >= 2, `attempts ${attempts}`);
      await guest.page.screenshot({ path: artifact("lab-error-no-path.png") });
    } finally {
      await host.context.close();
      await guest.context.close();
    }
  });
});

describe("network lab: Firefox", { skip: skip ?? false }, () => {
  // Sides: 1 cone (the Chromium host), 2 symmetric and 3 udp-blocked (Firefox guests).
  const SIDES = ["cone", "symmetric", "udp-blocked"];
  const env = labSuite(SIDES);
  let chromium;

  before(async () => {
    chromium = await env.lab.launchChromium(1);
  });

  // [Firefox guest's side, expected data-path of #quality on the Firefox side].
  for (const [guestSide, guestPath] of [[2, /^relay-/], [3, /^relay-tcp$/]]) {
    it(`firefox_Joins_ChromiumHost_cone_from_${SIDES[guestSide - 1]}_Relayed`, async () => {
      const host = await newPage(chromium);
      const firefox = await env.lab.launchFirefox(guestSide);
      try {
        assert.match(await firefox.page.evaluate(() => navigator.userAgent), /Firefox\//);
        await createRoomAndJoin(host.page, firefox.page, env.url);
        const [hp, gp] = await Promise.all([waitPath(host.page), waitPath(firefox.page)]);
        assert.match(gp.path, guestPath, `Firefox ${JSON.stringify(gp)}`);
        assert.match(hp.path, /^relay-/, `Chromium host ${JSON.stringify(hp)}`);
        await sendAndReceive(host.page, firefox.page, "hello Firefox, from Chromium behind a cone NAT");
        await sendAndReceive(firefox.page, host.page, `hello Chromium, from Firefox behind ${SIDES[guestSide - 1]}`);
        await firefox.page.focus("#quality");
        await firefox.page.screenshot({ path: artifact(`lab-firefox-${SIDES[guestSide - 1]}.png`) });
        assert.deepEqual([...host.errors, ...(await firefox.errors()).filter((e) => !FIREFOX_NOTICES.test(e))], []);
      } finally {
        await host.context.close();
        await firefox.close();
      }
    });
  }
});
