// The diagnostics page and the error view outside the network lab (no root needed): the page runs
// its checks against the real server, summarises, offers the JSON report, passes axe, and CSP holds;
// an error names its kind, cause and actions. The lab suite (lab/lab.test.mjs) checks the verdicts
// behind real NATs and firewalls.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { artifact, AXE_SOURCE, chromiumPage, firefoxPage, launchChromium, launchFirefox, startServer } from "./harness.mjs";

describe("diagnostics page and error view", () => {
  let server;
  let browser;
  before(async () => {
    // The embedded TURN on free loopback ports: STUN/TURN answer, but relaying to loopback is denied.
    server = await startServer({
      GhostChat__Turn__Enabled: "true",
      GhostChat__Turn__UdpPort: "0",
      GhostChat__Turn__TcpPort: "0",
      GhostChat__Turn__ListenAddresses__0: "127.0.0.1",
    });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("diagnostics_RunsEveryCheck_SummaryReportAndGuide_Accessible", async () => {
    const p = await chromiumPage(browser);
    await p.goto(server.url + "/diagnostics.html");
    await p.click("#diag-run");
    await p.waitFor(() => document.body.dataset.diag === "done", undefined, 120_000);
    const r = await p.eval(() => ({
      outlook: document.querySelector("#diag-summary").dataset.outlook,
      verdicts: document.querySelector("#diag-summary").dataset.verdicts,
      headline: document.querySelector("#diag-headline").textContent,
      advice: document.querySelectorAll("#diag-advice li").length,
      steps: [...document.querySelectorAll("#diag-steps > li")].map((li) => li.dataset.step),
      progress: document.querySelector("#diag-progress").value,
      report: JSON.parse(document.querySelector("#diag-report").value),
      guide: document.querySelectorAll("#guide details").length,
    }));
    assert.deepEqual(r.steps.slice(0, 3), ["capabilities", "signaling", "ice"]);
    assert.equal(r.progress, 100);
    assert.equal(r.report.version, 1);
    assert.equal(r.report.capabilities.peerConnection, true);
    assert.equal(r.report.signaling.ok, true);
    assert.equal(typeof r.report.signaling.latencyMs, "number");
    assert.equal(r.report.ice.ok, true);
    assert.ok(r.headline.length > 10 && r.advice > 0);
    assert.equal(r.guide, 6);
    assert.doesNotMatch(JSON.stringify(r.report), /"credential"|"username"/);
    await p.eval(AXE_SOURCE);
    const violations = await p.eval(async () => {
      const result = await window.axe.run(document, { resultTypes: ["violations"] });
      return result.violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    });
    assert.deepEqual(violations, []);
    await p.screenshot(artifact("web-diagnostics.png"));
    assert.deepEqual(p.errors, []);
    await p.context.close();
  });

  it("diagnostics_ServerGone_SignalingDownAndNoneOutlook", async () => {
    const p = await chromiumPage(browser);
    await p.goto(server.url + "/diagnostics.html");
    // Point the page at a port where nothing listens (the saved server settings the app also uses).
    await p.eval(() =>
      localStorage.setItem(
        "ghostchat.settings.v1",
        JSON.stringify({ custom: true, host: "127.0.0.1", port: 9, path: "/", key: "peerjs", secure: false, iceServers: [] }),
      ),
    );
    await p.page.reload();
    await p.click("#diag-run");
    await p.waitFor(() => document.body.dataset.diag === "done", undefined, 120_000);
    const r = await p.eval(() => ({
      outlook: document.querySelector("#diag-summary").dataset.outlook,
      verdicts: document.querySelector("#diag-summary").dataset.verdicts,
    }));
    assert.equal(r.outlook, "none");
    assert.match(r.verdicts, /signaling-down/);
    await p.context.close();
  });

  it("diagnostics_Firefox_CompletesWithSummary", async () => {
    const firefox = await launchFirefox();
    try {
      const p = await firefoxPage(firefox);
      await p.goto(server.url + "/diagnostics.html");
      await p.click("#diag-run");
      await p.waitFor(() => document.body.dataset.diag === "done", undefined, 120_000);
      const r = await p.eval(() => ({
        hidden: document.querySelector("#diag-summary").hidden,
        outlook: document.querySelector("#diag-summary").dataset.outlook,
        report: JSON.parse(document.querySelector("#diag-report").value),
      }));
      assert.equal(r.hidden, false);
      assert.ok(["direct", "relay", "none", "unknown"].includes(r.outlook));
      assert.equal(r.report.capabilities.peerConnection, true);
      assert.equal(r.report.signaling.ok, true);
      assert.deepEqual(p.errors, []);
    } finally {
      await firefox.close();
    }
  });

  it("errorView_ExpiredInvite_KindCauseAndActions", async () => {
    const p = await chromiumPage(browser);
    await p.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
    await p.goto(`${server.url}/#join=2.host.roomroomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.1000.KKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK`);
    await p.waitFor(() => document.body.dataset.view === "error");
    const shown = await p.eval(() => ({
      kind: document.querySelector("#view-error").dataset.kind,
      cause: document.querySelector("#error-cause").textContent,
      buttons: [...document.querySelectorAll("#view-error button:not([hidden])")].map((b) => b.id),
    }));
    assert.equal(shown.kind, "invite-expired");
    assert.match(shown.cause, /older than its expiry/);
    assert.ok(shown.buttons.includes("error-action-new-invite") && shown.buttons.includes("error-home"));
    assert.ok(!shown.buttons.includes("error-retry"), "retrying cannot fix an expired invite");
    await p.eval(() => document.querySelector("#error-action-new-invite").click());
    await p.waitFor(() => document.body.dataset.view === "home");
    assert.deepEqual(p.errors, []);
    await p.context.close();
  });
});
