import { FileTransfers, PREVIEW_TYPES, sanitiseFileName, sniffPicture, stripJpegMetadata, type PartialBook, type TransferView } from "../core/files";
import type { MeshRoom, MeshSession } from "../core/room";
import { t, type StringKey } from "../core/strings";
import { OpfsStore } from "../adapters/opfs";
import { IdbPartialBook } from "../adapters/idb";
import { serverFileLimit } from "./file-limit";
import { workerHash, workerHashFile } from "../adapters/hash-worker";
import { $, el } from "./dom";

/** Choices for "accept files automatically up to" (bytes); 25 MiB by default. */
const AUTO_CHOICES = [0, 5 * 2 ** 20, 25 * 2 ** 20, 100 * 2 ** 20, 1024 * 2 ** 20];
const AUTO_DEFAULT = 25 * 2 ** 20;
/** Largest file this app sends or receives when the server does not say (docs/user-guide.md, "Files and pictures"). */
export const MAX_FILE_BYTES = 4 * 2 ** 30;

/** The largest file now: the operator's limit (GhostChat:Files:MaxBytes) once the page knows it. */
function maxFileBytes(): { bytes: number; server: boolean } {
  const server = serverFileLimit.get();
  return server === null ? { bytes: MAX_FILE_BYTES, server: false } : { bytes: server, server: true };
}
/** JPEGs up to this size are read whole to remove their metadata; larger ones are refused while the option is on. */
const STRIP_LIMIT = 64 * 2 ** 20;
const AUTO_KEY = "ghostchat:files:auto";
const STRIP_KEY = "ghostchat:files:keep-metadata";

/** How often a moving transfer's card is drawn again. */
const PROGRESS_MS = 250;

interface Card {
  li: HTMLElement;
  url: string | null;
  quarter: number;
  latest?: TransferView;
  timer?: number | undefined;
}

const TAB_KEY = "ghostchat:files:tab";

/**
 * This tab's book of partial files kept across a reload (IndexedDB, adapters/idb.ts), or null
 * where the tab cannot keep an id (storage refused): then nothing is kept.
 */
let tab: string | null = null;
const book: Promise<IdbPartialBook | null> = (async () => {
  try {
    tab = sessionStorage.getItem(TAB_KEY);
    if (!tab) sessionStorage.setItem(TAB_KEY, (tab = crypto.randomUUID()));
    return await IdbPartialBook.open(tab);
  } catch {
    return null;
  }
})();
const partials: PartialBook = {
  list: async () => (await book)?.list() ?? [],
  put: async (r) => {
    const b = await book;
    // Panic removes the tab's id with its records; a record kept after that names it again.
    if (b && tab) sessionStorage.setItem(TAB_KEY, tab);
    await b?.put(r);
  },
  remove: async (peer, id) => void (await (await book)?.remove(peer, id)),
};

/**
 * One store per page: each transfer's folder is swept by pages that start later once no page holds
 * it, unless a kept partial transfer names it.
 */
const store = new OpfsStore(async () => (await (await book)?.sinks()) ?? new Set<string>());

/**
 * Files and pictures in a room: the attach button, drag and drop and paste send to every member
 * connected directly; each transfer is a card in the message log (name, size, type, progress,
 * speed, time left, cancel, accept, save) and a picture whose bytes are a PNG, JPEG, GIF, WebP or
 * AVIF shows a preview once its hash was checked. Anything else — SVG included — is only offered
 * as a download. No protocol logic here: core/files moves the bytes.
 */
export class FilesView {
  readonly engine: FileTransfers;
  private readonly cards = new Map<string, Card>();
  /** Cards of files refused before they were offered (above the limit). */
  private readonly refusals: HTMLElement[] = [];
  private readonly off: (() => void)[] = [];

  constructor(
    private readonly session: MeshSession,
    private readonly nameOf: (peer: string) => string,
  ) {
    this.engine = new FileTransfers({
      lanes: session.fileLanes,
      store,
      autoAcceptBytes: () => Number(localStorage.getItem(AUTO_KEY) ?? AUTO_DEFAULT),
      // A peer could ignore its own limit: the receiver refuses larger offers too (fx too-large).
      maxBytes: () => maxFileBytes().bytes,
      hash: workerHash,
      partials,
      hashFile: workerHashFile,
    });
    this.off.push(this.engine.events.on("changed", (v) => this.render(v)));
    // A member who left the room (said goodbye, or was removed): its transfers end. One that no
    // path has reached for a minute (a tab closed without a goodbye) too: "unreachable".
    const watch = (room: MeshRoom) =>
      this.off.push(
        room.events.on("roster", (members) => {
          const present = new Set(members.map((m) => m.id));
          const gone = new Set(this.engine.views().flatMap((v) => v.peers.filter((p) => !present.has(p))));
          for (const peer of gone) this.engine.peerGone(peer);
          for (const m of members) if (m.state === "unreachable") this.engine.peerGone(m.id, "unreachable");
        }),
      );
    if (session.room) watch(session.room);
    this.off.push(session.events.on("room", watch));
    this.setUpControls();
    // Takes this page's folder now, which also removes the folders of pages that are gone.
    void store.onDisk();
  }

