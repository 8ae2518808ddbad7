/** Longest message text a user may send (characters). */
export const MAX_MESSAGE_LENGTH = 2000;
/** Self-destruct choices in milliseconds; null = off. */
export const SELF_DESTRUCT_CHOICES: readonly (number | null)[] = [null, 5_000, 30_000, 60_000, 300_000];
/** Longest display name (characters); a name is a label anyone can choose, never proof of identity. */
export const MAX_NAME_LENGTH = 40;

export type ValidateResult = { ok: true; text: string } | { ok: false; reason: "empty" | "too-long" };

/** Trims trailing whitespace-only lines; refuses empty and over-long text. */
export function validateOutgoing(text: string): ValidateResult {
  const trimmed = text.replace(/\s+$/, "");
  if (trimmed.trim().length === 0) return { ok: false, reason: "empty" };
  if (trimmed.length > MAX_MESSAGE_LENGTH) return { ok: false, reason: "too-long" };
  return { ok: true, text: trimmed };
}

/**
 * A display name as this side keeps and sends it: control and formatting characters (bidi
 * overrides, zero-width joiners used to fake other names) removed, spaces collapsed, trimmed, at
 * most MAX_NAME_LENGTH characters (code points, so a name never ends in half a character).
 * Any script is fine. Empty means "no name".
 */
export function cleanName(name: string): string {
  const cleaned = name
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, "")
    .replace(/\s+/gu, " ")
    .trim();
  return [...cleaned].slice(0, MAX_NAME_LENGTH).join("").trim();
}

/**
 * What another app shared with GhostChat (the manifest's share target; the fields as the service worker keeps them), as a
 * draft for the composer: the text, then the link unless the text already holds it, the title only
 * when there is nothing else. Control characters other than line breaks go; the draft is cut to
 * MAX_MESSAGE_LENGTH (as the composer counts, without splitting a character). Null when nothing was shared.
 */
export function sharedDraft(params: { get(name: string): string | null }): string | null {
  const clean = (v: string | null) => (v ?? "").replace(/[\p{Cc}\p{Cf}]/gu, (c) => (c === "\n" ? c : "")).trim();
  const title = clean(params.get("share-title"));
  const text = clean(params.get("share-text"));
  const url = clean(params.get("share-url"));
  const parts = [text];
  if (url !== "" && !text.includes(url)) parts.push(url);
  let draft = parts.filter((p) => p !== "").join(" ");
  if (draft === "") draft = title;
  if (draft === "") return null;
  const cut = draft.slice(0, MAX_MESSAGE_LENGTH);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut; // never half a character
}
