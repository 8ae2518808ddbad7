/** The invite view: the host's invite book, link, QR code and list; the logic is in core/invites. */
import { storedSigner } from "../core/auth";
import { HostInvites, MemoryInviteStore, inviteLink, timeLeft, type ActiveInvite, type HostIdentity, type Invite } from "../core/invites";
import type { HostRoom } from "../core/room";
import { t } from "../core/strings";
import { IdbInviteStore } from "../adapters/idb";
import { $, el } from "./dom";

/** Room kinds: a 1:1 room holds two people, a group room up to MAX_MEMBERS. Links say which (`?group`). */
export type RoomKind = "pair" | "group";

/**
 * The host's side of invites: the book in IndexedDB (memory when the browser refuses it), the
 * room's identity (peer id, token, room id and key), the one-hosting-tab lock, and the invite view
 * (current link with QR code, active invites with renew and revoke, refreshed every 30 s).
 */
export class InviteBook {
  identity: HostIdentity | null = null;
  private book: Promise<HostInvites> | null = null;
  private timer: number | undefined;
  private lock: Promise<boolean> | null = null;

  constructor(
    private readonly kind: () => RoomKind,
    private readonly ended: () => void,
    /** An invite was revoked: the room moves to a new epoch without whoever used it and left. */
    private readonly revoked: () => Promise<unknown>,
  ) {
    $("new-invite").addEventListener("click", () => void this.issue());
    $("end-room").addEventListener("click", () => void this.endRoom());
  }

  /** After a reload: the identity of a room whose invites are alive, if this tab may host it. */
  async resumable(): Promise<HostIdentity | null> {
    const identity = await (await this.store()).resume();
    if (!identity) return null;
    return (await this.takeHostLock()) ? identity : null; // another tab of this browser hosts the room
  }

  /** One tab hosts at a time (the same id in two tabs would push each other off the server). */
  takeHostLock(): Promise<boolean> {
    if (!("locks" in navigator)) return Promise.resolve(true);
    this.lock ??= new Promise<boolean>((resolve) => {
      void navigator.locks
        .request("ghostchat-host", { ifAvailable: true }, (lock) => {
          resolve(lock !== null);
          return lock ? new Promise<void>(() => undefined) : undefined; // held for the page's life
        })
        .catch(() => resolve(true));
    });
    return this.lock;
  }

  /** What the room's session needs once the server accepted `peerId`: the room, its authority key and epoch, the invite check. */
  async hostRoom(peerId: string, token: string, soleHost: boolean): Promise<HostRoom> {
    const book = await this.store();
    const identity = (this.identity ??= await book.startRoom(peerId, token, { keepOthers: !soleHost }));
    const authority = await storedSigner(identity.authority);
    if (!authority) throw new Error("the room's key could not be read");
    return {
      roomId: identity.roomId,
      authority,
      epoch: identity.epoch,
      saveEpoch: async (epoch) => {
        identity.epoch = epoch;
        await book.saveEpoch(epoch);
      },
      lookupInvite: async (inviteId) => book.check(inviteId),
    };
  }

  /** The room is hosted: show a new link (`fresh`) or none (a resumed room: its secrets are not kept). */
  async open(fresh: boolean): Promise<void> {
    if (!this.identity) return;
    await this.showLink(fresh ? await (await this.store()).issue(this.identity) : null);
    $("invite-feedback").textContent = "";
    await this.refresh();
  }

  /** This page does not host (it joined, or left). */
  close(): void {
    this.identity = null;
    this.stopRefreshing();
  }

  stopRefreshing(): void {
    window.clearTimeout(this.timer);
  }

  /** Panic: the room's invites and identity leave IndexedDB; the links given out stop working. */
  async wipe(): Promise<void> {
    if (!this.identity) return;
    await (await this.store()).endRoom();
    this.identity = null; // no new links for this room from this page either
    this.stopRefreshing();
    renderInviteList([], { renew: () => undefined, revoke: () => undefined });
    await this.showLink(null);
  }

  private store(): Promise<HostInvites> {
    this.book ??= IdbInviteStore.open().then(
      (store) => new HostInvites(store),
      () => new HostInvites(new MemoryInviteStore()),
    );
    return this.book;
  }

  private async issue(): Promise<void> {
    if (!this.identity) return;
    await this.showLink(await (await this.store()).issue(this.identity));
    $("invite-feedback").textContent = "";
    await this.refresh();
  }

  private async renew(inviteId: string): Promise<void> {
    if (!this.identity) return;
    await this.showLink(await (await this.store()).renew(this.identity, inviteId));
    $("invite-feedback").textContent = t("inviteRenewedNote");
    await this.refresh();
    $("invite-link").focus();
  }

