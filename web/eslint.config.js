// The web app's lint gate (`npm run lint`, run by ./test.sh): typescript-eslint's recommended rules
// with type information, and the layer boundaries of web/README.md as import rules:
//   - src/core never imports the UI, the adapters or a platform library (and compiles without the
//     DOM library: tsconfig.core.json);
//   - only src/adapters imports peerjs and idb;
//   - the UI reaches a core module through its index.ts (core/<module>), never its files.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const platformLibraries = [
  { name: "peerjs", message: "Only src/adapters/peerjs.ts imports peerjs." },
  { name: "idb", message: "Only src/adapters/idb.ts imports idb." },
];

const NODE_GLOBALS = ["process", "console", "Buffer", "setTimeout", "clearTimeout", "setInterval", "clearInterval", "URL", "fetch", "performance"];
const PAGE_GLOBALS = [
  "window",
  "document",
  "location",
  "navigator",
  "history",
  "indexedDB",
  "localStorage",
  "sessionStorage",
  "Event",
  "getComputedStyle",
  "requestAnimationFrame",
  "RTCPeerConnection",
  "crypto",
  "atob",
];

export default tseslint.config(
  { ignores: ["dist/**", "dist-e2e/**", "node_modules/**", "test-artifacts/**", "public/**", "src/sw/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["src/**/*.ts", "test/**/*.ts", "e2e-build/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-restricted-imports": ["error", { paths: platformLibraries }],
    },
  },
  {
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [...platformLibraries, { name: "qrcode", message: "core has no rendering." }],
          patterns: [
            { regex: "(^|/)ui(/|$)", message: "core never imports the UI." },
            { regex: "(^|/)adapters(/|$)", message: "core never imports the platform adapters; they implement its ports." },
          ],
        },
      ],
    },
  },
  {
    files: ["src/ui/**/*.ts", "src/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: platformLibraries,
          patterns: [{ regex: "^\\.\\./core/[a-z]+/", message: "The UI imports a core module through its index.ts: ../core/<module>." }],
        },
      ],
    },
  },
  {
    files: ["src/adapters/**/*.ts"],
    rules: { "no-restricted-imports": "off" },
  },
  {
    files: ["e2e/**/*.mjs", "scripts/**/*.mjs", "*.js", "*.ts"],
    // Node scripts that also hand functions to the page (page.evaluate): both sets of globals.
    languageOptions: { globals: Object.fromEntries([...NODE_GLOBALS, ...PAGE_GLOBALS].map((g) => [g, "readonly"])) },
  },
);
