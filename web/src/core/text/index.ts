/**
 * Message formatting without HTML: text becomes segments that the UI turns into DOM nodes with
 * textContent. Nothing here ever produces markup, so a message containing HTML or script shows as
 * text. Supported: `code`, *bold*, _italic_ and http(s) links.
 */
export type Segment =
  | { kind: "text"; text: string }
  | { kind: "code"; text: string }
  | { kind: "bold"; text: string }
  | { kind: "italic"; text: string }
  | { kind: "link"; text: string; href: string };

const TOKEN = /`([^`\n]+)`|(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])|(?<!\w)_(?=\S)([^_\n]+?)(?<=\S)_(?!\w)|(https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]])/g;

export function formatMessage(text: string): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  for (const m of text.matchAll(TOKEN)) {
    const index = m.index ?? 0;
    if (index > last) push(out, { kind: "text", text: text.slice(last, index) });
    if (m[1] !== undefined) push(out, { kind: "code", text: m[1] });
    else if (m[2] !== undefined) push(out, { kind: "bold", text: m[2] });
    else if (m[3] !== undefined) push(out, { kind: "italic", text: m[3] });
    else if (m[4] !== undefined) push(out, safeLink(m[4]));
    last = index + m[0].length;
  }
  if (last < text.length) push(out, { kind: "text", text: text.slice(last) });
  return out;
}

/** Only http(s) URLs that parse become links; anything else stays text. */
export function safeLink(candidate: string): Segment {
  try {
    const url = new URL(candidate);
    if ((url.protocol === "http:" || url.protocol === "https:") && !url.username && !url.password) {
      return { kind: "link", text: candidate, href: url.href };
    }
  } catch {
    // not a URL: plain text
  }
  return { kind: "text", text: candidate };
}

function push(out: Segment[], seg: Segment): void {
  const prev = out[out.length - 1];
  if (seg.kind === "text" && prev?.kind === "text") prev.text += seg.text;
  else out.push(seg);
}
