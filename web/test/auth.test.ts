import { createHash, createHmac, hkdfSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  AUTH_VERSION,
  CODE_COMMIT_LABEL,
  CODE_SALT,
  EMOJI_TABLE,
  PROOF_KEY_SALT,
  codeCommitment,
  HostHandshake,
  JoinerHandshake,
  NonceLog,
  connectionFingerprints,
  decodeAuth,
  inviteKey,
  inviteKeyHash,
  keyHash,
  newSigner,
  signatureInput,
  webVerify,
  proof,
  proofInput,
  sdpFingerprint,
  transcript,
  verificationCode,
  verifyProof,
  type AuthMessage,
  type AuthStep,
  type ChannelFingerprints,
  type Certificate,
  type InviteCheck,
  type Signer,
} from "../src/core/auth";
import { toBase64Url } from "../src/core/ids";

// ---- fixed test vectors (computed once with this code, cross-checked below with Node's crypto) ----
const hex = (b: number[]) => b.map((x) => x.toString(16).padStart(2, "0").toUpperCase()).join(":");
const FP_A = "sha-256 " + hex([...Array(32).keys()]);
const FP_B = "sha-256 " + hex([...Array(32).keys()].map((i) => 255 - i));
const SECRET = "AAECAwQFBgcICQoLDA0ODw"; // bytes 00..0f
const NJ = "ERERERERERERERERERERERERERERERERERERERERERE"; // 32 × 0x11
const NH = "IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI"; // 32 × 0x22
const NC = "REREREREREREREREREREREREREREREREREREREREREQ"; // 32 × 0x44: the joiner's code nonce
const NS = "VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVU"; // 32 × 0x55: the host's code nonce (revealed)
const ROOM = "roomroomroomroom";
const PJ = "BJ" + "j".repeat(85); // public keys as they stand in the transcript (vectors only)
const PH = "BH" + "h".repeat(85);
const INVITE = "inviteinvite";
const V = {
  keyHash: "vkXLJgW_Nr695oSEGijw_UPGmFCj3OX-26aZKO46iZE",
  commit: "QaHhCVv70FyFBuh8JrSdivjq5N7MoSg9syhzkj9ghJY",
  transcript:
    "GhostChat auth v3\nroom:roomroomroomroom\ninvite:inviteinvite\n" +
    "fingerprint:sha-256 00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F\n" +
    "fingerprint:sha-256 FF:FE:FD:FC:FB:FA:F9:F8:F7:F6:F5:F4:F3:F2:F1:F0:EF:EE:ED:EC:EB:EA:E9:E8:E7:E6:E5:E4:E3:E2:E1:E0\n" +
    "joiner-nonce:ERERERERERERERERERERERERERERERERERERERERERE\nhost-nonce:IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI\n" +
    "code-commit:QaHhCVv70FyFBuh8JrSdivjq5N7MoSg9syhzkj9ghJY\ncode-nonce:REREREREREREREREREREREREREREREREREREREREREQ\n" +
    `joiner-key:${PJ}\nhost-key:${PH}\n`,
  joinerProof: "iJSnEMuiJL8aGk6SPq616JeegJGg0M2w7rcV-KQqdIA",
  hostProof: "AaEcjWF1RqiU428GPxbtoKY8qK6ICivt9nGurVMF8m0",
  code: { emoji: ["🐞", "🌻", "🐶", "🍕", "🌻"], digits: "337779", text: "🐞 🌻 🐶 🍕 🌻 · 337 779" },
};
const FIELDS = { roomId: ROOM, inviteId: INVITE, joinerNonce: NJ, hostNonce: NH, codeCommit: V.commit, codeNonce: NC, joinerKey: PJ, hostKey: PH };
const NONCES = { joiner: NC, host: NS };
const b64 = (b: Buffer | Uint8Array) => Buffer.from(b).toString("base64url");