  dispose(): void {
    for (const f of this.off.splice(0)) f();
    this.engine.stop();
    for (const c of this.cards.values()) {
      window.clearTimeout(c.timer);
      if (c.url) URL.revokeObjectURL(c.url);
    }
    this.cards.clear();
  }

  /** Panic: the cards go, transfers are cancelled and every received or partial file is removed. */
  wipe(): void {
    for (const v of this.engine.views()) if (!["done", "failed", "cancelled"].includes(v.state)) this.engine.cancel(v.id);
    for (const c of this.cards.values()) {
      window.clearTimeout(c.timer);
      if (c.url) URL.revokeObjectURL(c.url);
      c.li.remove();
    }
    this.cards.clear();
    for (const li of this.refusals.splice(0)) li.remove();
    void store.clear();
    void book.then((b) => b?.clear());
    try {
      sessionStorage.removeItem(TAB_KEY);
    } catch {
      // storage refused: the id was never kept
    }
  }

  /** Sends files to everyone connected directly now. */
  async send(files: readonly File[]): Promise<void> {
    const peers = this.session.connectedPeers;
    if (peers.length === 0) return this.announce(t("fileNobody"));
    for (const file of files) {
      const max = maxFileBytes();
      if (file.size > max.bytes) {
        this.refuse(file.name, max.bytes);
        continue;
      }
      const ready = await this.prepare(file);
      if (ready) void this.engine.send(ready, peers);
    }
  }

  /** A file above the limit is not offered: a card says so (and the polite announcer). */
  private refuse(fileName: string, max: number): void {
    const name = sanitiseFileName(fileName);
    const text = t("fileTooLarge", { name, max: sizeText(max) });
    const li = el("li", undefined, "msg file-card");
    li.dataset.direction = "out";
    li.dataset.state = "refused";
    li.append(el("p", t("fileSent", { name }), "file-name"), el("p", text, "file-status"));
    $("messages").append(li);
    this.refusals.push(li);
    this.announce(text);
  }

  private async prepare(file: File): Promise<File | null> {
    const strip = localStorage.getItem(STRIP_KEY) !== "1";
    if (!strip || !/^image\/(jpeg|pjpeg)$/i.test(file.type)) return file;
    const out = file.size <= STRIP_LIMIT ? stripJpegMetadata(new Uint8Array(await file.arrayBuffer())) : null;
    if (!out) {
      this.announce(t("fileStripFailed", { name: file.name }));
      return null;
    }
    return out.removed === 0 ? file : new File([out.bytes as Uint8Array<ArrayBuffer>], file.name, { type: file.type });
  }

