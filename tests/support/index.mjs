// The JavaScript test support shared by web/e2e, tests/interop and lab (plain Node.js, no packages): free loopback
// ports, child processes started with their output kept and stopped by their own PID (never by name: the machine
// is shared), waiting for a ready line or a URL, and where the built server is.
//
//   SERVER_DLL                                   -> $GHOSTCHAT_SERVER_DLL, else this checkout's Release build
//   SERVER_READY                                 -> the line the server prints once it serves
//   freePort() / freeUdpPort()                   -> Promise<number>: free on 127.0.0.1 a moment ago
//   collectOutput(child, { limit })              -> () => string: what it printed (stdout and stderr, the last `limit` chars)
//   waitForOutput(child, pattern, { timeoutMs, output, what }) -> resolves once the output matches; rejects when it
//                                                   exits first or the time is up
//   waitForUrl(url, { timeoutMs, child })        -> resolves once a GET answers (any status)
//   stopProcess(child, { graceMs })              -> SIGTERM to its PID, SIGKILL after graceMs; resolves with
//                                                   { code, signal } once it exited
//   runProcess(command, args, { env, cwd, timeoutMs }) -> runs to its end (SIGKILL to its PID after timeoutMs);
//                                                   resolves with { code, signal, stdout, stderr, out }
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

/** The repository root. */
export const ROOT = path.resolve(here, "../..");

/** The built server: $GHOSTCHAT_SERVER_DLL (set by ./test.sh), else this checkout's Release build. */
export const SERVER_DLL = process.env.GHOSTCHAT_SERVER_DLL
  ? path.resolve(process.env.GHOSTCHAT_SERVER_DLL)
  : path.join(ROOT, "src/GhostChat.Server/bin/Release/net10.0/GhostChat.Server.dll");

/** What the server prints once it serves (GhostChat.Server's startup banner). */
export const SERVER_READY = /GhostChat is running/;

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A UDP port that was free on 127.0.0.1 a moment ago. */
export function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket("udp4");
    s.once("error", reject);
    s.bind(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Keeps what a child prints on stdout and stderr (the last `limit` characters); returns a reader. */
export function collectOutput(child, { limit = 200_000 } = {}) {
  let out = "";
  const append = (chunk) => {
    out += chunk.toString();
    if (out.length > limit) out = out.slice(-Math.floor(limit / 2));
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  return () => out;
}

function hasExited(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Resolves once `output()` (default: collected here) matches `pattern`; rejects with the output when the child exits
 * first or `timeoutMs` passes.
 */
export function waitForOutput(child, pattern, { timeoutMs = 60_000, output = collectOutput(child), what = "process" } = {}) {
  return new Promise((resolve, reject) => {
    const done = (error) => {
      clearTimeout(timer);
      child.stdout?.off("data", check);
      child.stderr?.off("data", check);
      child.off("exit", onExit);
      if (error) reject(error);
      else resolve();
    };
    const check = () => {
      if (pattern.test(output())) done();
    };
    const onExit = (code, signal) => done(new Error(`${what} exited (code ${code}, signal ${signal}) before it was ready:\n${output().slice(-4000)}`));
    const timer = setTimeout(() => done(new Error(`${what} was not ready within ${timeoutMs / 1000} s:\n${output().slice(-4000)}`)), timeoutMs);
    // Listeners added after collectOutput's, so the output already holds the chunk being checked.
    child.stdout?.on("data", check);
    child.stderr?.on("data", check);
    child.once("exit", onExit);
    if (hasExited(child)) onExit(child.exitCode, child.signalCode);
    else check();
  });
}

/** Resolves once a GET of `url` answers with any status; rejects when `child` exits first or the time is up. */
export async function waitForUrl(url, { timeoutMs = 30_000, child = null } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && hasExited(child)) throw new Error(`process exited before ${url} answered`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      return res.status;
    } catch {
      if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * SIGTERM to the child's own PID (as a service manager would), SIGKILL after `graceMs`; resolves with how it exited,
 * `{ code, signal }`.
 */
export async function stopProcess(child, { graceMs = 10_000 } = {}) {
  if (!child) return { code: null, signal: null };
  if (hasExited(child)) return { code: child.exitCode, signal: child.signalCode };
  const exited = new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
  try {
    process.kill(child.pid, "SIGTERM");
  } catch {
    /* gone already: its exit event comes */
  }
  const timer = setTimeout(() => {
    if (!hasExited(child)) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  }, graceMs);
  const how = await exited;
  clearTimeout(timer);
  return how;
}

/** Runs a program to its end; after `timeoutMs` it is killed by its PID. Resolves with its exit and output. */
export function runProcess(command, args, { env = process.env, cwd = undefined, timeoutMs = 180_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let out = "";
    child.stdout.on("data", (c) => {
      stdout += c;
      out += c;
    });
    child.stderr.on("data", (c) => {
      stderr += c;
      out += c;
    });
    const timer = setTimeout(() => {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, out });
    });
  });
}