describe("auth crypto: fixed vectors", () => {
  it("inviteKeyHash_Vector_AndNodeSha256Agrees", async () => {
    expect(await inviteKeyHash(SECRET)).toBe(V.keyHash);
    expect(b64(createHash("sha256").update(Buffer.from(SECRET, "base64url")).digest())).toBe(V.keyHash);
  });

  it("transcript_Vector_ExactBytes_OrderOfFingerprintsIrrelevant", () => {
    const t1 = transcript({ ...FIELDS, fingerprints: [FP_B, FP_A] });
    const t2 = transcript({ ...FIELDS, fingerprints: [FP_A, FP_B] });
    expect(new TextDecoder().decode(t1)).toBe(V.transcript);
    expect(Buffer.from(t2).equals(Buffer.from(V.transcript, "utf8"))).toBe(true);
  });

  it("transcript_LineBreakInField_Throws", () => {
    expect(() => transcript({ ...FIELDS, roomId: "a\nb", fingerprints: [FP_A, FP_B] })).toThrow();
  });

  it("proofs_Vector_AndNodeHmacAgrees", async () => {
    const key = await inviteKey(SECRET);
    const t = new TextEncoder().encode(V.transcript);
    expect(await proof(key, "joiner", t)).toBe(V.joinerProof);
    expect(await proof(key, "host", t)).toBe(V.hostProof);
    const stored = createHash("sha256").update(Buffer.from(SECRET, "base64url")).digest();
    const roleKey = (role: string) => Buffer.from(hkdfSync("sha256", stored, PROOF_KEY_SALT, `proof:${role}`, 32));
    expect(
      b64(
        createHmac("sha256", roleKey("joiner"))
          .update("proof:joiner\n" + V.transcript)
          .digest(),
      ),
    ).toBe(V.joinerProof);
    expect(
      b64(
        createHmac("sha256", roleKey("host"))
          .update("proof:host\n" + V.transcript)
          .digest(),
      ),
    ).toBe(V.hostProof);
    expect(Buffer.from(proofInput("host", t)).toString()).toBe("proof:host\n" + V.transcript);
  });

  it("verifyProof_RightAndWrong", async () => {
    const key = await inviteKey(SECRET);
    const t = new TextEncoder().encode(V.transcript);
    expect(await verifyProof(key, "joiner", t, V.joinerProof)).toBe(true);
    expect(await verifyProof(key, "host", t, V.joinerProof)).toBe(false); // a joiner proof is no host proof
    expect(await verifyProof(key, "joiner", t, V.hostProof)).toBe(false);
    expect(await verifyProof(key, "joiner", t, "not base64!")).toBe(false);
    expect(await verifyProof(key, "joiner", t, "AAAA")).toBe(false);
    const other = transcript({ ...FIELDS, fingerprints: [FP_A, "sha-256 " + hex(Array(32).fill(7))] });
    expect(await verifyProof(key, "joiner", other, V.joinerProof)).toBe(false);
  });

  it("verificationCode_Vector_AndNodeHkdfAgrees_OrderIndependent", async () => {
    const code = await verificationCode([FP_A, FP_B], ROOM, NONCES);
    expect(code).toEqual(V.code);
    expect(await verificationCode([FP_B, FP_A], ROOM, NONCES)).toEqual(V.code);
    const okm = Buffer.from(hkdfSync("sha256", `${FP_A}\n${FP_B}`, CODE_SALT, `room:${ROOM}\ncode-nonce:${NC}\nreveal:${NS}`, 8));
    const head = okm.readUInt32BE(0);
    expect([0, 1, 2, 3, 4].map((i) => EMOJI_TABLE[(head >>> (26 - 6 * i)) & 63])).toEqual(V.code.emoji);
    expect(String(okm.readUInt32BE(4) % 1_000_000).padStart(6, "0")).toBe(V.code.digits);
  });

  it("verificationCode_ChangesWithKeysOrRoom", async () => {
    const other = "sha-256 " + hex(Array(32).fill(9));
    expect((await verificationCode([FP_A, other], ROOM, NONCES)).text).not.toBe(V.code.text);
    expect((await verificationCode([FP_A, FP_B], "anotherroomroom1", NONCES)).text).not.toBe(V.code.text);
    expect((await verificationCode([FP_A, FP_B], ROOM, { ...NONCES, joiner: NJ })).text).not.toBe(V.code.text);
    expect((await verificationCode([FP_A, FP_B], ROOM, { ...NONCES, host: NH })).text).not.toBe(V.code.text);
  });

  it("codeCommitment_Vector_AndNodeSha256Agrees", async () => {
    expect(await codeCommitment(NS)).toBe(V.commit);
    expect(
      b64(
        createHash("sha256")
          .update(CODE_COMMIT_LABEL + NS)
          .digest(),
      ),
    ).toBe(V.commit);
  });

  // Attack (issue 15): whoever reads the host's invite store gets secretHash; it must not itself be
  // the key of either proof (before v2 it was: HMAC(secretHash, …) was a valid proof).
  it("proofKeyedWithTheStoredHashItself_Refused_RoleKeysDistinct", async () => {
    const stored = await inviteKey(SECRET);
    const t = new TextEncoder().encode(V.transcript);
    const raw = (role: string) =>
      b64(
        createHmac("sha256", Buffer.from(stored))
          .update(`proof:${role}\n` + V.transcript)
          .digest(),
      );
    expect(await verifyProof(stored, "joiner", t, raw("joiner"))).toBe(false);
    expect(await verifyProof(stored, "host", t, raw("host"))).toBe(false);
    const roleKey = (role: string) => b64(Buffer.from(hkdfSync("sha256", Buffer.from(stored), PROOF_KEY_SALT, `proof:${role}`, 32)));
    expect(new Set([b64(stored), roleKey("joiner"), roleKey("host")]).size).toBe(3);
  });

  it("emojiTable_64DistinctSingleCodePoints", () => {
    expect(new Set(EMOJI_TABLE).size).toBe(64);
    for (const e of EMOJI_TABLE) expect([...e]).toHaveLength(1);
  });

  it("inviteKey_BadSecret_Throws", async () => {
    await expect(inviteKey("short")).rejects.toThrow();
    await expect(inviteKey("!!!!!!!!!!!!!!!!!!!!!!")).rejects.toThrow();
  });
});

