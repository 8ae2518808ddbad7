import { describe, expect, it } from "vitest";
import {
  DEFAULT_SETTINGS,
  iceEndpoint,
  loadSettings,
  originsBlockedByPolicy,
  parseIceServers,
  peerServerOptions,
  saveSettings,
  serverOrigins,
  settingsToForm,
  validateSettings,
  type SettingsForm,
} from "../src/core/settings";

const form = (over: Partial<SettingsForm> = {}): SettingsForm => ({
  custom: true,
  host: "signal.example.org",
  port: "9000",
  path: "/myapp",
  key: "peerjs",
  secure: true,
  iceServers: "",
  ...over,
});

class MemoryStorage {
  data = new Map<string, string>();
  getItem(k: string) {
    return this.data.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.data.set(k, v);
  }
  removeItem(k: string) {
    this.data.delete(k);
  }
}

describe("settings", () => {
  it("validateSettings_Valid_ReturnsSettings", () => {
    const r = validateSettings(form({ iceServers: "stun:stun.example.org:3478\nturn:turn.example.org:3478?transport=tcp alice s3cret" }));
    expect(r).toEqual({
      ok: true,
      settings: {
        custom: true,
        host: "signal.example.org",
        port: 9000,
        path: "/myapp",
        key: "peerjs",
        secure: true,
        iceServers: [{ urls: "stun:stun.example.org:3478" }, { urls: "turn:turn.example.org:3478?transport=tcp", username: "alice", credential: "s3cret" }],
      },
    });
  });

  it("validateSettings_NotCustom_Defaults", () => {
    expect(validateSettings(form({ custom: false, host: "!!!" }))).toEqual({ ok: true, settings: DEFAULT_SETTINGS });
  });

  it("validateSettings_EveryFieldBad_CollectsEveryError", () => {
    const r = validateSettings(form({ host: "bad host", port: "70000", path: "no-slash", key: "a key", iceServers: "http://x" }));
    expect(r).toEqual({
      ok: false,
      errors: { host: "settingsErrorHost", port: "settingsErrorPort", path: "settingsErrorPath", key: "settingsErrorKey", iceServers: "settingsErrorIce" },
    });
  });

  it.each(["127.0.0.1", "[::1]", "localhost", "a-b.c"])("validateSettings_Host %s_Accepted", (host) => {
    expect(validateSettings(form({ host })).ok).toBe(true);
  });

  it.each(["0", "-1", "1.5", "", "abc"])("validateSettings_Port %s_Refused", (port) => {
    expect(validateSettings(form({ port })).ok).toBe(false);
  });

  it("parseIceServers_TurnWithoutCredentials_Refused", () => {
    expect(parseIceServers("turn:t.example:3478")).toBeNull();
    expect(parseIceServers("stun:s.example:3478 user")).toBeNull();
    expect(parseIceServers("  \n\n")).toEqual([]);
  });

  it("saveAndLoad_RoundTrip_AndDefaultsRemoveStorage", () => {
    const storage = new MemoryStorage();
    const r = validateSettings(form({ iceServers: "stun:s.example:3478" }));
    if (!r.ok) throw new Error("invalid");
    saveSettings(storage, r.settings);
    expect(loadSettings(storage)).toEqual(r.settings);
    saveSettings(storage, DEFAULT_SETTINGS);
    expect(storage.data.size).toBe(0);
    expect(loadSettings(storage)).toEqual(DEFAULT_SETTINGS);
  });

  it("loadSettings_Garbage_Defaults", () => {
    const storage = new MemoryStorage();
    storage.setItem("ghostchat.settings.v1", "{not json");
    expect(loadSettings(storage)).toEqual(DEFAULT_SETTINGS);
    storage.setItem("ghostchat.settings.v1", JSON.stringify({ custom: true, host: "<script>", port: 1 }));
    expect(loadSettings(storage)).toEqual(DEFAULT_SETTINGS);
  });

  it("settingsToForm_RoundTrips", () => {
    const r = validateSettings(form({ iceServers: "turns:t.example:443 u p" }));
    if (!r.ok) throw new Error("invalid");
    expect(validateSettings(settingsToForm(r.settings))).toEqual(r);
  });

  it("peerServerOptions_Default_SameOrigin", () => {
    expect(peerServerOptions(DEFAULT_SETTINGS, { hostname: "127.0.0.1", port: "5123", protocol: "http:" })).toEqual({
      host: "127.0.0.1",
      port: 5123,
      path: "/",
      key: "peerjs",
      secure: false,
    });
    expect(peerServerOptions(DEFAULT_SETTINGS, { hostname: "chat.example", port: "", protocol: "https:" })).toEqual({
      host: "chat.example",
      port: 443,
      path: "/",
      key: "peerjs",
      secure: true,
    });
  });

  it("iceEndpoint_ChoosesSource", () => {
    expect(iceEndpoint(DEFAULT_SETTINGS)).toBe("/api/ice");
    const r = validateSettings(form());
    if (!r.ok) throw new Error("invalid");
    expect(iceEndpoint(r.settings)).toBe("https://signal.example.org:9000/api/ice");
    expect(iceEndpoint({ ...r.settings, iceServers: [{ urls: "stun:x:1" }] })).toBeNull();
  });
});

