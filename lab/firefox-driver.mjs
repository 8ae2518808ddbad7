// Firefox in a lab client namespace. Puppeteer talks to Firefox over WebDriver BiDi on a WebSocket on
// the namespace's own loopback, which the test process (root namespace) cannot reach, so this driver
// runs inside the namespace (`ip netns exec <client> node firefox-driver.mjs <profile dir> <server host>`)
// and takes commands as JSON lines on stdin, answering JSON lines on stdout:
//   → {"id":1,"op":"goto","url":"…"}          ← {"id":1,"ok":true,"value":…} | {"id":1,"ok":false,"error":"…"}
// Its first line is {"ready":true,"pid":<Firefox's PID>}: Firefox leads its own process group, so the
// lab kills that group by PID should this driver die first. stdin closing closes Firefox.
import { createRequire } from "node:module";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const puppeteer = createRequire(path.join(here, "../web/package.json"))("puppeteer-core");
const [profile, serverHost] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

const browser = await puppeteer.launch({
  browser: "firefox",
  executablePath: process.env.FIREFOX_PATH ?? "/usr/bin/firefox-esr",
  headless: true,
  userDataDir: profile,
  acceptInsecureCerts: true,
  handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
  extraPrefsFirefox: {
    // The lab serves the app over plain HTTP at a lab address: a secure context (WebCrypto) as HTTPS would be.
    "dom.securecontext.allowlist": serverHost,
    // Real host candidates, every interface (as the lab's Chromium runs without mDNS hiding).
    "media.peerconnection.ice.obfuscate_host_addresses": false,
    "media.peerconnection.ice.default_address_only": false,
    "network.proxy.type": 0,
    // Calls: a fake camera and microphone, allowed without a prompt (as web/e2e's Firefox).
    "media.navigator.streams.fake": true,
    "media.navigator.permission.disabled": true,
  },
});
const page = await browser.newPage();
await page.setViewport({ width: 1100, height: 760 });
const errors = [];
page.on("pageerror", (e) => errors.push(String(e?.message ?? e)));

const call = (src, arg) => `(${src})(${JSON.stringify(arg)})`;
const ops = {
  goto: ({ url }) => page.goto(url, { waitUntil: "load" }).then(() => null),
  evaluate: ({ src, arg }) => page.evaluate(call(src, arg)),
  waitFor: ({ src, arg, timeout }) => page.waitForFunction(call(src, arg), { timeout, polling: 100 }).then(() => null),
  click: ({ selector }) => page.click(selector),
  focus: ({ selector }) => page.focus(selector),
  fill: async ({ selector, text }) => {
    await page.$eval(selector, (e) => { e.value = ""; });
    await page.focus(selector);
    await page.keyboard.type(text);
  },
  press: async ({ selector, key }) => {
    await page.focus(selector);
    await page.keyboard.press(key);
  },
  screenshot: ({ file }) => page.screenshot({ path: file }).then(() => null),
  errors: () => errors,
};

out({ ready: true, pid: browser.process()?.pid ?? null, version: await browser.version() });

let closing = null;
const close = () => (closing ??= browser.close().catch(() => undefined).then(() => process.exit(0)));
createInterface({ input: process.stdin }).on("line", async (line) => {
  const msg = JSON.parse(line);
  if (msg.op === "close") return close();
  try {
    out({ id: msg.id, ok: true, value: (await ops[msg.op](msg)) ?? null });
  } catch (e) {
    out({ id: msg.id, ok: false, error: String(e?.stack ?? e) });
  }
}).on("close", close);