describe("auth: fingerprints from SDP", () => {
  const sdp = (...lines: string[]) =>
    ["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", ...lines, "m=application 9 UDP/DTLS/SCTP webrtc-datachannel"].join("\r\n") + "\r\n";
  const lowerA = FP_A.slice(8).toLowerCase();

  it("sdpFingerprint_SessionOrMediaLevel_Normalised", () => {
    expect(sdpFingerprint(sdp(`a=fingerprint:SHA-256 ${lowerA}`))).toEqual({ ok: true, fingerprint: FP_A });
    expect(sdpFingerprint(sdp("a=setup:actpass", "a=mid:0", `a=fingerprint:sha-256 ${FP_A.slice(8)}`))).toEqual({ ok: true, fingerprint: FP_A });
  });

  // Only one certificate may stand: a second line of another hash or value is what a signaling server
  // would add to have DTLS accept its own certificate (the same line repeated: fingerprint.test.ts).
  it("sdpFingerprint_OtherHashesOrSecondLine_Refused", () => {
    expect(sdpFingerprint(sdp(`a=fingerprint:sha-1 ${hex(Array(20).fill(1))}`, `a=fingerprint:sha-256 ${lowerA}`))).toEqual({ ok: false, error: "several" });
    expect(sdpFingerprint(sdp(`a=fingerprint:sha-256 ${FP_A.slice(8)}`, `a=fingerprint:sha-256 ${FP_B.slice(8)}`))).toEqual({ ok: false, error: "several" });
    expect(sdpFingerprint(sdp(`a=fingerprint:sha-1 ${hex(Array(20).fill(1))}`))).toEqual({ ok: false, error: "not-sha-256" });
    expect(sdpFingerprint(sdp())).toEqual({ ok: false, error: "none" });
  });

  it.each([
    ["twoDifferent", [`a=fingerprint:sha-256 ${FP_A.slice(8)}`, `a=fingerprint:sha-256 ${FP_B.slice(8)}`], "several"],
    ["truncated", [`a=fingerprint:sha-256 ${FP_A.slice(8, 40)}`], "malformed"],
    ["notHex", [`a=fingerprint:sha-256 ${FP_A.slice(8).replace("0A", "ZZ")}`], "malformed"],
    ["oversized", [`a=fingerprint:sha-256 ${"AB:".repeat(500)}AB`], "malformed"],
    ["noSpace", [`a=fingerprint:sha-256${FP_A.slice(8)}`], "malformed"],
    ["wrongLengthSha256", [`a=fingerprint:sha-256 ${hex(Array(20).fill(1))}`], "malformed"],
  ])("sdpFingerprint_%s_Refused", (_name, lines, error) => {
    expect(sdpFingerprint(sdp(...(lines as string[])))).toEqual({ ok: false, error });
  });

  it("connectionFingerprints_MissingSide_Null", () => {
    const good = sdp(`a=fingerprint:sha-256 ${FP_A.slice(8)}`);
    expect(connectionFingerprints(good, undefined)).toBeNull();
    expect(connectionFingerprints(good, sdp())).toBeNull();
    expect(connectionFingerprints(good, sdp(`a=fingerprint:sha-256 ${FP_B.slice(8)}`))).toEqual({ local: FP_A, remote: FP_B });
  });
});