describe("settings under the page's Content-Security-Policy", () => {
  const POLICY = "default-src 'self'; connect-src 'self' https://signal.example.org wss://signal.example.org; require-trusted-types-for 'script'";
  const PAGE = "https://chat.example.org";
  const custom = (host: string, port: number, secure = true) => ({ ...DEFAULT_SETTINGS, custom: true, host, port, secure });

  it("serverOrigins_CustomServer_HttpAndSocketOrigins", () => {
    expect(serverOrigins(custom("Signal.Example.org", 9000))).toEqual(["https://signal.example.org:9000", "wss://signal.example.org:9000"]);
    expect(serverOrigins(custom("localhost", 8080, false))).toEqual(["http://localhost:8080", "ws://localhost:8080"]);
    expect(serverOrigins(DEFAULT_SETTINGS)).toEqual([]);
  });

  it("originsBlockedByPolicy_AllowedOrigins_None", () => {
    expect(originsBlockedByPolicy(POLICY, PAGE, serverOrigins(custom("signal.example.org", 443)))).toEqual([]);
    // The page's own origin ('self' admits its ws/wss too).
    expect(originsBlockedByPolicy(POLICY, PAGE, serverOrigins(custom("chat.example.org", 443)))).toEqual([]);
    expect(originsBlockedByPolicy("connect-src 'self'", "http://127.0.0.1:8080", ["http://127.0.0.1:8080", "ws://127.0.0.1:8080"])).toEqual([]);
  });

  it("originsBlockedByPolicy_OtherHostOrPort_Blocked", () => {
    expect(originsBlockedByPolicy(POLICY, PAGE, serverOrigins(custom("evil.example", 443)))).toEqual(["https://evil.example:443", "wss://evil.example:443"]);
    expect(originsBlockedByPolicy(POLICY, PAGE, serverOrigins(custom("signal.example.org", 9000)))).toEqual([
      "https://signal.example.org:9000",
      "wss://signal.example.org:9000",
    ]);
    expect(originsBlockedByPolicy("connect-src 'self'", "http://127.0.0.1:8080", ["http://localhost:8080", "ws://localhost:8080"])).toHaveLength(2);
  });

  it("originsBlockedByPolicy_SchemesWildcardsPortsAndFallbacks", () => {
    expect(originsBlockedByPolicy("connect-src 'self' http: https: ws: wss:", PAGE, ["http://a.example:1", "wss://b.example:2"])).toEqual([]);
    expect(originsBlockedByPolicy("connect-src https:", PAGE, ["http://a.example:1", "wss://b.example:2"])).toEqual(["http://a.example:1"]);
    expect(originsBlockedByPolicy("connect-src *.example.org:*", PAGE, ["https://s.example.org:9", "https://example.com:9"])).toEqual([
      "https://example.com:9",
    ]);
    expect(originsBlockedByPolicy("connect-src *", PAGE, ["wss://anything.example:1"])).toEqual([]);
    expect(originsBlockedByPolicy("default-src 'self'", PAGE, ["https://other.example:443"])).toEqual(["https://other.example:443"]);
    expect(originsBlockedByPolicy("script-src 'self'", PAGE, ["https://other.example:443"])).toEqual([]); // nothing restricts connections
    expect(originsBlockedByPolicy(null, PAGE, ["https://other.example:443"])).toEqual([]);
    expect(originsBlockedByPolicy("connect-src 'none'", PAGE, ["https://chat.example.org:443"])).toEqual(["https://chat.example.org:443"]);
  });
});
