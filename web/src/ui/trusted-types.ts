/**
 * Trusted Types (the server's CSP says `require-trusted-types-for 'script'; trusted-types default`):
 * every string that reaches an HTML, script or script-URL sink goes through this "default" policy.
 * The app builds its DOM with textContent and createElement only; the one sink it uses is the
 * service worker registration, so the policy admits exactly that script URL and nothing else —
 * HTML and script strings, and any other script URL, are refused (the browser then blocks the sink).
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
      return url.origin === location.origin && url.pathname === SERVICE_WORKER && url.search === "" ? url.href : null;
    },
  });
}