describe("auth: message decoding", () => {
  const n = NJ;
  it.each<[string, unknown]>([
    ["null", null],
    ["array", [1]],
    ["string", "auth-hello"],
    ["unknownType", { t: "auth-nope" }],
    ["helloExtraKey", { t: "auth-hello", v: AUTH_VERSION, invite: INVITE, nonce: n, key: JK, x: 1 }],
    ["helloWithoutKey", { t: "auth-hello", v: AUTH_VERSION, invite: INVITE, nonce: n }],
    ["helloShortKey", { t: "auth-hello", v: AUTH_VERSION, invite: INVITE, nonce: n, key: JK.slice(1) }],
    ["helloBadCert", { t: "auth-hello", v: AUTH_VERSION, invite: INVITE, nonce: n, key: JK, cert: { k: JK, e: -1, s: SIG } }],
    ["helloCertExtraKey", { t: "auth-hello", v: AUTH_VERSION, invite: INVITE, nonce: n, key: JK, cert: { ...CERT, x: 1 } }],
    ["proofWithoutSig", { t: "auth-proof", mac: n, codeNonce: n }],
    ["okEpochZero", { t: "auth-ok", reveal: n, sig: SIG, epoch: { e: 0, m: [], s: SIG } }],
    ["okEpochBadMember", { t: "auth-ok", reveal: n, sig: SIG, epoch: { e: 1, m: ["<b>"], s: SIG } }],
    ["helloMissingNonce", { t: "auth-hello", v: AUTH_VERSION, invite: INVITE }],
    ["helloShortNonce", { t: "auth-hello", v: AUTH_VERSION, invite: INVITE, nonce: n.slice(1) }],
    ["helloOversizedNonce", { t: "auth-hello", v: AUTH_VERSION, invite: INVITE, nonce: n + "A".repeat(100_000) }],
    ["helloBadInvite", { t: "auth-hello", v: AUTH_VERSION, invite: "<script>", nonce: n }],
    ["helloHugeInvite", { t: "auth-hello", v: AUTH_VERSION, invite: "a".repeat(65), nonce: n }],
    ["helloVersionString", { t: "auth-hello", v: "2", invite: INVITE, nonce: n }],
    ["helloVersionFloat", { t: "auth-hello", v: 1.5, invite: INVITE, nonce: n }],
    ["proofNumber", { t: "auth-proof", mac: 42, codeNonce: n }],
    ["proofWithoutCodeNonce", { t: "auth-proof", mac: n }],
    ["challengeWithoutCommit", { t: "auth-challenge", nonce: n }],
    ["challengeShortCommit", { t: "auth-challenge", nonce: n, commit: n.slice(1) }],
    ["okWithoutSig", { t: "auth-ok", mac: n, reveal: n }],
    ["okWithoutReveal", { t: "auth-ok", mac: n, sig: SIG }],
    ["okOldRoomKey", { t: "auth-ok", mac: n, roomKey: n, reveal: n, sig: SIG }],
    ["refuseUnknownReason", { t: "auth-refuse", reason: "because" }],
    ["refuseTimeoutNotOnWire", { t: "auth-refuse", reason: "timeout" }],
    ["protoKey", JSON.parse('{"t":"auth-proof","__proto__":{"mac":"x"}}')],
  ])("decodeAuth_%s_Null", (_name, data) => {
    expect(decodeAuth(data)).toBeNull();
  });

  it("decodeAuth_WellFormed_Accepted", () => {
    const hello = { t: "auth-hello", v: AUTH_VERSION, invite: INVITE, nonce: n, key: JK };
    expect(decodeAuth(hello)).toEqual(hello);
    expect(decodeAuth({ ...hello, cert: CERT })).toEqual({ ...hello, cert: CERT });
    expect(decodeAuth({ t: "auth-refuse", reason: "revoked" })).toEqual({ t: "auth-refuse", reason: "revoked" });
    const ok = { t: "auth-ok", mac: n, reveal: n, sig: SIG, cert: CERT, epoch: { e: 2, m: ["gc1-abc"], s: SIG } };
    expect(decodeAuth(ok)).toEqual(ok);
    expect(decodeAuth({ t: "auth-proof", codeNonce: n, sig: SIG })).toEqual({ t: "auth-proof", codeNonce: n, sig: SIG });
  });
});

// ---- the state machines, wired to each other as over a channel ------------------------------

const FPS_JOINER: ChannelFingerprints = { local: FP_A, remote: FP_B };
const FPS_HOST: ChannelFingerprints = { local: FP_B, remote: FP_A };
const JOINER: Signer = await newSigner();
const HOST: Signer = await newSigner();
const JK = JOINER.key;
const HK = HOST.key;
const HOST_KEY_HASH = await keyHash(HK);
/** A well-formed signature that signs nothing here. */
const SIG = toBase64Url(new Uint8Array(64).fill(0x33));
const CERT: Certificate = { k: JK, e: 0, s: SIG };

let counter = 0;
const freshRandom = (buf: Uint8Array) => {
  buf.fill(++counter & 0xff);
  buf[0] = (counter >> 8) & 0xff;
  return buf;
};

async function keyHashCheck(): Promise<InviteCheck> {
  return { status: "ok", roomId: ROOM, keyHash: await inviteKeyHash(SECRET) };
}

