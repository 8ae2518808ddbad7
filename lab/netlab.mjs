// GhostChat's network lab: network namespaces, veth pairs, a bridge and iptables make a small
// "internet" with the real GhostChat server on its public side and clients behind routers that NAT,
// filter, drop or delay. Every object carries a per-run prefix; destroy() (also run on exit and on
// SIGINT/SIGTERM) removes all of it, even when a run fails half-way.
//
//            client ns (c1) ── router ns (r1) ──┐
//            client ns (c2) ── router ns (r2) ──┤ br0 in the server ns (srv): 198.51.100.1 (HTTP, signaling)
//                                   …           ┘                            198.51.100.2/.3 (STUN/TURN)
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { collectOutput, SERVER_DLL, SERVER_READY, stopProcess, waitForOutput } from "../tests/support/index.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, "..");
const webRequire = createRequire(path.join(ROOT, "web/package.json"));

export { SERVER_DLL };
export const WEB_DIST = path.join(ROOT, "web/dist");
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Public side. Documentation ranges (RFC 5737): never routed anywhere real. */
export const SERVER_IP = "198.51.100.1";
export const TURN_IP = "198.51.100.2";
export const TURN_IP2 = "198.51.100.3";
export const HTTP_PORT = 443;
export const TURN_UDP_PORT = 3478;
export const TURN_TCP_PORT = 3478;
/** TURN over TLS on 443: what passes a network that allows nothing but HTTPS. */
export const TURN_TLS_PORT = 443;
export const TURN_SECRET = "ghostchat-lab-secret";

/**
 * A client side's router.
 *  nat:      "none" (the client has a public address) | "port-preserving" (MASQUERADE) | "symmetric" (MASQUERADE --random-fully)
 *  firewall: "open" | "udp-blocked" | "tcp443-only"
 *  lossPercent: random drops in both directions (iptables -m statistic), 0–100
 *  delayMs:  one-way delay added in each direction (NFQUEUE + nfq-delay)
 */
export const SCENARIOS = {
  open: { nat: "none", firewall: "open", lossPercent: 0, delayMs: 0, relayReachable: true },
  cone: { nat: "port-preserving", firewall: "open", lossPercent: 0, delayMs: 0, relayReachable: true },
  symmetric: { nat: "symmetric", firewall: "open", lossPercent: 0, delayMs: 0, relayReachable: true },
  "udp-blocked": { nat: "port-preserving", firewall: "udp-blocked", lossPercent: 0, delayMs: 0, relayReachable: true },
  "tcp443-only": { nat: "port-preserving", firewall: "tcp443-only", lossPercent: 0, delayMs: 0, relayReachable: true },
  lossy: { nat: "port-preserving", firewall: "open", lossPercent: 3, delayMs: 0, relayReachable: true },
  slow: { nat: "port-preserving", firewall: "open", lossPercent: 0, delayMs: 50, relayReachable: true },
  "slow-lossy": { nat: "port-preserving", firewall: "open", lossPercent: 1, delayMs: 50, relayReachable: true },
};

export function scenario(name) {
  const spec = SCENARIOS[name];
  if (!spec) throw new Error(`unknown scenario '${name}' (known: ${Object.keys(SCENARIOS).join(", ")})`);
  return { name, ...spec };
}

/** Why the lab cannot run here, or null when it can (root with CAP_NET_ADMIN, ip, iptables, gcc). */
export function labUnavailableReason() {
  if (process.platform !== "linux") return "the network lab needs Linux";
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "the network lab needs root (network namespaces)";
  for (const tool of ["ip", "iptables", "gcc", "openssl"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    } catch {
      return `the network lab needs '${tool}' (test.sh installs it as root)`;
    }
  }
  if (!existsSync("/usr/include/libnetfilter_queue/libnetfilter_queue.h")) return "the network lab needs libnetfilter-queue-dev";
  const probe = `glprobe${process.pid}`;
  try {
    execFileSync("ip", ["netns", "add", probe], { stdio: "ignore" });
    execFileSync("ip", ["netns", "del", probe], { stdio: "ignore" });
  } catch {
    return "no CAP_NET_ADMIN: cannot create network namespaces here";
  }
  return null;
}

