import { describe, expect, it } from "vitest";
import { createInvite, inviteFragment, inviteLink, parseInvite, INVITE_TTL_MS } from "../src/core/invites";
import type { PeerId } from "../src/core/ids";

const NOW = Date.UTC(2026, 10, 25, 10, 0, 0);
const host = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d" as PeerId;
/** The SHA-256 of the host's key as a link carries it (base64url, 43 characters). */
const H = "K".repeat(43);

describe("invites", () => {
  it("createInvite_Default_Lasts24HoursWith128BitSecret", () => {
    const invite = createInvite({ hostPeerId: host, hostKeyHash: H, now: NOW });
    expect(invite.expiresAt).toBe(NOW + INVITE_TTL_MS);
    expect(invite.secret).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(invite.roomId).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(invite.inviteId).toMatch(/^[A-Za-z0-9_-]{12}$/);
  });

  it("createInvite_TwoCalls_DifferentSecrets", () => {
    const a = createInvite({ hostPeerId: host, hostKeyHash: H, now: NOW });
    const b = createInvite({ hostPeerId: host, hostKeyHash: H, now: NOW });
    expect(a.secret).not.toBe(b.secret);
    expect(a.roomId).not.toBe(b.roomId);
  });

  it("inviteLink_RoundTrip_ParsesToSameInvite", () => {
    const invite = createInvite({ hostPeerId: host, hostKeyHash: H, now: NOW });
    const link = inviteLink("https://chat.example/some/path?x=1#old", invite);
    const url = new URL(link);
    expect(url.origin + url.pathname).toBe("https://chat.example/some/path");
    expect(url.search).toBe("");
    const parsed = parseInvite(url.hash, NOW);
    expect(parsed).toEqual({ ok: true, invite });
  });

  it("inviteLink_SecretOnlyInFragment", () => {
    const invite = createInvite({ hostPeerId: host, hostKeyHash: H, now: NOW });
    const url = new URL(inviteLink("https://chat.example/", invite));
    expect(url.origin + url.pathname + url.search).not.toContain(invite.secret);
    expect(url.hash).toContain(invite.secret);
  });

  it("parseInvite_PeerIdWithSpace_RoundTrips", () => {
    const invite = createInvite({ hostPeerId: "my host_1" as PeerId, hostKeyHash: H, now: NOW });
    const parsed = parseInvite(inviteFragment(invite), NOW);
    expect(parsed.ok && parsed.invite.hostPeerId).toBe("my host_1");
  });

  it("parseInvite_Expired_Refused", () => {
    const invite = createInvite({ hostPeerId: host, hostKeyHash: H, now: NOW, ttlMs: 60_000 });
    expect(parseInvite(inviteFragment(invite), NOW + 59_000).ok).toBe(true);
    expect(parseInvite(inviteFragment(invite), NOW + 60_000)).toEqual({ ok: false, error: "expired" });
  });

  it.each([
    ["", "not-an-invite"],
    ["#settings", "not-an-invite"],
    ["#join=3.a.b.c.d.1", "unsupported-version"],
    ["#join=1.a.b.c.d.1", "outdated-version"],
    [`#join=2.host.roomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.9999999999`, "malformed"],
    [`#join=2.host.roomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.9999999999.${H.slice(1)}`, "malformed"],
    [`#join=2.host.roomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.9999999999.${H.slice(1)}+`, "malformed"],
    ["#join=x.a.b.c.d.1", "malformed"],
    [`#join=2.host.roomroom.inviteid`, "malformed"],
    [`#join=2.%E0%A4%A.roomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.9999999999.${H}`, "malformed"],
    [`#join=2.<script>.roomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.9999999999.${H}`, "malformed"],
    [`#join=2.host.roomroomroom.inviteinvite.shortsecret.9999999999.${H}`, "malformed"],
    [`#join=2.host.room.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.9999999999.${H}`, "malformed"],
    [`#join=2.host.roomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.soon.${H}`, "malformed"],
  ])("parseInvite_Bad %s_%s", (hash, error) => {
    expect(parseInvite(hash, NOW)).toEqual({ ok: false, error });
  });

  it("parseInvite_WellFormedHandWritten_Accepted", () => {
    const r = parseInvite(`#join=2.host.roomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.9999999999.${H}`, NOW);
    expect(r.ok).toBe(true);
  });

  // Truncated at every position: a cut link is never accepted as some other valid invite.
  it("parseInvite_TruncatedAnywhere_RefusedOrSameInvite", () => {
    const invite = createInvite({ hostPeerId: host, hostKeyHash: H, now: NOW });
    const fragment = "#" + inviteFragment(invite);
    for (let i = 0; i < fragment.length; i++) {
      const r = parseInvite(fragment.slice(0, i), NOW);
      // Cutting digits off the expiry still parses but always as an already expired or shorter-lived invite.
      if (r.ok) {
        expect(r.invite.secret).toBe(invite.secret);
        expect(r.invite.expiresAt).toBeLessThan(invite.expiresAt);
      } else expect(["not-an-invite", "malformed", "expired"]).toContain(r.error);
    }
  });

  it.each([
    ["hugeFragment", `#join=2.host.roomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.9999999999.${H}` + "A".repeat(1 << 20)],
    ["hugeSecret", `#join=2.host.roomroomroom.inviteinvite.` + "A".repeat(400) + `.9999999999.${H}`],
    ["secretJustOverMax", `#join=2.host.roomroomroom.inviteinvite.` + "A".repeat(87) + `.9999999999.${H}`],
    ["hugeHost", `#join=2.` + "h".repeat(65) + `.roomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.9999999999.${H}`],
    ["hugeExpiry", `#join=2.host.roomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.9999999999999.${H}`],
    ["extraField", `#join=2.host.roomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.9999999999.${H}.x`],
    ["emptyFields", "#join=2......"],
    ["negativeExpiry", `#join=2.host.roomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.-1.${H}`],
    ["exponentExpiry", `#join=2.host.roomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.1e10.${H}`],
    ["paddedSecret", `#join=2.host.roomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA==.9999999999.${H}`],
    ["standardBase64Secret", `#join=2.host.roomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAA+/A.9999999999.${H}`],
    ["encodedDotInHost", `#join=2.ho%2Est.roomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.9999999999.${H}`],
    ["encodedNulInHost", `#join=2.ho%00st.roomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.9999999999.${H}`],
    ["javascriptHost", `#join=2.javascript%3Aalert(1).roomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.9999999999.${H}`],
    ["unicodeRoom", `#join=2.host.röömroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.9999999999.${H}`],
    ["whitespaceSecret", `#join=2.host.roomroomroom.inviteinvite. AAAAAAAAAAAAAAAAAAAAA.9999999999.${H}`],
  ])("parseInvite_Hostile %s_Malformed", (_name, hash) => {
    expect(parseInvite(hash, NOW)).toEqual({ ok: false, error: "malformed" });
  });

  it("parseInvite_NotAString_NotAnInvite", () => {
    expect(parseInvite(undefined as unknown as string, NOW)).toEqual({ ok: false, error: "not-an-invite" });
  });

  // Links of version 1 name no host key: anyone holding one could answer in the host's place, so
  // they are refused with "made by an older GhostChat, ask for a new link" (issue 15 item 6).
  it("parseInvite_LinksGivenOutBeforeHostKeys_OutdatedAskForANewOne", () => {
    const fragment = "#join=1.8f3e1c0a-5b7d-4c2e-9a61-2f4b8d7e6c10.Zk3pQ8rT2vX9yB4m.Hd7sK2pL9qW4.q8Zr4Lm2Xv7Nc1Bt6Yk0Aw.1893456000";
    for (const link of [`https://chat.example/${fragment}`, `https://chat.example/?group${fragment}`]) {
      expect(parseInvite(new URL(link).hash, 1_700_000_000_000)).toEqual({ ok: false, error: "outdated-version" });
    }
  });

  it("parseInvite_LinkOfAnotherVersion_SaysSoInsteadOfFailingOddly", () => {
    expect(parseInvite("#join=3.anything.goes.here.x.1", 0)).toEqual({ ok: false, error: "unsupported-version" });
  });
});