function pair(
  opts: {
    joinerFps?: ChannelFingerprints;
    hostFps?: ChannelFingerprints;
    secret?: string;
    lookup?: (id: string) => Promise<InviteCheck>;
    nonces?: NonceLog;
    joinerRoom?: string;
    hostRandom?: (buf: Uint8Array) => Uint8Array;
    /** The host's key (another holder of the link stands in with its own). */
    host?: Signer;
  } = {},
) {
  const joiner = new JoinerHandshake({
    roomId: opts.joinerRoom ?? ROOM,
    invite: { inviteId: INVITE, secret: opts.secret ?? SECRET, hostKeyHash: HOST_KEY_HASH },
    self: JOINER,
    verify: webVerify,
    fingerprints: opts.joinerFps ?? FPS_JOINER,
    random: freshRandom,
  });
  const host = new HostHandshake({
    roomId: ROOM,
    self: opts.host ?? HOST,
    verify: webVerify,
    fingerprints: opts.hostFps ?? FPS_HOST,
    lookup: opts.lookup ?? keyHashCheck,
    nonces: opts.nonces ?? new NonceLog(),
    random: opts.hostRandom ?? freshRandom,
    grant: async (key) => ({ cert: { k: key, e: 0, s: SIG }, epoch: null }),
  });
  return { joiner, host };
}

/** Runs the handshake to its end, passing frames both ways; returns both outcomes and the frames seen. */
async function run(joiner: JoinerHandshake, host: HostHandshake) {
  const frames: { from: string; msg: AuthMessage }[] = [];
  let toHost: AuthMessage[] = joiner.start().send;
  let toJoiner: AuthMessage[] = [];
  let jOut: AuthStep["outcome"];
  let hOut: AuthStep["outcome"];
  for (let i = 0; i < 10 && (toHost.length || toJoiner.length); i++) {
    const nextToJoiner: AuthMessage[] = [];
    for (const m of toHost) {
      frames.push({ from: "joiner", msg: m });
      const step = await host.receive(m);
      nextToJoiner.push(...step.send);
      hOut ??= step.outcome;
    }
    const nextToHost: AuthMessage[] = [];
    for (const m of [...toJoiner, ...nextToJoiner]) {
      frames.push({ from: "host", msg: m });
      const step = await joiner.receive(m);
      nextToHost.push(...step.send);
      jOut ??= step.outcome;
    }
    toHost = nextToHost;
    toJoiner = [];
  }
  return { joiner: jOut, host: hOut, frames };
}

/** A fresh pair (see `pair`) run to its end. */
function runPair(opts: Parameters<typeof pair>[0] = {}) {
  const { joiner, host } = pair(opts);
  return run(joiner, host);
}