  private setUpControls(): void {
    const input = $<HTMLInputElement>("file-input");
    const attach = $<HTMLButtonElement>("attach");
    attach.textContent = "📎";
    attach.setAttribute("aria-label", t("fileAttach"));
    attach.title = t("fileAttach");
    const onAttach = () => input.click();
    const onPick = () => {
      const files = [...(input.files ?? [])];
      input.value = "";
      void this.send(files);
    };
    attach.addEventListener("click", onAttach);
    input.addEventListener("change", onPick);
    const chat = $("view-chat");
    const onDragOver = (e: DragEvent) => {
      if (!e.dataTransfer?.types.includes("Files")) return;
      e.preventDefault();
      chat.dataset.drop = "true";
    };
    const onDragLeave = () => delete chat.dataset.drop;
    const onDrop = (e: DragEvent) => {
      delete chat.dataset.drop;
      const files = [...(e.dataTransfer?.files ?? [])];
      if (files.length === 0) return;
      e.preventDefault();
      void this.send(files);
    };
    const onPaste = (e: ClipboardEvent) => {
      const files = [...(e.clipboardData?.files ?? [])];
      if (files.length === 0) return;
      e.preventDefault();
      void this.send(files);
    };
    chat.addEventListener("dragover", onDragOver);
    chat.addEventListener("dragleave", onDragLeave);
    chat.addEventListener("drop", onDrop);
    $("composer").addEventListener("paste", onPaste);
    const strip = $<HTMLInputElement>("strip-metadata");
    strip.checked = localStorage.getItem(STRIP_KEY) !== "1";
    const onStrip = () => (strip.checked ? localStorage.removeItem(STRIP_KEY) : localStorage.setItem(STRIP_KEY, "1"));
    strip.addEventListener("change", onStrip);
    const auto = $<HTMLSelectElement>("auto-accept");
    const current = Number(localStorage.getItem(AUTO_KEY) ?? AUTO_DEFAULT);
    auto.replaceChildren(
      ...AUTO_CHOICES.map((b) => {
        const o = el("option", b === 0 ? t("fileAutoNever") : sizeText(b)) as HTMLOptionElement;
        o.value = String(b);
        o.selected = b === current;
        return o;
      }),
    );
    const onAuto = () => localStorage.setItem(AUTO_KEY, auto.value);
    auto.addEventListener("change", onAuto);
    const showLimit = () => {
      const max = maxFileBytes();
      const text = max.server ? t("fileLimitServer", { max: sizeText(max.bytes) }) : t("fileLimitNote", { max: sizeText(max.bytes) });
      $("file-limit").textContent = text;
      attach.title = t("fileAttachLimit", { max: sizeText(max.bytes) });
      attach.setAttribute("aria-label", attach.title);
    };
    showLimit();
    this.off.push(serverFileLimit.on(showLimit));
    this.off.push(() => {
      attach.removeEventListener("click", onAttach);
      input.removeEventListener("change", onPick);
      chat.removeEventListener("dragover", onDragOver);
      chat.removeEventListener("dragleave", onDragLeave);
      chat.removeEventListener("drop", onDrop);
      $("composer").removeEventListener("paste", onPaste);
      strip.removeEventListener("change", onStrip);
      auto.removeEventListener("change", onAuto);
    });
  }

  private announce(text: string): void {
    $("announcer").textContent = text;
  }

  /** Progress is drawn at most every PROGRESS_MS per card (a chunk arrives every few hundred microseconds); state changes at once. */
  private render(v: TransferView): void {
    const known = this.cards.get(v.id);
    if (known && v.state === "moving" && known.li.dataset.state === "moving") {
      known.latest = v;
      known.timer ??= window.setTimeout(() => {
        known.timer = undefined;
        if (known.latest && this.cards.get(v.id) === known) this.draw(known.latest);
      }, PROGRESS_MS);
      return;
    }
    if (known?.timer !== undefined) {
      window.clearTimeout(known.timer);
      known.timer = undefined;
    }
    this.draw(v);
  }

