// App-level steps in lab browsers (the app's own DOM contract: data-view, data-phase, #quality).
export const WAIT = 60_000;
/** Firefox warns (as a page error) that the lab's five ICE URLs slow discovery; not an app error. */
export const FIREFOX_NOTICES = /^WebRTC: Using five or more STUN\/TURN servers/;

/**
 * What the lab reads from and does in a room's page, in one place so tests follow the UI when it
 * changes. Passed into page functions (they cannot import).
 */
export const ROOM_UI = {
  newRoom: { room: "#new-room", group: "#new-group" },
  inviteLink: "#invite-link",
  composer: "#composer",
  messages: "#messages li.msg", // data-direction: in | out
  text: ".msg-text",
  status: "#status", // data-phase (1:1: connected, reconnecting, peer-left …; group: ready …)
  members: "#members li.member", // data-peer, data-state: online | away | reconnecting | unreachable
  reconnecting: "reconnecting", // a data-phase of #status, or a member's data-state
  leftPhases: ["peer-left"], // a #status data-phase that tells the person left
  leave: "#leave",
  inviteFromRoom: "#group-invite", // from the room to its invite view (a new link for a new person)
  newInvite: "#new-invite",
};

/** Polls `fn(arg)` in the page from here until truthy, every `everyMs`; resolves with its value. */
export async function poll(page, fn, arg, timeoutMs, what, everyMs = 250) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await page.evaluate(fn, arg);
    if (v) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e?.message ?? e)));
  return { page, context, errors };
}

/** Opens the home page and makes a room (`kind` "room": 1:1, "group": a group room); returns the invite link. */
export async function createRoom(page, url, kind = "room") {
  await page.goto(url + "/");
  await page.waitForFunction(() => document.body.dataset.view === "home", null, { timeout: WAIT });
  await page.click(ROOM_UI.newRoom[kind]);
  await page.waitForFunction(() => document.body.dataset.view === "invite" && document.querySelector("#invite-link").value.includes("#join="), null, { timeout: WAIT });
  return page.evaluate(() => document.querySelector("#invite-link").value);
}

export async function waitChatReady(page, timeout = WAIT) {
  await page.waitForFunction(() => document.body.dataset.phase === "connected" && document.body.dataset.view === "chat" && !document.querySelector("#composer").disabled, null, { timeout });
}

/** Waits until the quality indicator knows the path; returns {path, level, rtt}. */
export async function waitPath(page, timeout = WAIT) {
  await page.waitForFunction(() => {
    const q = document.querySelector("#quality");
    return q && !q.hidden && q.dataset.path && q.dataset.path !== "unknown";
  }, null, { timeout });
  return page.evaluate(() => {
    const q = document.querySelector("#quality");
    return { path: q.dataset.path, level: q.dataset.level, rtt: q.dataset.rtt ? Number(q.dataset.rtt) : null, tooltip: document.querySelector("#quality-tip").textContent };
  });
}

export async function sendAndReceive(from, to, text) {
  await from.fill("#composer", text);
  await from.press("#composer", "Enter");
  await to.waitForFunction((t) => [...document.querySelectorAll('#messages li[data-direction="in"] .msg-text')].some((e) => e.textContent === t), text, { timeout: WAIT });
}

/** Runs the diagnostics page to the end; returns the summary's data and the report. */
export async function runDiagnosticsPage(page, url) {
  await page.goto(url + "/diagnostics.html");
  await page.click("#diag-run");
  await page.waitForFunction(() => document.body.dataset.diag === "done", null, { timeout: 120_000 });
  return page.evaluate(() => {
    const s = document.querySelector("#diag-summary");
    return { outlook: s.dataset.outlook, verdicts: s.dataset.verdicts.split(" ").filter(Boolean), headline: document.querySelector("#diag-headline").textContent, report: JSON.parse(document.querySelector("#diag-report").value) };
  });
}

/** In the room's chat view with the composer enabled (either kind of room). */
export async function waitInRoom(page, timeout = WAIT) {
  await page.waitForFunction((sel) => document.body.dataset.view === "chat" && document.querySelector(sel.composer)?.disabled === false, ROOM_UI, { timeout, polling: 200 });
}

/**
 * Installs, in the page, a recorder of what it shows (test instrumentation, not an app hook): a
 * MutationObserver notes when each incoming message appeared, and every change of #status's and
 * body's data-phase, the view, the composer's state and the member list (peer, state and path of each).
 * `recorded(page)` reads it.
 */
export async function installRecorder(page) {
  await page.evaluate((sel) => {
    if (window.__labRecorder) return;
    const rec = (window.__labRecorder = { arrivals: [], states: [] });
    const seen = new WeakSet();
    const scan = () => {
      for (const li of document.querySelectorAll(`${sel.messages}[data-direction="in"]`)) {
        if (seen.has(li)) continue;
        seen.add(li);
        rec.arrivals.push({ text: li.querySelector(sel.text)?.textContent ?? "", at: Date.now() });
      }
      const s = {
        phase: document.querySelector(sel.status)?.dataset.phase ?? null,
        body: document.body.dataset.phase ?? null,
        view: document.body.dataset.view ?? null,
        composer: document.querySelector(sel.composer)?.disabled === false ? "enabled" : "disabled",
        members: [...document.querySelectorAll(sel.members)].map((li) => [li.dataset.peer, li.dataset.state, li.dataset.path ?? null]),
      };
      const key = JSON.stringify(s);
      if (rec.last !== key) {
        rec.last = key;
        rec.states.push({ at: Date.now(), ...s });
      }
    };
    new MutationObserver(scan).observe(document.documentElement, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-phase", "data-state", "data-path", "data-peer", "data-view", "disabled", "data-direction"] });
    scan();
  }, ROOM_UI);
}

/** What the recorder saw so far, and the page's messages in the order shown: { arrivals, states, shown: [{dir, text}] }. */
export function recorded(page) {
  return page.evaluate((sel) => ({
    arrivals: window.__labRecorder?.arrivals ?? [],
    states: window.__labRecorder?.states ?? [],
    shown: [...document.querySelectorAll(sel.messages)].map((li) => ({ dir: li.dataset.direction, text: li.querySelector(sel.text)?.textContent ?? "" })),
  }), ROOM_UI);
}

/**
 * Writes one message as a person would (composer, Enter). Returns true when the page took it (the
 * composer emptied and the message shows as outgoing), false when it could not (composer disabled,
 * or the text stayed in the composer).
 */
export async function writeMessage(page, text) {
  const open = await page.evaluate((sel) => document.body.dataset.view === "chat" && document.querySelector(sel.composer)?.disabled === false, ROOM_UI);
  if (!open) return false;
  try {
    await page.fill(ROOM_UI.composer, text, { timeout: 5000 });
    await page.press(ROOM_UI.composer, "Enter", { timeout: 5000 });
  } catch {
    return false;
  }
  return page.evaluate(([sel, t]) => document.querySelector(sel.composer).value === "" && [...document.querySelectorAll(`${sel.messages}[data-direction="out"] ${sel.text}`)].some((e) => e.textContent === t), [ROOM_UI, text]);
}