describe("auth: handshake state machines", () => {
  it("honest_BothAuthenticated_SameCode_RoomKeyDelivered", async () => {
    const { joiner, host } = pair();
    const r = await run(joiner, host);
    expect(r.frames.map((f) => `${f.from}:${f.msg.t}`)).toEqual(["joiner:auth-hello", "host:auth-challenge", "joiner:auth-proof", "host:auth-ok"]);
    expect(r.joiner).toMatchObject({ ok: true, inviteId: INVITE, peerKey: HK, cert: { k: JK, e: 0, s: SIG } });
    expect(r.host).toMatchObject({ ok: true, inviteId: INVITE, peerKey: JK });
    expect(r.joiner?.ok && r.host?.ok && r.joiner.code.text === r.host.code.text).toBe(true);
    expect(r.joiner?.ok && r.joiner.code.text).toMatch(/^(\S+ ){5}· \d{3} \d{3}$/u);
    // Fresh nonces each time: the same keys give another code on the next handshake.
    const again = await runPair();
    expect(again.joiner?.ok && r.joiner?.ok && again.joiner.code.text !== r.joiner.code.text).toBe(true);
    expect(joiner.done && host.done).toBe(true);
  });

  it("helloFromAnotherVersion_RefusedAsProtocol_TheJoinerIsToldToReload", async () => {
    const { host } = pair();
    const step = await host.receive({ t: "auth-hello", v: 2, invite: INVITE, nonce: toBase64Url(new Uint8Array(32).fill(5)), key: JK });
    expect(step.send).toEqual([{ t: "auth-refuse", reason: "protocol" }]);
    expect(step.outcome).toEqual({ ok: false, reason: "protocol", by: "us" });
    const { t } = await import("../src/core/strings");
    expect(t("refusedProtocol")).toMatch(/another version of GhostChat/);
  });

  it("manInTheMiddle_DifferentFingerprintsPerLeg_HostRefusesAuthFailed_JoinerHearsIt", async () => {
    const attacker1 = "sha-256 " + hex(Array(32).fill(0xaa));
    const attacker2 = "sha-256 " + hex(Array(32).fill(0xbb));
    const { joiner, host } = pair({ joinerFps: { local: FP_A, remote: attacker1 }, hostFps: { local: FP_B, remote: attacker2 } });
    const r = await run(joiner, host);
    expect(r.host).toEqual({ ok: false, reason: "auth-failed", by: "us" });
    expect(r.joiner).toEqual({ ok: false, reason: "auth-failed", by: "peer" });
  });

  it("forgedHostProof_JoinerRefusesAuthFailed", async () => {
    const { joiner } = pair();
    const hello = joiner.start().send[0]!;
    expect(hello.t).toBe("auth-hello");
    const proofStep = await joiner.receive({ t: "auth-challenge", nonce: NH, commit: V.commit, key: HK });
    expect(proofStep.send[0]?.t).toBe("auth-proof");
    const step = await joiner.receive({ t: "auth-ok", mac: V.hostProof, reveal: NS, sig: SIG, cert: CERT }); // right shape, wrong transcript
    expect(step.outcome).toEqual({ ok: false, reason: "auth-failed", by: "us" });
    expect(step.send).toEqual([{ t: "auth-refuse", reason: "auth-failed" }]);
  });

  it("wrongSecret_HostRefusesAuthFailed", async () => {
    const { joiner, host } = pair({ secret: "AQECAwQFBgcICQoLDA0ODw" });
    const r = await run(joiner, host);
    expect(r.host).toEqual({ ok: false, reason: "auth-failed", by: "us" });
    expect(r.joiner).toEqual({ ok: false, reason: "auth-failed", by: "peer" });
  });

  it("joinerWithOtherRoom_TranscriptDiffers_Refused", async () => {
    const { joiner, host } = pair({ joinerRoom: "otherroomroomroo" });
    const r = await run(joiner, host);
    expect(r.host).toEqual({ ok: false, reason: "auth-failed", by: "us" });
  });

  it.each<[InviteCheck["status"], string]>([
    ["unknown", "unknown-invite"],
    ["expired", "expired"],
    ["revoked", "revoked"],
  ])("inviteStatus_%s_RefusedWith_%s_BeforeAnyProof", async (status, reason) => {
    const { joiner, host } = pair({ lookup: async () => ({ status }) as InviteCheck });
    const r = await run(joiner, host);
    expect(r.host).toEqual({ ok: false, reason, by: "us" });
    expect(r.joiner).toEqual({ ok: false, reason, by: "peer" });
    expect(r.frames.map((f) => f.msg.t)).toEqual(["auth-hello", "auth-refuse"]);
  });

  it("inviteOfAnotherRoom_RefusedUnknown", async () => {
    const { joiner, host } = pair({ lookup: async () => ({ status: "ok", roomId: "otherroomroomroo", keyHash: V.keyHash }) });
    expect((await run(joiner, host)).host).toEqual({ ok: false, reason: "unknown-invite", by: "us" });
  });

  it("replayedJoinerNonce_HostRefusesReplay", async () => {
    const nonces = new NonceLog();
    const host1 = pair({ nonces }).host;
    const host2 = pair({ nonces }).host;
    const hello = { t: "auth-hello", v: AUTH_VERSION, invite: INVITE, nonce: NJ, key: JK };
    expect((await host1.receive(hello)).send[0]?.t).toBe("auth-challenge");
    expect((await host2.receive(hello)).outcome).toEqual({ ok: false, reason: "replay", by: "us" });
  });

  it("replayedOldProof_FreshHostNonce_AuthFailed", async () => {
    // A recorded joiner proof for (NJ, NH) is worthless against a host that picks a fresh nonce.
    const { host } = pair();
    await host.receive({ t: "auth-hello", v: AUTH_VERSION, invite: INVITE, nonce: NJ, key: JK });
    expect((await host.receive({ t: "auth-proof", mac: V.joinerProof, codeNonce: NC, sig: SIG })).outcome).toEqual({
      ok: false,
      reason: "auth-failed",
      by: "us",
    });
  });

  it("reflectedNonce_JoinerRefusesReplay", async () => {
    const { joiner } = pair();
    const hello = joiner.start().send[0] as Extract<AuthMessage, { t: "auth-hello" }>;
    expect((await joiner.receive({ t: "auth-challenge", nonce: hello.nonce, commit: V.commit, key: HK })).outcome).toEqual({
      ok: false,
      reason: "replay",
      by: "us",
    });
  });

  // The host must reveal the code nonce it committed to before it saw the joiner's: a host (or a man
  // in the middle holding the invite) that changes it afterwards to steer the code is refused.
  it("hostRevealsAnotherCodeNonceThanCommitted_JoinerRefusesAuthFailed", async () => {
    const { joiner, host } = pair();
    const challenge = await host.receive(joiner.start().send[0]);
    const proofStep = await joiner.receive(challenge.send[0]);
    const ok = (await host.receive(proofStep.send[0])).send[0] as Extract<AuthMessage, { t: "auth-ok" }>;
    const step = await joiner.receive({ ...ok, reveal: NS });
    expect(step.outcome).toEqual({ ok: false, reason: "auth-failed", by: "us" });
  });

  // Attack (issue 15): a man in the middle who holds the invite (so both proofs pass) picks its own
  // certificate on each leg. It learns the host leg's code first, then grinds its certificate for the
  // joiner leg until the codes agree on what people compare — here the first two emoji (12 bits,
  // ~4,096 tries; a whole half is 2^30 or 2^20: seconds on one GPU). Before v2 the code was a
  // function of the fingerprints and room only, so the ground certificate made the halves match.
  // Now the code also takes the joiner's code nonce, which comes after the attacker's last choice.
  it("manInTheMiddleWithTheInvite_GrindsItsCertificate_CodesStillDiffer", async () => {
    const fpM2 = "sha-256 " + hex(Array(32).fill(0xbb));
    const legB = await runPair({ joinerFps: { local: fpM2, remote: FP_B }, hostFps: { local: FP_B, remote: fpM2 } });
    if (!legB.joiner?.ok) throw new Error("leg B failed");
    const target = legB.joiner.code.emoji.slice(0, 2).join("");
    // The attacker's own code nonce is fixed (it controls its randomness); the joiner's is unknown, so it guesses.
    const attackerRandom = (buf: Uint8Array) => buf.fill(0x66);
    const guess = { joiner: toBase64Url(new Uint8Array(32)), host: toBase64Url(new Uint8Array(32).fill(0x66)) };
    let fpM1: string | null = null;
    for (let i = 0; fpM1 === null; i++) {
      const candidate = "sha-256 " + hex([i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff, ...Array(29).fill(0xaa)]);
      if ((await verificationCode([FP_A, candidate], ROOM, guess)).emoji.slice(0, 2).join("") === target) fpM1 = candidate;
    }
    const legA = await runPair({ joinerFps: { local: FP_A, remote: fpM1 }, hostFps: { local: fpM1, remote: FP_A }, hostRandom: attackerRandom });
    if (!legA.joiner?.ok) throw new Error("leg A failed");
    expect(legA.joiner.code.emoji.slice(0, 2).join("")).not.toBe(target);
  });

  it("nonceLog_Bounded_ForgetsOldest", () => {
    const log = new NonceLog(2);
    expect(log.add("a")).toBe(true);
    expect(log.add("a")).toBe(false);
    log.add("b");
    log.add("c");
    expect(log.add("a")).toBe(true);
  });

  it.each<[string, (j: JoinerHandshake, h: HostHandshake) => Promise<AuthStep>]>([
    ["hostGetsProofFirst", async (_j, h) => h.receive({ t: "auth-proof", mac: V.joinerProof, codeNonce: NC, sig: SIG })],
    ["hostGetsOk", async (_j, h) => h.receive({ t: "auth-ok", mac: V.hostProof, reveal: NS, sig: SIG, cert: CERT })],
    [
      "hostGetsSecondHello",
      async (_j, h) => {
        await h.receive({ t: "auth-hello", v: AUTH_VERSION, invite: INVITE, nonce: NJ, key: JK });
        return h.receive({ t: "auth-hello", v: AUTH_VERSION, invite: INVITE, nonce: NH, key: JK });
      },
    ],
    ["hostGetsChallenge", async (_j, h) => h.receive({ t: "auth-challenge", nonce: NH, commit: V.commit, key: HK })],
    [
      "joinerGetsOkBeforeChallenge",
      async (j) => {
        j.start();
        return j.receive({ t: "auth-ok", mac: V.hostProof, reveal: NS, sig: SIG, cert: CERT });
      },
    ],
    [
      "joinerGetsHello",
      async (j) => {
        j.start();
        return j.receive({ t: "auth-hello", v: AUTH_VERSION, invite: INVITE, nonce: NH, key: JK });
      },
    ],
    [
      "joinerGetsChallengeTwice",
      async (j) => {
        j.start();
        await j.receive({ t: "auth-challenge", nonce: NH, commit: V.commit, key: HK });
        return j.receive({ t: "auth-challenge", nonce: NH, commit: V.commit, key: HK });
      },
    ],
    ["hostOlderVersion", async (_j, h) => h.receive({ t: "auth-hello", v: 1, invite: INVITE, nonce: NJ, key: JK })],
    ["hostOversizedHello", async (_j, h) => h.receive({ t: "auth-hello", v: AUTH_VERSION, invite: INVITE, nonce: "A".repeat(1 << 20), key: JK })],
    ["hostMalformed", async (_j, h) => h.receive({ t: "auth-hello", v: 1 })],
    ["hostNotAnObject", async (_j, h) => h.receive("hello")],
    [
      "joinerMalformedOk",
      async (j) => {
        j.start();
        await j.receive({ t: "auth-challenge", nonce: NH, commit: V.commit, key: HK });
        return j.receive({ t: "auth-ok", mac: V.hostProof, reveal: NS, sig: "short", cert: CERT });
      },
    ],
  ])("wrongOrderOrMalformed_%s_RefusedProtocol", async (_name, act) => {
    const { joiner, host } = pair();
    const step = await act(joiner, host);
    expect(step.outcome).toEqual({ ok: false, reason: "protocol", by: "us" });
    expect(step.send).toEqual([{ t: "auth-refuse", reason: "protocol" }]);
  });

  it("afterOutcome_FurtherFramesIgnored", async () => {
    const { host } = pair();
    await host.receive("garbage");
    expect(host.done).toBe(true);
    expect(await host.receive({ t: "auth-hello", v: AUTH_VERSION, invite: INVITE, nonce: NJ, key: JK })).toEqual({ send: [] });
  });
});

