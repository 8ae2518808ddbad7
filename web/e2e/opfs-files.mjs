/* global Blob -- used in the page */
// What a page's Origin Private File System holds for GhostChat, read from a test (e2e and lab): each
// received file is a folder of segment files 0, 1, … (web/src/adapters/opfs.ts), read end to end.
// Pass `readOpfsFiles` to the page's evaluate; it resolves with [{ size, sha, latin1 }] ("latin1":
// the bytes as a string for files under 100 kB, else ""). A folder the page removes while it is read
// (panic clear) is left out.
export async function readOpfsFiles() {
  const out = [];
  const root = await (await navigator.storage.getDirectory()).getDirectoryHandle("ghostchat-files");
  for await (const [, folder] of root.entries()) {
    if (folder.kind !== "directory") continue;
    let bytes;
    try {
      const parts = [];
      for await (const [name, h] of folder.entries()) if (h.kind === "file" && /^\d+$/.test(name)) parts.push([Number(name), await h.getFile()]);
      if (parts.length === 0) continue;
      parts.sort((x, y) => x[0] - y[0]);
      bytes = new Uint8Array(await new Blob(parts.map(([, f]) => f)).arrayBuffer());
    } catch (e) {
      if (e.name === "NotFoundError") continue;
      throw e;
    }
    const hex = [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
    out.push({ size: bytes.length, sha: hex, latin1: bytes.length < 100_000 ? String.fromCharCode(...bytes) : "" });
  }
  return out;
}
