// Field data (issue 18) in real browsers against the real server: consent asked once, nothing sent before
// it (the server's own counters and the page's requests say so), a connection and its messages reported
// after it, nothing after opting out; Chromium and Firefox. The stats page draws non-empty charts from
// generated reports (axe, phone width, CSP); feedback round trip; "Send this report" on the error view;
// with the feature off the app never asks.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  AXE_SOURCE,
  artifact,
  chromiumPage,
  createRoom,
  firefoxPage,
  launchChromium,
  launchFirefox,
  send,
  setHidden,
  startServer,
  waitConnected,
} from "./harness.mjs";

/** Sum of a Prometheus series on the server's /metrics (the test runs on loopback: the operator). */
async function metric(server, name, ...labels) {
  const text = await (await fetch(server.url + "/metrics")).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(name) && labels.every((x) => l.includes(x)))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
}

async function stats(server) {
  const response = await fetch(server.url + "/api/stats?days=1");
  assert.equal(response.status, 200);
  return response.json();
}

const count = (s, metricName, key) => s.rows.filter((r) => r.metric === metricName && (key === undefined || r.key === key)).reduce((a, r) => a + r.count, 0);

async function eventually(what, check, timeout = 20_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) assert.fail(`${what}: not reached in ${timeout} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The message reached the other side: delivered, or already read. */
function waitDelivered(p, text) {
  return p.waitFor(
    (t) =>
      [...document.querySelectorAll('#messages li[data-direction="out"]')].some(
        (li) => li.querySelector(".msg-text").textContent === t && ["delivered", "read"].includes(li.dataset.state),
      ),
    text,
  );
}

/** Every POST the page made to the field-data endpoints (Playwright and Puppeteer both emit "request"). */
function recordPosts(p) {
  const posts = [];
  p.page.on("request", (r) => {
    const method = typeof r.method === "function" ? r.method() : r.method;
    if (method === "POST" && /\/api\/(telemetry|feedback)$/.test(r.url())) posts.push(r.url());
  });
  return posts;
}

async function axe(p) {
  await p.eval(AXE_SOURCE);
  return p.eval(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
}

async function setConsentInSettings(p, on) {
  await p.click("#open-settings");
  const checked = await p.eval(() => document.querySelector("#set-field-data").checked);
  if (checked !== on) await p.click("#set-field-data");
  await p.click("#settings-close");
}

describe("field data", () => {
  let server;
  let chromium;
  let firefox;
  before(async () => {
    server = await startServer();
    chromium = await launchChromium();
    firefox = await launchFirefox();
  });
  after(async () => {
    await chromium?.close();
    await firefox?.close();
    await server?.stop();
  });

  it("consent_Chromium_NothingBeforeConsent_ReportAfterOptIn_NothingAfterOptOut", async () => {
    const host = await chromiumPage(chromium);
    const guest = await chromiumPage(chromium);
    const hostPosts = recordPosts(host);
    const guestPosts = recordPosts(guest);

    // The guest is asked once, in plain words, and agrees; the host never answers.
    await guest.goto(server.url + "/");
    await guest.waitFor(() => document.querySelector("#field-ask") !== null);
    const ask = await guest.eval(() => document.querySelector("#field-ask").textContent);
    assert.match(ask, /IP addresses/);
    assert.match(ask, /message text/);
    assert.match(ask, /turn this off in the server settings/);
    assert.deepEqual(await axe(guest), []);
    await guest.click("#field-yes");
    assert.equal(await guest.eval(() => localStorage.getItem("ghostchat:field-data")), "on");
    await guest.goto(server.url + "/");
    await guest.waitFor(() => document.body.dataset.fieldData === "available");
    assert.equal(await guest.eval(() => document.querySelector("#field-ask")), null, "asked once only");

    const link = await createRoom(host, server.url);
    await guest.goto(link);
    await Promise.all([waitConnected(host), waitConnected(guest)]);
    for (const text of ["one", "two", "three"]) await send(guest, text);
    await waitDelivered(guest, "three");
    await send(host, "from the host");
    await waitDelivered(host, "from the host");

    // Hidden: the host (no answer yet) sends nothing; the guest sends its batch.
    await setHidden(host, true);
    await setHidden(guest, true);
    await eventually("the guest's report counted", async () => (await metric(server, "ghostchat_telemetry_reports_total", 'result="accepted"')) === 1);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await metric(server, "ghostchat_telemetry_reports_total"), 1, "one report in all: nothing from the host");
    assert.deepEqual(hostPosts, []);
    assert.equal(guestPosts.length, 1);

    const s = await stats(server);
    assert.equal(s.figures.attempts, 1);
    assert.equal(s.figures.connected, 1);
    assert.equal(count(s, "ttc"), 1);
    assert.equal(count(s, "path", "direct/udp") + count(s, "path", "direct/tcp"), 1, JSON.stringify(s.rows));
    assert.equal(count(s, "size", "2"), 1);
    assert.ok(s.rows.some((r) => r.metric === "browser" && /^chrome \d+$/.test(r.key)));
    assert.equal(count(s, "messages", "sent"), 3);
    assert.equal(count(s, "messages", "delivered"), 3);
    assert.equal(count(s, "messages", "given_up"), 0);

    // Opting out in the settings: later messages are never reported.
    await setHidden(guest, false);
    await setConsentInSettings(guest, false);
    assert.equal(await guest.eval(() => localStorage.getItem("ghostchat:field-data")), "off");
    await send(guest, "four");
    await waitDelivered(guest, "four");
    await setHidden(guest, true);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(guestPosts.length, 1);
    assert.equal(await metric(server, "ghostchat_telemetry_reports_total"), 1);

    // The host answers "no" at last: the question goes and the answer is kept.
    await setHidden(host, false);
    await host.click("#leave");
    await host.waitFor(() => document.body.dataset.view === "home" && document.querySelector("#field-ask") !== null);
    await host.click("#field-no");
    assert.equal(await host.eval(() => localStorage.getItem("ghostchat:field-data")), "off");
    assert.equal(await host.eval(() => document.querySelector("#field-ask")), null);
    assert.deepEqual(hostPosts, []);
    assert.deepEqual([...host.errors, ...guest.errors], []);
    await host.context.close();
    await guest.context.close();
  });

  it("consent_Firefox_NothingBeforeConsent_OptInReports_OptOutStops", async () => {
    const before = await metric(server, "ghostchat_telemetry_reports_total");
    let host = await chromiumPage(chromium);
    const guest = await firefoxPage(firefox);
    const posts = recordPosts(guest);
    await host.goto(server.url + "/");
    await host.waitFor(() => document.querySelector("#field-ask") !== null);
    await host.click("#field-no");

    // Not answered yet: a whole chat, hidden, and nothing leaves the Firefox page.
    let link = await createRoom(host, server.url);
    await guest.goto(link);
    await Promise.all([waitConnected(host), waitConnected(guest)]);
    await send(guest, "unasked");
    await waitDelivered(guest, "unasked");
    await setHidden(guest, true);
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(posts, []);

    // Agrees in the settings; the next connection is reported as Firefox.
    await guest.goto(server.url + "/");
    await guest.waitFor(() => document.body.dataset.fieldData === "available");
    await setConsentInSettings(guest, true);
    await host.context.close();
    host = await chromiumPage(chromium);
    link = await createRoom(host, server.url);
    await guest.goto(link);
    await Promise.all([waitConnected(host), waitConnected(guest)]);
    await send(guest, "asked");
    await waitDelivered(guest, "asked");
    await setHidden(guest, true);
    await eventually("the Firefox report counted", async () => (await metric(server, "ghostchat_telemetry_reports_total", 'result="accepted"')) === before + 1);
    const s = await stats(server);
    assert.ok(
      s.rows.some((r) => r.metric === "browser" && /^firefox \d+$/.test(r.key)),
      JSON.stringify(s.rows),
    );

    await setHidden(guest, false);
    await setConsentInSettings(guest, false);
    await send(guest, "after");
    await waitDelivered(guest, "after");
    await setHidden(guest, true);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(posts.length, 1);
    await host.context.close();
    await guest.page.close();
  });

  it("stats_GeneratedReports_NonEmptyCharts_Accessible_PhoneWidth", async () => {
    const reports = [
      { outcome: "connected", ttc: "0-1s", path: "direct", transport: "udp", browser: ["chrome", 131] },
      { outcome: "connected", ttc: "2-5s", path: "relay", transport: "tls", provider: "custom", browser: ["firefox", 128] },
      { outcome: "failed", browser: ["safari", 17] },
    ];
    for (const r of reports) {
      const { browser, ...attempt } = r;
      const body = {
        v: 1,
        browser: { family: browser[0], major: browser[1] },
        attempts: [{ size: "2", ...attempt }],
        rooms: [{ size: "3-4", sent: 20, delivered: 19, givenUp: 1, resumed: ["2-5s"] }],
        errors: [{ kind: r.outcome === "failed" ? "ice-failed" : "offline" }],
      };
      const response = await fetch(server.url + "/api/telemetry", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      assert.equal(response.status, 204);
    }
    for (const viewport of [
      { width: 1280, height: 900 },
      { width: 360, height: 740 },
    ]) {
      const p = await chromiumPage(chromium, viewport);
      await p.goto(server.url + "/stats");
      await p.waitFor(() => document.body.dataset.stats === "ready");
      const drawn = await p.eval(() =>
        [...document.querySelectorAll(".stats-chart")].map((figure) => {
          const canvas = figure.querySelector("canvas");
          const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
          let painted = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
          return { title: figure.querySelector("figcaption").textContent, painted, rows: figure.querySelectorAll("tr").length };
        }),
      );
      assert.equal(drawn.length, 8);
      for (const chart of drawn) {
        assert.ok(chart.painted > 500, `${chart.title}: ${chart.painted} pixels drawn`);
        assert.ok(chart.rows > 0, `${chart.title}: a table of the same figures`);
      }
      const figures = await p.eval(() => document.querySelector("#stats-figure-list").textContent);
      assert.match(figures, /Connection success/);
      assert.match(figures, /target 90 %/);
      const overflow = await p.eval(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `no sideways scroll at ${viewport.width} px (${overflow})`);
      assert.deepEqual(await axe(p), []);
      assert.deepEqual(p.errors, []);
      await p.screenshot(artifact(`web-stats-${viewport.width}.png`));
      await p.context.close();
    }
    // Only the operator (loopback here, GhostChat:Ops:DetailFrom) may open it.
    const other = await fetch(server.url + "/stats", { headers: { "X-Forwarded-For": "203.0.113.9" } });
    assert.equal(other.status, 404);
  });

  it("feedback_Form_RoundTrip_OperatorSeesAndDeletes", async () => {
    const p = await chromiumPage(chromium);
    const posts = recordPosts(p);
    await p.goto(server.url + "/");
    await p.waitFor(() => document.querySelector("#open-feedback") !== null);
    await p.click("#open-feedback");
    assert.equal(await p.eval(() => document.querySelector("#feedback-diagnostics").disabled), true, "no diagnostics ran: nothing to include");
    await p.click("#feedback-send");
    assert.match(await p.eval(() => document.querySelector("#feedback-status").textContent), /Write something/);
    assert.deepEqual(posts, [], "nothing sent before Send with text");
    await p.type("#feedback-text", "Connecting from the train took long");
    assert.deepEqual(await axe(p), []);
    await p.click("#feedback-send");
    await p.waitFor(() => /Sent/.test(document.querySelector("#feedback-status").textContent));
    const list = await (await fetch(server.url + "/api/feedback")).json();
    const entry = list.find((e) => e.text === "Connecting from the train took long");
    assert.ok(entry, JSON.stringify(list));
    assert.equal(entry.diagnostics, null);

    const operator = await chromiumPage(chromium);
    await operator.goto(server.url + "/stats");
    await operator.waitFor((id) => document.querySelector(`#stats-feedback-list li[data-id="${id}"]`) !== null, entry.id);
    await operator.eval((id) => document.querySelector(`#stats-feedback-list li[data-id="${id}"] button`).click(), entry.id);
    await operator.waitFor((id) => document.querySelector(`#stats-feedback-list li[data-id="${id}"]`) === null, entry.id);
    assert.ok(!(await (await fetch(server.url + "/api/feedback")).json()).some((e) => e.id === entry.id));
    await p.context.close();
    await operator.context.close();
  });

  it("errorView_SendThisReport_OnlyOnPress_WithoutConsent", async () => {
    const before = await stats(server);
    const p = await chromiumPage(chromium);
    const posts = recordPosts(p);
    // An invite to a host that is not there: after its retries the error view offers copy and send.
    const expires = Math.floor(Date.now() / 1000) + 3600;
    await p.goto(
      `${server.url}/#join=2.nobody-home-42.roomroomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.${expires}.KKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK`,
    );
    await p.waitFor(() => document.body.dataset.view === "error" && document.querySelector("#error-action-send-report") !== null, undefined, 90_000);
    const kind = await p.eval(() => document.querySelector("#view-error").dataset.kind);
    assert.deepEqual(posts, [], "nothing sent before the press");
    assert.deepEqual(await axe(p), []);
    await p.click("#error-action-send-report");
    await p.waitFor(() => /Report sent/.test(document.querySelector("#error-feedback").textContent));
    assert.equal(posts.length, 1);
    const after = await stats(server);
    assert.equal(count(after, "error", kind), count(before, "error", kind) + 1);
    await p.context.close();
  });
});

describe("field data switched off by the operator", () => {
  let server;
  let chromium;
  before(async () => {
    server = await startServer({ GhostChat__Telemetry__Enabled: "false" });
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await server?.stop();
  });

  it("disabled_AppNeverAsks_NoSwitchNoFeedback_StatsGone", async () => {
    const p = await chromiumPage(chromium);
    const posts = recordPosts(p);
    await p.goto(server.url + "/");
    await p.waitFor(() => document.body.dataset.fieldData === "off");
    const shown = await p.eval(() => ["#field-ask", "#set-field-data", "#open-feedback"].map((s) => document.querySelector(s) !== null));
    assert.deepEqual(shown, [false, false, false]);
    await setHidden(p, true);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(posts, []);
    assert.equal((await fetch(server.url + "/stats")).status, 404);
    assert.equal((await fetch(server.url + "/api/stats")).status, 404);
    assert.deepEqual(
      p.errors.filter((e) => !/404/.test(e)),
      [],
    );
    await p.context.close();
  });
});
