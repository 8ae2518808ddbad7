import { describe, expect, it } from "vitest";
import { isPeerId, newToken, tokenBoundPeerId, TOKEN_BOUND_PREFIX } from "../src/core/ids";
import { parseInvite, inviteFragment, createInvite } from "../src/core/invites";

describe("token-bound peer ids (docs/protocol.md, Peer ids)", () => {
  it("tokenBoundPeerId_IsPrefixAndFirst16BytesOfSha256_LowerHex", async () => {
    // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223 b00361a3… (FIPS 180-2 test vector)
    expect(await tokenBoundPeerId("abc")).toBe("gc1-ba7816bf8f01cfea414140de5dae2223");
    expect(TOKEN_BOUND_PREFIX).toBe("gc1-");
  });

  it("tokenBoundPeerId_IsAValidPeerJsId_AndTravelsInAnInvite", async () => {
    const id = await tokenBoundPeerId(newToken());
    expect(id).toMatch(/^gc1-[0-9a-f]{32}$/);
    expect(isPeerId(id)).toBe(true);
    const invite = createInvite({ hostPeerId: id, hostKeyHash: "K".repeat(43), now: 0 });
    const parsed = parseInvite(inviteFragment(invite), 0);
    expect(parsed.ok && parsed.invite.hostPeerId).toBe(id);
  });

  it("newToken_Is128RandomBits_FromTheGivenSource", () => {
    const seen: number[] = [];
    const token = newToken((b) => {
      seen.push(b.length);
      return b.fill(0xff);
    });
    expect(seen).toEqual([16]);
    expect(token).toBe("_____________________w");
    expect(newToken()).not.toBe(newToken());
  });
});
