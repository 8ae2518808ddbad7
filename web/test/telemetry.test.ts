import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ERROR_KINDS } from "../src/core/errors";
import {
  CONNECT_BUCKETS,
  CONSENT_KEY,
  FAMILIES,
  LIMITS,
  RESUME_BUCKETS,
  TelemetryBatch,
  browserOf,
  connectBucket,
  loadConsent,
  resumeBucket,
  saveConsent,
  scrubDiagnostics,
  sizeBucket,
} from "../src/core/telemetry";
import { VERDICTS } from "../src/core/diagnostics";

/** The server's schema, read from its source: the browser must send only what it accepts. */
const schema = readFileSync(new URL("../../src/GhostChat.Server/Telemetry/TelemetrySchema.cs", import.meta.url), "utf8");
function serverList(name: string): string[] {
  const m = new RegExp(`${name} = (?:Set\\(|\\[)([^;]*?)[)\\]];`, "s").exec(schema);
  if (!m) throw new Error(`no ${name} in TelemetrySchema.cs`);
  return [...(m[1] ?? "").matchAll(/"([^"]+)"/g)].map((x) => x[1] ?? "");
}

function memoryStorage(initial: Record<string, string> = {}) {
  const map = new Map(Object.entries(initial));
  return { getItem: (k: string) => map.get(k) ?? null, setItem: (k: string, v: string) => void map.set(k, v), map };
}

describe("field data: the wire format matches the server's schema", () => {
  it("enumerations_SameAsTelemetrySchemaCs", () => {
    expect(serverList("Families")).toEqual([...FAMILIES]);
    expect(serverList("ConnectBuckets")).toEqual([...CONNECT_BUCKETS]);
    expect(serverList("ResumeBuckets")).toEqual([...RESUME_BUCKETS]);
    expect(serverList("ErrorKinds")).toEqual([...ERROR_KINDS]);
    expect(serverList("Sizes")).toEqual([1, 3, 5, 9, 12].map(sizeBucket).filter((v, i, a) => a.indexOf(v) === i));
    expect(serverList("Verdicts")).toEqual([...VERDICTS]);
  });

  it("limits_SameAsTelemetrySchemaCs", () => {
    const constant = (name: string) => Number((new RegExp(`${name} = ([\\d_]+);`).exec(schema)?.[1] ?? "").replace(/_/g, ""));
    expect(constant("MaxAttempts")).toBe(LIMITS.attempts);
    expect(constant("MaxRooms")).toBe(LIMITS.rooms);
    expect(constant("MaxErrors")).toBe(LIMITS.errors);
    expect(constant("MaxResumed")).toBe(LIMITS.resumed);
    expect(constant("MaxCount")).toBe(LIMITS.count);
  });
});