function run(cmd, args, opts = {}) {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts });
  } catch (e) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${e.stderr || e.message}`);
  }
}

let nfqBinary = null;
/** Compiles lab/nfq-delay.c once per process. */
function buildNfqDelay(dir) {
  if (nfqBinary && existsSync(nfqBinary)) return nfqBinary;
  const out = path.join(dir, "nfq-delay");
  run("gcc", ["-O2", "-Wall", "-Wextra", "-Werror", "-o", out, path.join(here, "nfq-delay.c"), "-lnetfilter_queue", "-lnfnetlink"]);
  nfqBinary = out;
  return out;
}

/** A self-signed certificate for TURN over TLS (the lab's browsers run with --ignore-certificate-errors). */
function makeCertificate(dir) {
  const cert = path.join(dir, "turn-cert.pem");
  const key = path.join(dir, "turn-key.pem");
  run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=turn.lab", "-addext", `subjectAltName=IP:${TURN_IP},IP:${TURN_IP2}`]);
  return { cert, key };
}

const live = new Set();
let hooked = false;
function hookExit() {
  if (hooked) return;
  hooked = true;
  const cleanAll = () => { for (const lab of [...live]) lab.destroySync(); };
  process.on("exit", cleanAll);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(sig, () => {
      cleanAll();
      process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGTERM" ? 15 : 1));
    });
  }
}

/**
 * Builds the lab. `sides` is a list of scenario names (or specs with a name); side i (1-based)
 * gets router `r<i>` and client `c<i>`. Resolves with the lab; call `destroy()` when done.
 */
export async function createLab(sides, options = {}) {
  hookExit();
  const prefix = options.prefix ?? `gl${process.pid.toString(36)}${randomBytes(2).toString("hex")}-`;
  const tmp = mkdtempSync(path.join(os.tmpdir(), "ghostchat-lab-"));
  const lab = new Lab(prefix, tmp);
  live.add(lab);
  try {
    lab.build(sides.map((s) => (typeof s === "string" ? scenario(s) : s)));
    return lab;
  } catch (e) {
    lab.destroySync();
    throw e;
  }
}

class Lab {
  constructor(prefix, tmp) {
    this.prefix = prefix;
    this.tmp = tmp;
    this.namespaces = [];
    this.processes = [];
    this.sides = [];
    this.server = null;
    this.destroyed = false;
    /** Sides whose router has the cut chain (cutPaths). */
    this.cut = new Set();
  }

  ns(name) {
    return `${this.prefix}${name}`;
  }

  /** Runs a command inside namespace `name` (srv, r1, c1 …). */
  exec(name, cmd, args) {
    return run("ip", ["netns", "exec", this.ns(name), cmd, ...args]);
  }

  addNamespace(name) {
    run("ip", ["netns", "add", this.ns(name)]);
    this.namespaces.push(this.ns(name));
    this.exec(name, "ip", ["link", "set", "lo", "up"]);
  }

  build(sides) {
    this.addNamespace("srv");
    this.exec("srv", "ip", ["link", "add", "br0", "type", "bridge"]);
    for (const ip of [SERVER_IP, TURN_IP, TURN_IP2]) this.exec("srv", "ip", ["addr", "add", `${ip}/24`, "dev", "br0"]);
    this.exec("srv", "ip", ["link", "set", "br0", "up"]);
    this.exec("srv", "sysctl", ["-qw", "net.ipv4.ip_forward=1"]);

    sides.forEach((spec, index) => {
      const i = index + 1;
      const r = `r${i}`;
      const c = `c${i}`;
      this.addNamespace(r);
      this.addNamespace(c);
      const wanIp = `198.51.100.${10 + i}`;
      const publicLan = spec.nat === "none";
      const lanNet = publicLan ? `192.0.2.${16 * i}/28` : `10.${i}.0.0/24`;
      const routerLan = publicLan ? `192.0.2.${16 * i + 1}` : `10.${i}.0.1`;
      const clientIp = publicLan ? `192.0.2.${16 * i + 2}` : `10.${i}.0.2`;
      const mask = publicLan ? 28 : 24;
      // WAN: veth from the server's bridge to the router.
      this.exec("srv", "ip", ["link", "add", `v${i}`, "type", "veth", "peer", "name", "wan", "netns", this.ns(r)]);
      this.exec("srv", "ip", ["link", "set", `v${i}`, "master", "br0", "up"]);
      this.exec(r, "ip", ["addr", "add", `${wanIp}/24`, "dev", "wan"]);
      this.exec(r, "ip", ["link", "set", "wan", "up"]);
      this.exec(r, "ip", ["route", "add", "default", "via", SERVER_IP]);
      // LAN: veth from the router to the client.
      this.exec(r, "ip", ["link", "add", "lan", "type", "veth", "peer", "name", "eth0", "netns", this.ns(c)]);
      this.exec(r, "ip", ["addr", "add", `${routerLan}/${mask}`, "dev", "lan"]);
      this.exec(r, "ip", ["link", "set", "lan", "up"]);
      this.exec(c, "ip", ["addr", "add", `${clientIp}/${mask}`, "dev", "eth0"]);
      this.exec(c, "ip", ["link", "set", "eth0", "up"]);
      this.exec(c, "ip", ["route", "add", "default", "via", routerLan]);
      this.exec(r, "sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
      if (publicLan) this.exec("srv", "ip", ["route", "add", lanNet, "via", wanIp]);
      this.configureRouter(r, spec);
      this.sides.push({ index: i, name: spec.name, spec, router: r, client: c, clientIp, wanIp });
    });
  }

  configureRouter(r, spec) {
    const ipt = (...args) => this.exec(r, "iptables", ["-w", ...args]);
    // NAT. Unsolicited inbound packets to the router are dropped: otherwise an early inbound ICE
    // check leaves an UNREPLIED conntrack entry and MASQUERADE moves the outgoing flow to another port.
    if (spec.nat === "port-preserving" || spec.nat === "symmetric") {
      ipt("-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE", ...(spec.nat === "symmetric" ? ["--random-fully"] : []));
      ipt("-A", "INPUT", "-i", "wan", "-m", "conntrack", "--ctstate", "NEW", "-j", "DROP");
    } else if (spec.nat !== "none") throw new Error(`unknown nat '${spec.nat}'`);
    // Loss first, in both directions.
    if (spec.lossPercent > 0) ipt("-A", "FORWARD", "-m", "statistic", "--mode", "random", "--probability", String(spec.lossPercent / 100), "-j", "DROP");
    // Firewall.
    if (spec.firewall === "udp-blocked") {
      ipt("-A", "FORWARD", "-i", "lan", "-p", "udp", "-j", "DROP");
      ipt("-A", "FORWARD", "-i", "wan", "-p", "udp", "-j", "DROP");
    } else if (spec.firewall === "tcp443-only") {
      ipt("-A", "FORWARD", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT");
      ipt("-A", "FORWARD", "-i", "lan", "-p", "tcp", "--dport", "443", "-j", "ACCEPT");
      ipt("-A", "FORWARD", "-j", "DROP");
    } else if (spec.firewall !== "open") throw new Error(`unknown firewall '${spec.firewall}'`);
    // Delay: every forwarded packet waits in user space (mangle runs before the filter rules above).
    if (spec.delayMs > 0) {
      const bin = buildNfqDelay(this.tmp);
      const child = spawn("ip", ["netns", "exec", this.ns(r), bin, "0", String(spec.delayMs)], { stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      child.stderr.on("data", (d) => (err += d));
      this.processes.push(child);
      // --queue-bypass: should the program die, packets pass undelayed instead of vanishing.
      ipt("-t", "mangle", "-A", "FORWARD", "-j", "NFQUEUE", "--queue-num", "0", "--queue-bypass");
      child.once("exit", (code) => { if (!this.destroyed && code !== 0) console.error(`nfq-delay in ${r} exited with ${code}: ${err}`); });
    }
  }

  /**
   * Network changes, for recovery tests (real packets, no app hooks).
   *
   * cutPaths(): every router drops everything it would forward except TCP to and from the signaling
   * server (SERVER_IP:HTTP_PORT): no path between the browsers and none to STUN/TURN (198.51.100.2/.3,
   * any port, TLS 443 included), while signaling stays up. One chain per router (`labcut`), jumped to
   * first in FORWARD; restorePaths() removes it. Conntrack entries (NAT mappings) are kept, as a
   * network outage would keep them. `sides` are 1-based indices (default: every side).
   */
  cutPaths(sides = this.sides.map((s) => s.index)) {
    for (const i of sides) {
      const r = this.side(i).router;
      const ipt = (...args) => this.exec(r, "iptables", ["-w", ...args]);
      if (this.cut.has(i)) continue;
      ipt("-N", "labcut");
      ipt("-A", "labcut", "-p", "tcp", "-d", SERVER_IP, "--dport", String(HTTP_PORT), "-j", "RETURN");
      ipt("-A", "labcut", "-p", "tcp", "-s", SERVER_IP, "--sport", String(HTTP_PORT), "-j", "RETURN");
      ipt("-A", "labcut", "-j", "DROP");
      ipt("-I", "FORWARD", "1", "-j", "labcut");
      this.cut.add(i);
    }
  }

  /** Ends the cut: first every router's jump goes (one command each, so the routers open within milliseconds of each other), then the chains. */
  restorePaths(sides = [...this.cut]) {
    const cut = sides.filter((i) => this.cut.has(i));
    for (const i of cut) this.exec(this.side(i).router, "iptables", ["-w", "-D", "FORWARD", "-j", "labcut"]);
    for (const i of cut) {
      const r = this.side(i).router;
      this.exec(r, "iptables", ["-w", "-F", "labcut"]);
      this.exec(r, "iptables", ["-w", "-X", "labcut"]);
      this.cut.delete(i);
    }
  }

  /** Packets the cut dropped so far in side i's router (proves the cut was in the way). */
  cutDrops(i) {
    const out = this.exec(this.side(i).router, "iptables", ["-w", "-nvxL", "labcut"]);
    const drop = out.split("\n").find((l) => /\sDROP\s/.test(l));
    return drop ? Number(drop.trim().split(/\s+/)[0]) : 0;
  }

  /**
   * Side i moves to another network, as a phone going from Wi-Fi to another access point: the client
   * gets an address in a new LAN subnet (10.i.g.0/24; its old address is gone, so are the sockets
   * bound to it) and its router a new public (WAN) address, 198.51.100.(10+i+40g). Deleting the old
   * WAN address makes the kernel drop every MASQUERADE mapping made with it (conntrack), so every flow,
   * the signaling WebSocket included, leaves with a new public address and port. For NATed sides only.
   * Teardown is the namespaces' (nothing outside them changes). Returns the new addresses.
   */
  moveSide(i) {
    const side = this.side(i);
    if (side.spec.nat === "none") throw new Error("moveSide: side with a public LAN (nat none) not supported");
    const g = (side.generation ?? 0) + 1;
    if (g > 5) throw new Error("moveSide: at most 5 moves per side");
    const { router: r, client: c } = side;
    const oldWan = side.wanIp;
    const wanIp = `198.51.100.${10 + i + 40 * g}`;
    const routerLan = `10.${i}.${g}.1`;
    const clientIp = `10.${i}.${g}.2`;
    // The new WAN address first (promoted to primary when the old one goes), then the old one goes,
    // with the mappings made with it.
    this.exec(r, "sysctl", ["-qw", "net.ipv4.conf.wan.promote_secondaries=1"]);
    this.exec(r, "ip", ["addr", "add", `${wanIp}/24`, "dev", "wan"]);
    this.exec(r, "ip", ["addr", "del", `${oldWan}/24`, "dev", "wan"]);
    this.exec(r, "ip", ["route", "replace", "default", "via", SERVER_IP, "dev", "wan"]);
    // The new LAN.
    this.exec(r, "ip", ["addr", "flush", "dev", "lan"]);
    this.exec(r, "ip", ["addr", "add", `${routerLan}/24`, "dev", "lan"]);
    this.exec(c, "ip", ["addr", "flush", "dev", "eth0"]);
    this.exec(c, "ip", ["addr", "add", `${clientIp}/24`, "dev", "eth0"]);
    this.exec(c, "ip", ["route", "replace", "default", "via", routerLan]);
    Object.assign(side, { generation: g, wanIp, clientIp });
    return { clientIp, wanIp, oldWan };
  }

  side(i) {
    const side = this.sides[i - 1];
    if (!side) throw new Error(`no side ${i}`);
    return side;
  }

  /** Environment for the server (contract C1 keys + the current static list). */
  serverEnv(extra = {}) {
    this.certificate ??= makeCertificate(this.tmp);
    const env = {
      GhostChat__Web__RootPath: WEB_DIST,
      GhostChat__Turn__Enabled: "true",
      GhostChat__Turn__ListenAddresses__0: TURN_IP,
      GhostChat__Turn__ListenAddresses__1: TURN_IP2,
      GhostChat__Turn__UdpPort: String(TURN_UDP_PORT),
      GhostChat__Turn__TcpPort: String(TURN_TCP_PORT),
      GhostChat__Turn__TlsPort: String(TURN_TLS_PORT),
      GhostChat__Turn__TlsCertificatePath: this.certificate.cert,
      GhostChat__Turn__TlsKeyPath: this.certificate.key,
      GhostChat__Turn__RelayAddress: TURN_IP,
      GhostChat__Turn__AdvertisedAddress: TURN_IP,
      GhostChat__Turn__Secrets__0: TURN_SECRET,
      // The lab's public ranges are documentation ranges, denied by default: allow them as peers.
      GhostChat__Turn__AllowedPeers__0: "198.51.100.0/24",
      GhostChat__Turn__AllowedPeers__1: "192.0.2.0/24",
      GhostChat__Signaling__Limits__ConnectsPerSecondPerIp: "1000",
      GhostChat__Signaling__Limits__ConnectBurstPerIp: "1000",
      // The ICE service's embedded provider (contract C1), with the lab's addresses spelled out:
      // two STUN endpoints (NAT mapping), TURN over UDP, TCP and TLS 443.
      GhostChat__Ice__Providers__embedded__Type: "embedded",
      GhostChat__Ice__Providers__embedded__Urls__0: `stun:${TURN_IP}:${TURN_UDP_PORT}`,
      GhostChat__Ice__Providers__embedded__Urls__1: `stun:${TURN_IP2}:${TURN_UDP_PORT}`,
      GhostChat__Ice__Providers__embedded__Urls__2: `turn:${TURN_IP}:${TURN_UDP_PORT}?transport=udp`,
      GhostChat__Ice__Providers__embedded__Urls__3: `turn:${TURN_IP}:${TURN_TCP_PORT}?transport=tcp`,
      GhostChat__Ice__Providers__embedded__Urls__4: `turns:${TURN_IP}:${TURN_TLS_PORT}?transport=tcp`,
      Logging__LogLevel__Default: "Warning",
      DOTNET_NOLOGO: "1",
      ...extra,
    };
    for (const [k, v] of Object.entries(env)) if (v === null) delete env[k];
    return env;
  }

  /** Starts the real server in the server namespace; resolves when it is ready. */
  async startServer(extraEnv = {}) {
    if (!existsSync(SERVER_DLL)) throw new Error(`server not built: ${SERVER_DLL} (dotnet build GhostChat.slnx -c Release)`);
    if (!existsSync(path.join(WEB_DIST, "index.html"))) throw new Error(`web app not built: ${WEB_DIST} (cd web && npm run build)`);
    const env = { ...process.env, ...this.serverEnv(extraEnv) };
    for (const [k, v] of Object.entries(env)) if (v === null || v === undefined) delete env[k];
    const child = spawn("ip", ["netns", "exec", this.ns("srv"), "dotnet", SERVER_DLL, "--urls", `http://${SERVER_IP}:${HTTP_PORT}`], { env, stdio: ["ignore", "pipe", "pipe"] });
    this.processes.push(child);
    // Keeps what it writes (the last MiB), for tools that read its log (e.g. with Debug on).
    const output = collectOutput(child, { limit: 2 ** 20 });
    await waitForOutput(child, SERVER_READY, { timeoutMs: 90_000, output, what: "server" });
    this.server = { child, pid: child.pid, env: extraEnv, url: `http://${SERVER_IP}:${HTTP_PORT}`, output };
    return this.server;
  }

  /**
   * Stops the server (SIGTERM to its PID, as a service manager would), waits `downMs`, and starts it
   * again on the same addresses with the same settings. Resolves with the new server once it is ready.
   */
  async restartServer({ downMs = 0 } = {}) {
    if (!this.server) throw new Error("restartServer: no server running");
    const env = this.server.env;
    await this.stopServer();
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    return this.startServer(env);
  }

  async stopServer() {
    const child = this.server?.child;
    this.server = null;
    await stopProcess(child);
  }

  /**
   * Chromium inside client `c<i>` (headless, no display, its own HOME and profile), driven by
   * playwright-core over a pipe. The lab's plain-HTTP origin is treated as secure, as HTTPS would be.
   */
  async launchChromium(sideIndex, extraArgs = []) {
    const { chromium } = webRequire("playwright-core");
    const side = this.sides[sideIndex - 1];
    if (!side) throw new Error(`no side ${sideIndex}`);
    const home = mkdtempSync(path.join(this.tmp, `home-c${sideIndex}-`));
    const wrapper = path.join(this.tmp, `chromium-c${sideIndex}`);
    writeFileSync(wrapper, `#!/bin/sh\nexport HOME='${home}'\nunset DISPLAY WAYLAND_DISPLAY\nexec ip netns exec ${this.ns(side.client)} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
    const browser = await chromium.launch({
      executablePath: wrapper,
      headless: true,
      args: [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-features=WebRtcHideLocalIpsWithMdns",
        `--unsafely-treat-insecure-origin-as-secure=http://${SERVER_IP}:${HTTP_PORT}`,
        // The lab's TURN/TLS certificate is self-signed.
        "--ignore-certificate-errors",
        ...extraArgs,
      ],
    });
    this.browsers ??= [];
    this.browsers.push(browser);
    return browser;
  }

  /**
   * Firefox ESR inside client `c<i>`, driven by puppeteer-core over WebDriver BiDi. The BiDi socket is on
   * the namespace's loopback, out of this process's reach, so lab/firefox-driver.mjs runs inside the
   * namespace and relays commands over its stdin/stdout. Resolves with `{ page, version, errors(), close() }`;
   * `page` offers the part of Playwright's Page that browser.mjs and pair.mjs use (goto, click, fill,
   * press, focus, evaluate, waitForFunction, screenshot, and setInputFiles with one file path), so the same app steps drive either browser.
   */
  async launchFirefox(sideIndex) {
    const side = this.sides[sideIndex - 1];
    if (!side) throw new Error(`no side ${sideIndex}`);
    const home = mkdtempSync(path.join(this.tmp, `home-ff-c${sideIndex}-`));
    const env = { ...process.env, HOME: home, TMPDIR: home, MOZ_CRASHREPORTER_DISABLE: "1" };
    delete env.DISPLAY;
    delete env.WAYLAND_DISPLAY;
    const child = spawn("ip", ["netns", "exec", this.ns(side.client), process.execPath, path.join(here, "firefox-driver.mjs"), path.join(home, "profile"), SERVER_IP],
      { env, stdio: ["pipe", "pipe", "pipe"] });
    this.processes.push(child);
    let stderr = "";
    child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
    const pending = new Map();
    let nextId = 1;
    let onReady;
    const ready = new Promise((resolve, reject) => {
      onReady = resolve;
      child.once("exit", (code, signal) => {
        const error = new Error(`Firefox driver in ${side.client} exited (${code ?? signal}):\n${stderr}`);
        reject(error);
        for (const p of pending.values()) p.reject(error);
        pending.clear();
      });
    });
    let buffer = "";
    child.stdout.on("data", (d) => {
      buffer += d;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let msg;
        try { msg = JSON.parse(line); } catch { continue; }
        if (msg.ready) onReady(msg);
        const p = pending.get(msg.id);
        if (!p) continue;
        pending.delete(msg.id);
        if (msg.ok) p.resolve(msg.value);
        else p.reject(new Error(`Firefox (${side.client}): ${msg.error}`));
      }
    });
    let timer;
    const hello = await Promise.race([ready, new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Firefox did not start in ${side.client} within 60 s:\n${stderr}`)), 60_000);
    })]).finally(() => clearTimeout(timer));
    // Firefox leads its own process group (puppeteer spawns it detached): should the driver die first,
    // teardown kills that group by Firefox's PID.
    const group = hello.pid;
    const firefox = {
      exitCode: group ? null : 0, signalCode: null,
      kill: (sig) => { firefox.signalCode = sig; try { process.kill(-group, sig); } catch { /* gone */ } },
    };
    this.processes.push(firefox);
    const send = (op, args = {}) => new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.stdin.write(JSON.stringify({ id, op, ...args }) + "\n");
    });
    const src = (fn) => (typeof fn === "function" ? fn.toString() : `() => (${fn})`);
    const page = {
      goto: (url) => send("goto", { url }),
      click: (selector) => send("click", { selector }),
      focus: (selector) => send("focus", { selector }),
      fill: (selector, text) => send("fill", { selector, text }),
      press: (selector, key) => send("press", { selector, key }),
      evaluate: (fn, arg) => send("evaluate", { src: src(fn), arg }),
      waitForFunction: (fn, arg, { timeout = 30_000 } = {}) => send("waitFor", { src: src(fn), arg, timeout }),
      screenshot: ({ path: file }) => send("screenshot", { file }),
      setInputFiles: (selector, file) => send("setInputFiles", { selector, file }),
    };
    const close = async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
      // The driver waited for Firefox to exit unless it was killed; then teardown kills the group.
      if (child.exitCode === 0) firefox.exitCode = 0;
    };
    this.firefoxes ??= [];
    this.firefoxes.push(close);
    return { page, version: hello.version, errors: () => send("errors"), close };
  }

  async destroy() {
    for (const b of this.browsers ?? []) await b.close().catch(() => undefined);
    this.browsers = [];
    for (const close of this.firefoxes ?? []) await close().catch(() => undefined);
    this.firefoxes = [];
    await this.stopServer().catch(() => undefined);
    this.destroySync();
  }

  /** Kills what this lab started (by PID) and deletes its namespaces; safe to call twice. */
  destroySync() {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    for (const child of this.processes) {
      if (child.exitCode === null && child.signalCode === null) {
        try { child.kill("SIGKILL"); } catch { /* gone */ }
      }
    }
    // Deleting a namespace kills nothing by itself; processes still inside were ours and got SIGKILL above.
    for (const ns of this.namespaces.reverse()) {
      try { execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" }); } catch { /* already gone */ }
    }
    rmSync(this.tmp, { recursive: true, force: true });
  }

  /** Namespaces of this lab that still exist (for the no-leftovers check). */
  static leftovers(prefix) {
    return run("ip", ["netns", "list"]).split("\n").map((l) => l.split(" ")[0]).filter((n) => n && n.startsWith(prefix));
  }
}

export function leftoverNamespaces(prefix) {
  return Lab.leftovers(prefix);
}
