import { browserOf } from "../core/telemetry";

/**
 * What PeerJS reads of `webrtc-adapter`, without the adapter (vite.config.ts points the import
 * here). PeerJS asks it only which browser and version this is (`browserDetails`), for its
 * `util.browser` and `supports.browser`; the adapter would also rewrite `RTCPeerConnection`,
 * `RTCIceCandidate` and every data channel's `send` with shims for browsers far older than those
 * GhostChat supports, and weighs 12 KB of the chat page's script. The browsers' own objects are
 * used as they are.
 */
/** PeerJS's names: "chrome" for every Chromium browser, "firefox", "safari" (version: WebKit's build). */
export function browserDetails(userAgent: string): { browser: string; version: number | null } {
  const { family, major } = browserOf(userAgent);
  const chromium = family === "chrome" || family === "edge" || family === "opera" || family === "samsung";
  const browser = chromium ? "chrome" : family === "firefox" || family === "safari" ? family : "Not a supported browser.";
  // The adapter gives Safari's WebKit build (605 …), the unit PeerJS states its minimum in.
  const version = family === "safari" ? Number(/AppleWebKit\/(\d+)/.exec(userAgent)?.[1] ?? 0) : major;
  return { browser, version: version || null };
}

export default { browserDetails: browserDetails(typeof navigator === "undefined" ? "" : navigator.userAgent) };
