import { t, type StringKey } from "../core/strings";
import type { Segment } from "../core/text";

export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el as T;
}

/** Fills every `[data-text]` element from the strings module (the HTML carries no copy of its own). */
export function applyStrings(root: ParentNode = document): void {
  for (const el of root.querySelectorAll<HTMLElement>("[data-text]")) el.textContent = t(el.dataset.text as StringKey);
}

/** Builds message text from segments with textContent only: no markup is ever parsed. */
export function renderSegments(target: HTMLElement, segments: Segment[]): void {
  target.replaceChildren();
  for (const seg of segments) {
    let node: Node;
    switch (seg.kind) {
      case "text":
        node = document.createTextNode(seg.text);
        break;
      case "code":
        node = el("code", seg.text);
        break;
      case "bold":
        node = el("strong", seg.text);
        break;
      case "italic":
        node = el("em", seg.text);
        break;
      case "link": {
        const a = el("a", seg.text) as HTMLAnchorElement;
        a.href = seg.href;
        a.rel = "noopener noreferrer nofollow";
        a.target = "_blank";
        node = a;
        break;
      }
    }
    target.append(node);
  }
}

export function el(tag: string, text?: string, className?: string): HTMLElement {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}