  private draw(v: TransferView): void {
    let card = this.cards.get(v.id);
    const name = v.name;
    if (!card) {
      const li = el("li", undefined, "msg file-card");
      li.dataset.transfer = v.id;
      li.dataset.direction = v.dir;
      li.setAttribute("aria-label", v.dir === "out" ? t("fileSent", { name }) : t("fileReceived", { from: this.nameOf(v.peers[0]!), name }));
      card = { li, url: null, quarter: 0 };
      this.cards.set(v.id, card);
      const list = $("messages");
      list.append(li);
      requestAnimationFrame(() => (list.scrollTop = list.scrollHeight));
      if (v.dir === "in") this.announce(t("fileAnnounceStart", { name, from: this.nameOf(v.peers[0]!) }));
    }
    const li = card.li;
    const before = li.dataset.state;
    li.dataset.state = v.state;
    const title = el("p", v.dir === "out" ? t("fileSent", { name }) : t("fileReceived", { from: this.nameOf(v.peers[0]!), name }), "file-name");
    const meta = el("p", t("fileMeta", { size: sizeText(v.size), type: v.type }), "file-meta");
    const parts: HTMLElement[] = [title, meta];
    const ended = v.state === "done" || v.state === "failed" || v.state === "cancelled";
    if (!ended) {
      const bar = el("progress") as HTMLProgressElement;
      bar.max = Math.max(1, v.total);
      bar.value = v.bytes;
      bar.setAttribute("aria-label", t("fileProgressLabel", { name }));
      parts.push(bar);
      parts.push(el("p", this.statusText(v), "file-status"));
      const quarter = v.total > 0 ? Math.floor((v.bytes / v.total) * 4) : 0;
      if (quarter > card.quarter && quarter < 4) this.announce(t("fileAnnounceProgress", { name, percent: quarter * 25 }));
      card.quarter = quarter;
    } else {
      parts.push(el("p", this.statusText(v), "file-status"));
    }
    const actions = el("div", undefined, "file-actions");
    if (v.state === "asking") {
      const accept = el("button", t("fileAccept"), "primary") as HTMLButtonElement;
      accept.type = "button";
      accept.dataset.action = "accept";
      accept.addEventListener("click", () => this.engine.accept(v.peers[0]!, v.id));
      actions.append(accept);
    }
    if (!ended) {
      const cancel = el("button", v.state === "asking" ? t("fileDecline") : t("fileCancel")) as HTMLButtonElement;
      cancel.type = "button";
      cancel.dataset.action = "cancel";
      cancel.setAttribute("aria-label", `${cancel.textContent} ${name}`);
      cancel.addEventListener("click", () => this.engine.cancel(v.id, v.dir === "in" ? v.peers[0] : undefined));
      actions.append(cancel);
    }
    if (v.dir === "out" && v.state === "failed" && (v.reason === "gone" || v.reason === "unreachable")) {
      const again = el("button", t("fileSendAgain")) as HTMLButtonElement;
      again.type = "button";
      again.dataset.action = "resend";
      again.setAttribute("aria-label", `${t("fileSendAgain")} ${name}`);
      again.addEventListener("click", () => {
        const peers = this.session.connectedPeers;
        if (!this.engine.resend(v.id, peers)) this.announce(t("fileNobody"));
      });
      actions.append(again);
    }
    if (v.state === "done" && v.blob) {
      card.url ??= URL.createObjectURL(v.blob);
      const save = el("a", t("fileSave"), "button") as HTMLAnchorElement;
      save.href = card.url;
      save.download = name;
      save.dataset.action = "save";
      save.setAttribute("aria-label", `${t("fileSave")} ${name}`);
      actions.append(save);
    }
    if (actions.childElementCount > 0) parts.push(actions);
    const preview = li.querySelector("img.file-preview");
    li.replaceChildren(...parts);
    if (preview) li.insertBefore(preview, li.children[1] ?? null);
    else if (v.state === "done" && v.blob && card.url) void this.preview(v, li, card.url, v.blob);
    if (before !== v.state && v.dir === "in") {
      if (v.state === "done") this.announce(t("fileAnnounceDone", { name }));
      else if (v.state === "failed") this.announce(t("fileAnnounceFailed", { name }));
    }
  }

  /** A picture is shown only when its declared type is one we preview and its bytes say the same. */
  private async preview(v: TransferView, li: HTMLElement, url: string, blob: Blob): Promise<void> {
    if (!(PREVIEW_TYPES as readonly string[]).includes(v.type)) return;
    const kind = sniffPicture(new Uint8Array(await blob.slice(0, 32).arrayBuffer()));
    if (kind !== v.type || !li.isConnected) return;
    const img = el("img", undefined, "file-preview") as HTMLImageElement;
    img.alt = t("filePreviewAlt", { name: v.name });
    img.decoding = "async";
    img.src = url;
    li.insertBefore(img, li.children[1] ?? null);
  }

  private statusText(v: TransferView): string {
    switch (v.state) {
      case "hashing":
        return t("fileHashing");
      case "offered":
        return t("fileOffered");
      case "asking":
        return t("fileAsking");
      case "paused":
        return v.kept ? t("fileRestored") : t("filePaused");
      case "done":
        return v.dir === "in" ? t("fileDone") : t("fileSentDone");
      case "cancelled":
        return t("fileCancelled");
      case "failed":
        return t("fileFailed", { reason: t(`fileReason.${v.reason ?? "cancelled"}` as StringKey) });
      case "moving": {
        const seconds = Math.max(0.001, (Date.now() - v.startedAt) / 1000);
        const speed = (v.bytes - (v.from ?? 0)) / seconds;
        const left = speed > 0 ? Math.ceil((v.total - v.bytes) / speed) : NaN;
        return t("fileProgress", { done: sizeText(v.bytes), size: sizeText(v.total), speed: sizeText(speed), left: Number.isFinite(left) ? `${left} s` : "…" });
      }
    }
  }
}

export function sizeText(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${u === 0 ? Math.round(n) : n.toFixed(n < 10 ? 1 : 0)} ${units[u]}`;
}