  private async revoke(inviteId: string): Promise<void> {
    await (await this.store()).revoke(inviteId);
    await this.revoked();
    $("invite-feedback").textContent = t("inviteRevokedNote", { id: shortInviteName(inviteId) });
    await this.refresh();
  }

  /** A removed member's invite stops working (the removal already moved the room to a new epoch). */
  async revokeRemoved(inviteId: string): Promise<void> {
    await (await this.store()).revoke(inviteId);
    await this.refresh();
  }

  private async endRoom(): Promise<void> {
    await (await this.store()).endRoom();
    this.identity = null;
    this.ended();
  }

  /** Redraws the list of active invites, again every 30 s while hosting (time left, warnings). */
  private async refresh(): Promise<void> {
    this.stopRefreshing();
    if (!this.identity) return;
    const book = await this.store();
    await book.purge(); // expired invites leave the store while the page stays open, too
    const list = await book.active(this.identity.roomId);
    renderInviteList(list, { renew: (id) => void this.renew(id), revoke: (id) => void this.revoke(id) });
    this.timer = window.setTimeout(() => void this.refresh(), 30_000);
  }

  private async showLink(invite: Invite | null): Promise<void> {
    $("invite-not-kept").hidden = invite !== null;
    for (const id of ["invite-link-row", "invite-expiry", "qr"]) $(id).hidden = invite === null;
    if (!invite) {
      $<HTMLInputElement>("invite-link").value = "";
      return;
    }
    const link = roomLink(inviteLink(location.href, invite), this.kind());
    $<HTMLInputElement>("invite-link").value = link;
    $("invite-expiry").textContent = t("inviteExpires", { time: new Date(invite.expiresAt).toLocaleString() });
    $("copy-feedback").textContent = "";
    // The QR encoder loads when a link is first shown, not with the chat page (docs/benchmarks.md, "JS").
    const { default: QRCode } = await import("qrcode");
    await QRCode.toCanvas($<HTMLCanvasElement>("qr"), link, { errorCorrectionLevel: "M", margin: 2, width: 232 });
  }
}

/** A room's invite link: the page address says "group" for a group room (the fragment is the invite's own). */
function roomLink(link: string, kind: RoomKind): string {
  const url = new URL(link);
  url.search = kind === "group" ? "?group" : "";
  return url.toString();
}

export interface InviteListActions {
  renew(inviteId: string): void;
  revoke(inviteId: string): void;
}

/** A short, readable name for an invite: its first 6 characters. */
export function shortInviteName(inviteId: string): string {
  return inviteId.slice(0, 6);
}

export function renderInviteList(list: readonly ActiveInvite[], actions: InviteListActions): void {
  const ul = $("invite-list");
  // Keep focus on the same invite's button across re-renders (the list refreshes every 30 s).
  const focused = document.activeElement instanceof HTMLElement ? document.activeElement.dataset.focusKey : undefined;
  ul.replaceChildren();
  if (list.length === 0) {
    ul.append(el("li", t("invitesEmpty"), "hint"));
    return;
  }
  for (const inv of list) {
    const name = shortInviteName(inv.inviteId);
    const li = el("li", undefined, "invite-item");
    li.dataset.inviteId = inv.inviteId;
    li.dataset.expiring = String(inv.expiringSoon);
    li.append(el("span", t("inviteItem", { id: name }), "invite-name"));
    const left = el("span", t("inviteTimeLeft", timeLeft(inv.remainingMs)), "invite-left");
    const until = el("time", undefined);
    until.setAttribute("datetime", new Date(inv.expiresAt).toISOString());
    left.append(until);
    li.append(left);
    const renew = el("button", t("inviteRenew")) as HTMLButtonElement;
    renew.type = "button";
    renew.className = "invite-renew";
    renew.setAttribute("aria-label", t("inviteRenewLabel", { id: name }));
    renew.dataset.focusKey = `renew:${inv.inviteId}`;
    renew.addEventListener("click", () => actions.renew(inv.inviteId));
    const revoke = el("button", t("inviteRevoke")) as HTMLButtonElement;
    revoke.type = "button";
    revoke.className = "invite-revoke ghost";
    revoke.setAttribute("aria-label", t("inviteRevokeLabel", { id: name }));
    revoke.dataset.focusKey = `revoke:${inv.inviteId}`;
    revoke.addEventListener("click", () => actions.revoke(inv.inviteId));
    li.append(renew, revoke);
    if (inv.expiringSoon) li.append(el("p", t("inviteExpiringSoon"), "invite-warning"));
    ul.append(li);
  }
  if (focused) ul.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(focused)}"]`)?.focus();
}
