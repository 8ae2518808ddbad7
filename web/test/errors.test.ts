import { describe, expect, it } from "vitest";
import { classifyError, describeError, ERROR_ACTIONS, ERROR_KINDS, errorReport, isErrorKind, parseRetryAfter, Recovery, actionLabel } from "../src/core/errors";
import { en, isStringKey, t } from "../src/core/strings";

describe("errors taxonomy", () => {
  it("describeError_EveryKind_HasTitleExplanationCauseAndActions", () => {
    for (const kind of ERROR_KINDS) {
      const info = describeError(kind);
      for (const key of [info.title, info.explanation, info.cause]) {
        expect(isStringKey(key), key).toBe(true);
        expect(t(key).length).toBeGreaterThan(10);
      }
      expect(info.actions.length).toBeGreaterThan(0);
      for (const a of info.actions) expect(ERROR_ACTIONS).toContain(a);
    }
    for (const a of ERROR_ACTIONS) expect(isStringKey(actionLabel(a))).toBe(true);
  });

  it("describeError_Titles_AreDistinct", () => {
    const titles = ERROR_KINDS.map((k) => en[describeError(k).title]);
    expect(new Set(titles).size).toBe(ERROR_KINDS.length);
  });

  it("describeError_IceFailed_OffersRelayFirst_AndDiagnostics", () => {
    const info = describeError("ice-failed");
    expect(info.actions[0]).toBe("retry-relay");
    expect(info.actions).toContain("diagnostics");
    expect(info.actions).toContain("copy-report");
    expect(info.autoRetry).toBe(true);
  });

  it("describeError_InviteProblems_NeverAutoRetry_AndOfferNewInvite", () => {
    for (const k of ["invite-expired", "invite-revoked", "invite-malformed"] as const) {
      expect(describeError(k).autoRetry).toBe(false);
      expect(describeError(k).actions).toContain("new-invite");
      expect(describeError(k).actions).not.toContain("retry");
    }
  });

  it("classifyError_Environment", () => {
    expect(classifyError({ source: "environment", webrtc: false, secureContext: true, online: true })).toBe("no-webrtc");
    expect(classifyError({ source: "environment", webrtc: true, secureContext: false, online: true })).toBe("insecure-context");
    expect(classifyError({ source: "environment", webrtc: true, secureContext: true, online: false })).toBe("offline");
  });

  it("classifyError_SessionReasons", () => {
    expect(classifyError({ source: "session", reason: "server-unreachable" })).toBe("signaling-unreachable");
    expect(classifyError({ source: "session", reason: "server-refused" })).toBe("server-refused");
    expect(classifyError({ source: "session", reason: "peer-unreachable" })).toBe("peer-unavailable");
    expect(classifyError({ source: "session", reason: "id-taken" })).toBe("id-taken");
    expect(classifyError({ source: "session", reason: "room-full" })).toBe("room-full");
    expect(classifyError({ source: "session", reason: "ice-failed" })).toBe("ice-failed");
    expect(classifyError({ source: "session", reason: "channel-closed" })).toBe("channel-closed");
    expect(classifyError({ source: "session", reason: "auth-failed" })).toBe("auth-failed");
    expect(classifyError({ source: "session", reason: "nonsense" as never })).toBe("unknown");
  });

  it("classifyError_PeerJsKinds", () => {
    expect(classifyError({ source: "peerjs", kind: "unavailable-id" })).toBe("id-taken");
    expect(classifyError({ source: "peerjs", kind: "invalid-key" })).toBe("server-refused");
    expect(classifyError({ source: "peerjs", kind: "network" })).toBe("signaling-unreachable");
    expect(classifyError({ source: "peerjs", kind: "browser-incompatible" })).toBe("no-webrtc");
    expect(classifyError({ source: "peerjs", kind: "peer-unavailable" })).toBe("peer-unavailable");
    expect(classifyError({ source: "peerjs", kind: "other" })).toBe("unknown");
  });

  it("classifyError_Invites_UnknownErrorIsMalformed", () => {
    expect(classifyError({ source: "invite", error: "expired" })).toBe("invite-expired");
    expect(classifyError({ source: "invite", error: "revoked" })).toBe("invite-revoked");
    expect(classifyError({ source: "invite", error: "unsupported-version" })).toBe("invite-unsupported");
    expect(classifyError({ source: "invite", error: "}{garbage" })).toBe("invite-malformed");
  });

  it("classifyError_IceFailed_ByCandidateErrors", () => {
    const turnUrl = "turn:203.0.113.1:3478?transport=udp";
    expect(classifyError({ source: "ice", state: "failed", candidateErrors: [{ url: turnUrl, errorCode: 401 }] })).toBe("turn-refused");
    expect(classifyError({ source: "ice", state: "failed", candidateErrors: [{ url: turnUrl, errorCode: 441 }] })).toBe("turn-refused");
    expect(
      classifyError({
        source: "ice",
        state: "failed",
        candidateErrors: [
          { url: turnUrl, errorCode: 701 },
          { url: "turns:h:443?transport=tcp", errorCode: 701 },
        ],
      }),
    ).toBe("turn-unreachable");
    // 701 only from STUN: the relay was not the problem.
    expect(classifyError({ source: "ice", state: "failed", candidateErrors: [{ url: "stun:h:3478", errorCode: 701 }] })).toBe("ice-failed");
    // A relay was gathered: credentials and reachability were fine, the path itself failed.
    expect(classifyError({ source: "ice", state: "failed", candidateErrors: [{ url: turnUrl, errorCode: 401 }], relayGathered: true })).toBe("ice-failed");
    expect(classifyError({ source: "ice", state: "failed" })).toBe("ice-failed");
    expect(classifyError({ source: "ice", state: "disconnected" })).toBe("unknown");
  });

  it("classifyError_Http", () => {
    expect(classifyError({ source: "http", what: "ice", status: 429 })).toBe("rate-limited");
    expect(classifyError({ source: "http", what: "ice", status: 500 })).toBe("ice-config-failed");
    expect(classifyError({ source: "http", what: "signaling", status: 403 })).toBe("server-refused");
    expect(classifyError({ source: "http", what: "signaling", status: 0 })).toBe("signaling-unreachable");
  });

  it("isErrorKind_RejectsOthers", () => {
    expect(isErrorKind("ice-failed")).toBe(true);
    expect(isErrorKind("toString")).toBe(false);
    expect(isErrorKind(7)).toBe(false);
  });
});

