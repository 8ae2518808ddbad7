import { mergeConfig, type Plugin } from "vite";
import base from "./vite.config.ts";

/**
 * The e2e test build: the same app from e2e-build/main.ts, which adds the test hooks, into
 * web/dist-e2e. Only tests serve it (e2e/harness.mjs `startServer({ build: "e2e" })`); the shipped
 * bundle in web/dist never contains the hooks (e2e/pwa.test.mjs checks).
 */
function testEntry(): Plugin {
  return {
    name: "ghostchat-e2e-entry",
    // "pre": before Vite resolves the page's scripts.
    transformIndexHtml: { order: "pre", handler: (html) => html.replace('src="/src/main.ts"', 'src="/e2e-build/main.ts"') },
  };
}

export default mergeConfig(base, {
  build: { outDir: "dist-e2e" },
  plugins: [testEntry()],
});