describe("field data: buckets", () => {
  it("connectBucket_Edges", () => {
    expect([0, 999, 1000, 1999, 4999, 9999, 10_000, 29_999, 30_000, 1e9].map(connectBucket)).toEqual([
      "0-1s",
      "0-1s",
      "1-2s",
      "1-2s",
      "2-5s",
      "5-10s",
      "10-30s",
      "10-30s",
      "30s+",
      "30s+",
    ]);
  });

  it("resumeBucket_Edges", () => {
    expect([0, 1999, 2000, 14_999, 15_000, 59_999, 60_000].map(resumeBucket)).toEqual(["0-2s", "0-2s", "2-5s", "5-15s", "15-60s", "15-60s", "60s+"]);
  });

  it("sizeBucket_Edges", () => {
    expect([1, 2, 3, 4, 5, 8, 9, 12].map(sizeBucket)).toEqual(["2", "2", "3-4", "3-4", "5-8", "5-8", "9+", "9+"]);
  });

  it("browserOf_RealUserAgents_FamilyAndMajorOnly", () => {
    const cases: [string, string, number][] = [
      ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "chrome", 131],
      ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.2849.68", "edge", 130],
      ["Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "firefox", 128],
      ["Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "safari", 17],
      [
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1",
        "chrome",
        126,
      ],
      [
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
        "samsung",
        25,
      ],
      ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36 OPR/115.0.0.0", "opera", 115],
      ["curl/8.5.0", "other", 0],
      ["Chrome/99999999", "chrome", 999],
    ];
    for (const [ua, family, major] of cases) expect(browserOf(ua), ua).toEqual({ family, major });
  });
});

describe("field data: diagnostics summary is scrubbed", () => {
  it("scrubDiagnostics_KeepsOutlookAndKnownVerdicts_DropsAddressesAndEverythingElse", () => {
    const scrubbed = scrubDiagnostics({
      outlook: "relay",
      verdicts: ["udp-blocked", "198.51.100.4", "udp-blocked", 7],
      headline: "diag.headline.relay",
      mapped: ["203.0.113.5:4444"],
    });
    expect(scrubbed).toEqual({ outlook: "relay", verdicts: ["udp-blocked"] });
    expect(JSON.stringify(scrubbed)).not.toMatch(/\d+\.\d+\.\d+\.\d+/);
  });

  it("scrubDiagnostics_Malformed_Null", () => {
    for (const bad of [null, 1, "x", {}, { outlook: "sideways", verdicts: [] }, { outlook: "relay", verdicts: "udp-blocked" }])
      expect(scrubDiagnostics(bad)).toBeNull();
  });
});

describe("field data: consent", () => {
  it("loadConsent_NothingYet_Null_ThenWhatWasSaved", () => {
    const storage = memoryStorage();
    expect(loadConsent(storage)).toBeNull();
    saveConsent(storage, true);
    expect(storage.map.get(CONSENT_KEY)).toBe("on");
    expect(loadConsent(storage)).toBe("on");
    saveConsent(storage, false);
    expect(loadConsent(storage)).toBe("off");
  });

  it("loadConsent_GarbageOrRefusedStorage_NeverOn", () => {
    expect(loadConsent(memoryStorage({ [CONSENT_KEY]: "yes please" }))).toBeNull();
    const refusing = {
      getItem: () => {
        throw new Error("SecurityError");
      },
    };
    expect(loadConsent(refusing)).toBe("off");
  });
});

describe("field data: batch", () => {
  const browser = { family: "firefox" as const, major: 128 };

  it("take_Empty_Null", () => {
    const batch = new TelemetryBatch(browser);
    batch.room("2");
    expect(batch.pending).toBe(false);
    expect(batch.take()).toBeNull();
  });

  it("take_AttemptsRoomsErrors_OneReport_ThenEmptied_RoomCountsZeroed", () => {
    const batch = new TelemetryBatch(browser);
    batch.attempt({ outcome: "connected", size: "2", ttc: "1-2s", path: "direct", transport: "udp" });
    batch.error("ice-failed", { outlook: "relay", verdicts: ["udp-blocked"] });
    const room = batch.room("3-4");
    room.sent += 5;
    room.delivered += 4;
    room.givenUp += 1;
    room.resumed.push("0-2s");
    expect(batch.pending).toBe(true);
    expect(batch.take()).toEqual({
      v: 1,
      browser,
      attempts: [{ outcome: "connected", size: "2", ttc: "1-2s", path: "direct", transport: "udp" }],
      rooms: [{ size: "3-4", sent: 5, delivered: 4, givenUp: 1, resumed: ["0-2s"] }],
      errors: [{ kind: "ice-failed", diagnostics: { outlook: "relay", verdicts: ["udp-blocked"] } }],
    });
    expect(batch.take()).toBeNull();
    room.sent += 2;
    expect(batch.take()?.rooms).toEqual([{ size: "3-4", sent: 2, delivered: 0, givenUp: 0 }]);
  });

  it("batch_PastTheServersLimits_Bounded", () => {
    const batch = new TelemetryBatch(browser);
    for (let i = 0; i < 100; i++) {
      batch.attempt({ outcome: "failed", size: "2" });
      batch.error("unknown");
      const room = batch.room("2");
      room.sent = 1e9;
      for (let j = 0; j < 100; j++) room.resumed.push("60s+");
    }
    const report = batch.take()!;
    expect(report.attempts).toHaveLength(LIMITS.attempts);
    expect(report.errors).toHaveLength(LIMITS.errors);
    expect(report.rooms).toHaveLength(LIMITS.rooms);
    for (const room of report.rooms!) {
      expect(room.sent).toBe(LIMITS.count);
      expect(room.resumed).toHaveLength(LIMITS.resumed);
    }
  });

  it("dropError_SentByHand_NotSentAgain", () => {
    const batch = new TelemetryBatch(browser);
    batch.error("ice-failed");
    batch.error("offline");
    batch.dropError("ice-failed");
    expect(batch.take()?.errors).toEqual([{ kind: "offline" }]);
  });
});
