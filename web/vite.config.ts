import { readFileSync } from "node:fs";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";

/**
 * Emits `sw.js` from `src/sw/sw.js` with the list of built files (the app shell) and a version
 * derived from them, so the service worker precaches exactly this build and drops older caches.
 */
function serviceWorker(): Plugin {
  return {
    name: "ghostchat-service-worker",
    apply: "build",
    generateBundle(_options, bundle) {
      const files = Object.keys(bundle).filter((f) => !f.endsWith(".map") && f !== "sw.js");
      const shell = ["/", ...files.map((f) => "/" + f)].sort();
      let hash = 0;
      for (const ch of shell.join("|")) hash = (Math.imul(hash, 31) + ch.charCodeAt(0)) | 0;
      const version = (hash >>> 0).toString(36);
      const source = readFileSync(new URL("./src/sw/sw.js", import.meta.url), "utf8")
        .replace("__SHELL__", JSON.stringify(shell))
        .replace("__VERSION__", JSON.stringify(version));
      this.emitFile({ type: "asset", fileName: "sw.js", source });
    },
  };
}

export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    assetsInlineLimit: 0,
    // Two pages: the app, and the network diagnostics (ui/diagnostics.ts) that the app links to.
    rollupOptions: { input: { main: "index.html", diagnostics: "diagnostics.html" } },
  },
  plugins: [serviceWorker()],
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
  },
});