describe("recovery", () => {
  it("Recovery_AutoRetriesWithGrowingBackoff_ThenManualActions", () => {
    const r = new Recovery("ice-failed", { jitter: 0 });
    expect(r.next()).toEqual({ type: "auto", attempt: 1, total: 2, delayMs: 500 });
    expect(r.next()).toEqual({ type: "auto", attempt: 2, total: 2, delayMs: 1000 });
    const manual = r.next();
    expect(manual.type).toBe("manual");
    expect(manual.type === "manual" && manual.actions[0]).toBe("retry-relay");
    r.reset();
    expect(r.next().type).toBe("auto");
  });

  it("Recovery_NoAutoRetryKinds_GoStraightToManual", () => {
    const r = new Recovery("invite-expired");
    expect(r.next()).toEqual({ type: "manual", actions: describeError("invite-expired").actions });
  });

  it("Recovery_RetryAfter_LengthensWait_Capped", () => {
    const r = new Recovery("rate-limited", { jitter: 0 });
    expect(r.next(7000)).toMatchObject({ type: "auto", delayMs: 7000 });
    expect(r.next(10 * 60_000)).toMatchObject({ type: "auto", delayMs: 60_000 });
    const shorter = new Recovery("rate-limited", { jitter: 0 });
    expect(shorter.next(10)).toMatchObject({ delayMs: 500 });
    expect(shorter.next(Number.NaN)).toMatchObject({ delayMs: 1000 });
  });

  it("parseRetryAfter_SecondsDateAndGarbage", () => {
    const now = Date.parse("2026-11-25T12:00:00Z");
    expect(parseRetryAfter("5", now)).toBe(5000);
    expect(parseRetryAfter(" 12 ", now)).toBe(12000);
    expect(parseRetryAfter("Wed, 25 Nov 2026 12:00:30 GMT", now)).toBe(30000);
    expect(parseRetryAfter("Wed, 25 Nov 2026 11:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("-3", now)).toBeNull();
    expect(parseRetryAfter("1e9", now)).toBeNull();
    expect(parseRetryAfter("soon", now)).toBeNull();
    expect(parseRetryAfter("", now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });

  it("errorReport_DropsSecretsAndMessages_KeepsPrimitives", () => {
    const report = errorReport(
      "turn-refused",
      Date.parse("2026-11-25T12:00:00Z"),
      { userAgent: "UA", online: true },
      {
        phase: "connecting",
        attempts: 3,
        relayOnly: false,
        credential: "hunter2",
        turnPassword: "x",
        lastMessage: "hello",
        nested: { a: 1 },
        long: "x".repeat(500),
      },
    );
    expect(report).toMatchObject({ kind: "turn-refused", at: "2026-11-25T12:00:00.000Z", userAgent: "UA", online: true });
    expect(report.details).toEqual({ phase: "connecting", attempts: 3, relayOnly: false, long: "x".repeat(200) });
    expect(JSON.stringify(report)).not.toContain("hunter2");
  });
});
