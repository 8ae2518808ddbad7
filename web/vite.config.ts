import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants as zlib, gzipSync } from "node:zlib";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";
import { buildHash } from "./scripts/build-hash.mjs";

/**
 * Emits `sw.js` from `src/sw/sw.js` with the list of built files (the app shell) and a version
 * derived from them, so the service worker precaches exactly this build and drops older caches;
 * and `build.json`, the build hash people compare with a published one (scripts/build-hash.mjs).
 */
function serviceWorker(): Plugin {
  return {
    name: "ghostchat-service-worker",
    apply: "build",
    // After Vite's own plugins, so the pages (index.html, diagnostics.html) are in the bundle too.
    enforce: "post",
    // After every other plugin's generateBundle: Vite fills in the dependency lists of dynamic
    // imports there, and the hash must cover the bytes that are written.
    generateBundle: {
      order: "post",
      handler(_options, bundle) {
        // Every page, script and style of the build is in the build hash (build.json, with the list of
        // the files it covers); the operator's stats page (and its charts) is no part of the offline
        // app shell, as it may answer 404 to most people.
        const files = Object.keys(bundle).filter((f) => !f.endsWith(".map") && f !== "sw.js" && f !== "build.json");
        const bytes = new Map<string, Uint8Array>();
        for (const f of files) {
          const out = bundle[f]!;
          const content = out.type === "chunk" ? out.code : out.source;
          bytes.set("/" + f, typeof content === "string" ? Buffer.from(content) : content);
        }
        const hashed = [...bytes.keys()].sort();
        this.emitFile({ type: "asset", fileName: "build.json", source: JSON.stringify({ build: buildHash(bytes), files: hashed }) + "\n" });
        const shell = ["/", "/build.json", ...files.filter((f) => f !== "stats.html" && !/^assets\/stats-/.test(f)).map((f) => "/" + f)].sort();
        let hash = 0;
        for (const ch of shell.join("|")) hash = (Math.imul(hash, 31) + ch.charCodeAt(0)) | 0;
        const version = (hash >>> 0).toString(36);
        const source = readFileSync(new URL("./src/sw/sw.js", import.meta.url), "utf8")
          .replace("__SHELL__", JSON.stringify(shell))
          .replace("__VERSION__", JSON.stringify(version));
        this.emitFile({ type: "asset", fileName: "sw.js", source });
      },
    },
  };
}

/**
 * Writes brotli (`.br`) and gzip (`.gz`) copies beside every text file of the build that compresses,
 * once, at the highest levels; the server hands them to browsers that accept them
 * (src/GhostChat.Server/Web/WebExtensions.cs). Fewer bytes are fewer round trips of TCP slow start,
 * which is most of the page's load time on a slow link.
 */
function precompress(): Plugin {
  const TEXT = /\.(js|mjs|css|html|svg|json|webmanifest|txt)$/;
  let outDir = "dist";
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const full = path.join(dir, name);
      return statSync(full).isDirectory() ? walk(full) : [full];
    });
  return {
    name: "ghostchat-precompress",
    apply: "build",
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      for (const file of walk(outDir)) {
        if (!TEXT.test(file)) continue;
        const raw = readFileSync(file);
        if (raw.length < 1024) continue;
        const br = brotliCompressSync(raw, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: raw.length } });
        const gz = gzipSync(raw, { level: 9 });
        if (br.length < raw.length) writeFileSync(`${file}.br`, br);
        if (gz.length < raw.length) writeFileSync(`${file}.gz`, gz);
      }
    },
  };
}

export default defineConfig({
  base: "/",
  // PeerJS imports webrtc-adapter only to ask which browser this is; src/adapters/webrtc-adapter.ts
  // answers that, without the adapter's shims for old browsers (12 KB of the chat page).
  resolve: { alias: { "webrtc-adapter": fileURLToPath(new URL("./src/adapters/webrtc-adapter.ts", import.meta.url)) } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    assetsInlineLimit: 0,
    // Three pages: the app, the network diagnostics (ui/diagnostics.ts) that the app links to, and the
    // field-data charts at /stats (ui/stats.ts; the server decides who may load it).
    rollupOptions: { input: { main: "index.html", diagnostics: "diagnostics.html", stats: "stats.html" } },
  },
  plugins: [serviceWorker(), precompress()],
  test: {
    include: ["test/**/*.test.ts"],
    // Some session tests run on the real clock (back-off of 1 s, 2 s, 4 s …); on a shared 2-core
    // machine 5 s is not enough for them. Their own waits still fail with a message when a thing
    // does not happen.
    testTimeout: 20_000,
    environment: "node",
    // PeerJS's ES module through Vite's resolver (Node alone would load its CommonJS build, whose
    // require() no alias reaches), so tests run the PeerJS the app bundles: without webrtc-adapter.
    alias: [{ find: /^peerjs$/, replacement: "peerjs/dist/bundler.mjs" }],
    server: { deps: { inline: ["peerjs"] } },
  },
});
