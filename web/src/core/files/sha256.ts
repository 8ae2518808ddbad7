// The SHA-256 of @noble/hashes, in a module of its own so transfer.ts can load it on first use and
// the bundle keeps only what is used.
export { sha256 } from "@noble/hashes/sha2.js";
export { bytesToHex } from "@noble/hashes/utils.js";
