import { HASH_WORKER_URL } from "../adapters/hash-worker";

/**
 * Trusted Types (the server's CSP says `require-trusted-types-for 'script'; trusted-types default`):
 * every string that reaches an HTML, script or script-URL sink goes through this "default" policy.
 * The app builds its DOM with textContent and createElement only; the sinks it uses are the
 * service worker registration and the file-hashing worker (adapters/hash-worker.ts), so the policy
 * admits exactly those two script URLs and nothing else — HTML and script strings, and any other
 * script URL, are refused (the browser then blocks the sink).
 */
const SERVICE_WORKER = "/sw.js";

interface TrustedTypePolicyFactoryLike {
  createPolicy(name: string, rules: { createScriptURL?: (input: string) => string | null }): unknown;
}

export function installTrustedTypesPolicy(): void {
  const factory = (globalThis as { trustedTypes?: TrustedTypePolicyFactoryLike }).trustedTypes;
  if (!factory) return; // browsers without Trusted Types: the CSP directive is ignored there too
  factory.createPolicy("default", {
    createScriptURL: (input) => {
      const url = new URL(input, location.href);
      const allowed = [SERVICE_WORKER, new URL(HASH_WORKER_URL, location.href).pathname];
      return url.origin === location.origin && allowed.includes(url.pathname) && url.search === "" ? url.href : null;
    },
  });
}
