// How fast a man in the middle could grind a certificate against the v1 verification code (a function
// of the two fingerprints and the room only; docs/protocol.md, "Why commit and reveal"): each try
// hashes a varied ~600-byte certificate (its fingerprint) and runs the code's HKDF. One core, Node's
// crypto (OpenSSL). Prints tries per second and what each half of the code would take at that rate.
//   node bench/auth/code-grinding.mjs [seconds=3]
import { createHash, hkdfSync, randomBytes } from "node:crypto";

const seconds = Number(process.argv[2] ?? 3);
const cert = randomBytes(600);
const other = "sha-256 " + Array(32).fill("AB").join(":");
let tries = 0;
const start = process.hrtime.bigint();
const end = start + BigInt(Math.round(seconds * 1e9));
while (process.hrtime.bigint() < end) {
  for (let i = 0; i < 1000; i++) {
    cert.writeUInt32BE(tries++ >>> 0, 0);
    const fp = "sha-256 " + createHash("sha256").update(cert).digest("hex").toUpperCase().match(/../g).join(":");
    hkdfSync("sha256", `${fp}\n${other}`, "GhostChat verification code v1", "room:roomroomroomroom", 8);
  }
}
const rate = tries / (Number(process.hrtime.bigint() - start) / 1e9);
const fmt = (s) => (s < 120 ? `${s.toFixed(1)} s` : s < 7200 ? `${(s / 60).toFixed(0)} min` : s < 172800 ? `${(s / 3600).toFixed(1)} h` : `${(s / 86400).toFixed(0)} days`);
console.log(`${Math.round(rate)} tries/s on one core`);
for (const [half, space] of [["digits (10^6)", 1e6], ["emoji (2^30)", 2 ** 30], ["whole code (2^30 x 10^6)", 2 ** 30 * 1e6]]) {
  console.log(`${half}: ${fmt(space / rate)} on one core on average`);
}