// ---- issue 15 item 6: keys in the handshake ---------------------------------------------------

describe("auth: member keys", () => {
  // Attack: before v3 the invite secret was all a host proved, and every holder of the link knows it:
  // another guest (or whoever the link leaked to) could answer in the host's place. Now the link
  // names the host's key, and only the host can sign with it.
  it("anotherHolderOfTheLink_AnswersInTheHostsPlace_JoinerRefusesAuthFailed", async () => {
    const impostor = await newSigner();
    const r = await runPair({ host: impostor });
    expect(r.joiner).toEqual({ ok: false, reason: "auth-failed", by: "us" });
    expect(r.frames.map((f) => f.msg.t)).toEqual(["auth-hello", "auth-challenge", "auth-refuse"]);
  });

  it("proofSignedWithAnotherKey_HostRefusesAuthFailed", async () => {
    const { joiner, host } = pair();
    const challenge = await host.receive(joiner.start().send[0]);
    const proofMsg = (await joiner.receive(challenge.send[0])).send[0] as Extract<AuthMessage, { t: "auth-proof" }>;
    const other = await newSigner();
    const forged = { ...proofMsg, sig: await other.sign("sig:joiner\nanything") };
    expect((await host.receive(forged)).outcome).toEqual({ ok: false, reason: "auth-failed", by: "us" });
  });

  it("hostSignatureOverAnotherTranscript_JoinerRefusesAuthFailed", async () => {
    const { joiner, host } = pair();
    const challenge = await host.receive(joiner.start().send[0]);
    const proofStep = await joiner.receive(challenge.send[0]);
    const ok = (await host.receive(proofStep.send[0])).send[0] as Extract<AuthMessage, { t: "auth-ok" }>;
    const replayed = { ...ok, sig: await HOST.sign(signatureInput("host", new TextEncoder().encode("another transcript"))) };
    expect((await joiner.receive(replayed)).outcome).toEqual({ ok: false, reason: "auth-failed", by: "us" });
  });

  /** Two members with certificates; `accepts` is what each believes of the other's. */
  function members(accepts: (key: string, cert: Certificate) => boolean) {
    const credentials = (cert: Certificate) => ({ cert, accepts });
    const joiner = new JoinerHandshake({
      roomId: ROOM,
      member: credentials({ k: JK, e: 0, s: SIG }),
      self: JOINER,
      verify: webVerify,
      fingerprints: FPS_JOINER,
    });
    const host = new HostHandshake({
      roomId: ROOM,
      self: HOST,
      verify: webVerify,
      fingerprints: FPS_HOST,
      lookup: keyHashCheck,
      nonces: new NonceLog(),
      member: credentials({ k: HK, e: 0, s: SIG }),
    });
    return run(joiner, host);
  }

  it("members_CertificatesAccepted_BothAuthenticated_NoMacs", async () => {
    const r = await members((key, cert) => cert.k === key);
    expect(r.joiner).toMatchObject({ ok: true, peerKey: HK });
    expect(r.host).toMatchObject({ ok: true, peerKey: JK });
    expect(r.frames.some((f) => "mac" in f.msg)).toBe(false);
    expect((r.frames[0]!.msg as { cert?: Certificate }).cert?.k).toBe(JK);
  });

  it("members_CertificateNotAccepted_RefusedAuthFailed", async () => {
    const r = await members((key) => key !== JK); // the host does not take the joiner's certificate
    expect(r.host).toEqual({ ok: false, reason: "auth-failed", by: "us" });
    expect(r.joiner).toEqual({ ok: false, reason: "auth-failed", by: "peer" });
    const back = await members((key) => key !== HK); // the joiner does not take the host's
    expect(back.joiner).toEqual({ ok: false, reason: "auth-failed", by: "us" });
  });

  it("memberHelloAtAGuestOnlyInvite_WithoutCertificate_RefusedProtocol", async () => {
    const { host } = pair();
    const step = await host.receive({ t: "auth-hello", v: AUTH_VERSION, invite: "room-member-v3", nonce: NJ, key: JK });
    expect(step.outcome).toEqual({ ok: false, reason: "unknown-invite", by: "us" }); // this host takes no members
  });
});
