import { describe, expect, it } from "vitest";
import { assessContext, classifyHost, type ContextFacts } from "../src/core/context";
import { en } from "../src/core/strings";

const insecure: ContextFacts = {
  secureContext: false,
  protocol: "http:",
  hostname: "192.168.1.10",
  port: "8080",
  webCrypto: false,
  serviceWorker: false,
  wakeLock: false,
  clipboard: false,
  mediaDevices: false,
};

describe("assessContext", () => {
  it("secureContext_NoNotice", () => {
    expect(assessContext({ ...insecure, secureContext: true, protocol: "https:" })).toEqual({ secure: true });
    // localhost over http is a secure context: the browser says so, and we believe it.
    expect(assessContext({ ...insecure, secureContext: true, hostname: "localhost" })).toEqual({ secure: true });
  });

  it("lanAddressOverHttp_ListsEveryMissingFeature_SuggestsLocalhostOnSamePort", () => {
    expect(assessContext(insecure)).toEqual({
      secure: false,
      host: "192.168.1.10",
      hostKind: "local-network",
      missing: ["webCrypto", "serviceWorker", "mediaDevices", "wakeLock", "clipboard"],
      blocking: true,
      localhostUrl: "http://localhost:8080/",
    });
  });

  it("onlyAbsentFeaturesListed", () => {
    const a = assessContext({ ...insecure, webCrypto: true, clipboard: true });
    expect(a.secure === false && a.missing).toEqual(["serviceWorker", "mediaDevices", "wakeLock"]);
    // With WebCrypto the app can still run (degraded): the notice explains but does not block.
    expect(a.secure === false && a.blocking).toBe(false);
    const none = assessContext({ ...insecure, webCrypto: true, serviceWorker: true, wakeLock: true, clipboard: true, mediaDevices: true });
    expect(none.secure === false && none.missing).toEqual([]);
  });

  it("defaultPort_LocalhostUrlWithoutPort_MalformedPortIgnored", () => {
    const a = assessContext({ ...insecure, port: "" });
    expect(a.secure === false && a.localhostUrl).toBe("http://localhost/");
    const b = assessContext({ ...insecure, port: "80/evil" });
    expect(b.secure === false && b.localhostUrl).toBe("http://localhost/");
  });

  it("publicName_InternetAdvice", () => {
    const a = assessContext({ ...insecure, hostname: "chat.example.org", port: "" });
    expect(a.secure === false && a.hostKind).toBe("internet");
  });
});

describe("classifyHost", () => {
  it.each([
    ["localhost", "this-device"],
    ["app.localhost", "this-device"],
    ["127.0.0.1", "this-device"],
    ["127.8.9.10", "this-device"],
    ["[::1]", "this-device"],
    ["LOCALHOST.", "this-device"],
    ["10.0.0.5", "local-network"],
    ["172.16.0.1", "local-network"],
    ["172.31.255.255", "local-network"],
    ["192.168.77.1", "local-network"],
    ["169.254.1.1", "local-network"],
    ["100.64.0.1", "local-network"],
    ["[fd00::1]", "local-network"],
    ["[fe80::1]", "local-network"],
    ["raspberrypi", "local-network"],
    ["nas.local", "local-network"],
    ["box.home.arpa", "local-network"],
    ["pi.lan", "local-network"],
    ["172.32.0.1", "internet"],
    ["8.8.8.8", "internet"],
    ["203.0.113.7", "internet"],
    ["[2001:db8::1]", "internet"],
    ["chat.example.org", "internet"],
  ])("%s is %s", (host, kind) => {
    expect(classifyHost(host)).toBe(kind);
  });

  it.each(["256.1.1.1", "1.2.3", "1.2.3.4.5", "192.168.1.x", "", "   "])("malformed %j never throws", (host) => {
    expect(() => classifyHost(host)).not.toThrow();
    expect(["this-device", "local-network", "internet"]).toContain(classifyHost(host));
  });

  it("malformedIPv4LookingNames_AreNotTreatedAsAddresses", () => {
    // 256.1.1.1 is not an address; as a dotted name it is not local-only either.
    expect(classifyHost("256.1.1.1")).toBe("internet");
  });
});

describe("insecure strings", () => {
  it("everyFeatureHasText_AndFixesMentionHttps", () => {
    for (const k of [
      "insecureMissingWebCrypto",
      "insecureMissingServiceWorker",
      "insecureMissingMediaDevices",
      "insecureMissingWakeLock",
      "insecureMissingClipboard",
    ] as const) {
      expect(en[k].length).toBeGreaterThan(10);
    }
    expect(en.insecureFixLocalNetwork).toContain("https://");
    expect(en.insecureFixInternet).toContain("https://");
    expect(en.insecureFixThisDevice).toContain("{url}");
    expect(en.insecureBody).toContain("{host}");
    expect(en.insecureBodyBlocked).toContain("{host}");
  });
});
