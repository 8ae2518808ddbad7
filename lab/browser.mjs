// App-level steps in lab browsers (the app's own DOM contract: data-view, data-phase, #quality).
export const WAIT = 60_000;

export async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e?.message ?? e)));
  return { page, context, errors };
}

export async function createRoom(page, url) {
  await page.goto(url + "/");
  await page.waitForFunction(() => document.body.dataset.view === "home", null, { timeout: WAIT });
  await page.click("#new-room");
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
