// eslint-disable-next-line no-restricted-imports -- this test checks what PeerJS itself reads of the adapter
import { util } from "peerjs";
import { describe, expect, it } from "vitest";
import adapter, { browserDetails } from "../src/adapters/webrtc-adapter";

describe("webrtc-adapter stand-in (what PeerJS asks of the adapter)", () => {
  it.each([
    ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36", "chrome", 156],
    ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.2849.68", "chrome", 130],
    ["Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0", "firefox", 140],
    ["Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "safari", 605],
  ])("names %s as PeerJS expects", (ua, browser, version) => {
    expect(browserDetails(ua)).toEqual({ browser, version });
  });

  it("names an unknown or empty user agent as unsupported, with no version", () => {
    expect(browserDetails("")).toEqual({ browser: "Not a supported browser.", version: null });
    expect(browserDetails("curl/8.5.0")).toEqual({ browser: "Not a supported browser.", version: null });
  });

  it("is what the PeerJS the app bundles reads (vite.config.ts points webrtc-adapter here)", () => {
    expect(util.browser).toBe(adapter.browserDetails.browser);
    expect(util.browserVersion).toBe(adapter.browserDetails.version ?? 0);
  });
});
