/** Longest file name kept, in code points (the extension is kept when a name is cut). */
export const MAX_FILE_NAME = 120;

/** Names Windows refuses whatever their extension (CON, CON.txt, ...). */
const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\.|$)/i;

/**
 * A peer's file name made safe to show and to save: one name, never a path. Path separators and the
 * characters file systems refuse become "_"; control and formatting characters (bidi overrides,
 * zero-width) are removed; leading dots and trailing dots and spaces go (no hidden files, no
 * Windows trailing-dot tricks); reserved device names get a "_" in front; the name is cut to
 * MAX_FILE_NAME code points keeping its extension. Never empty ("file").
 */
export function sanitiseFileName(raw: string): string {
  let name = raw
    .normalize("NFC")
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, "")
    .replace(/[/\\:*?"<>|]/g, "_")
    .replace(/\s+/gu, " ")
    .replace(/^[\s.]+/u, "")
    .replace(/[\s.]+$/u, "");
  if (RESERVED.test(name)) name = `_${name}`;
  const chars = [...name];
  if (chars.length > MAX_FILE_NAME) {
    const dot = name.lastIndexOf(".");
    const ext = dot > 0 ? [...name.slice(dot)] : [];
    const keep = ext.length > 0 && ext.length <= 16 ? ext : [];
    name = chars.slice(0, MAX_FILE_NAME - keep.length).join("") + keep.join("");
  }
  return name.length > 0 ? name : "file";
}

const MIME = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/;

/** A declared media type, lower-cased, or application/octet-stream when it is not one. */
export function sanitiseType(raw: string): string {
  const t = raw.trim().toLowerCase();
  return MIME.test(t) ? t : "application/octet-stream";
}

/** The only pictures shown inline: raster formats a browser decodes without running anything. */
export const PREVIEW_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif"] as const;
export type PreviewType = (typeof PREVIEW_TYPES)[number];

/**
 * The picture type the bytes really are (their signature), or null. A preview needs both the
 * declared type and the bytes to agree; SVG, HTML and anything else is offered as a download only.
 */
export function sniffPicture(head: Uint8Array): PreviewType | null {
  const b = (i: number) => head[i] ?? -1;
  const ascii = (from: number, text: string) => [...text].every((c, i) => b(from + i) === c.charCodeAt(0));
  if (b(0) === 0x89 && ascii(1, "PNG\r\n\x1a\n")) return "image/png";
  if (b(0) === 0xff && b(1) === 0xd8 && b(2) === 0xff) return "image/jpeg";
  if (ascii(0, "GIF87a") || ascii(0, "GIF89a")) return "image/gif";
  if (ascii(0, "RIFF") && ascii(8, "WEBP")) return "image/webp";
  if (ascii(4, "ftypavif") || ascii(4, "ftypavis")) return "image/avif";
  return null;
}

const TEXT_TYPES =
  /^(text\/|application\/(json|xml|javascript|ecmascript|x-ndjson|x-sh|x-yaml|yaml|toml|sql|graphql|csv|ld\+json|x-tex|rtf|x-subrip|xhtml\+xml)$|image\/svg\+xml$|[a-z0-9.+-]+\/[a-z0-9.-]+\+(json|xml)$)/;
const TEXT_EXTENSIONS = new Set(
  (
    "txt text md markdown rst csv tsv log json ndjson jsonl geojson xml svg html htm xhtml css scss less js mjs cjs ts tsx jsx " +
    "c h cc cpp hpp cs java kt go rs py rb php pl sh bash zsh ps1 bat sql yaml yml toml ini cfg conf env properties " +
    "tex bib srt vtt ics vcf rtf gpx kml diff patch lock"
  ).split(" "),
);

/**
 * Whether a file is worth trying to compress by its name and type: text, markup, source, data
 * formats in text. Only a guess: the sender also compresses a sample and each chunk is sent
 * deflated only when that makes it smaller (transfer.ts).
 */
export function isTextLike(name: string, type: string): boolean {
  if (TEXT_TYPES.test(sanitiseType(type))) return true;
  const dot = name.lastIndexOf(".");
  return dot >= 0 && TEXT_EXTENSIONS.has(name.slice(dot + 1).toLowerCase());
}
