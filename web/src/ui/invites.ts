/** Renders the host's list of active invites; the logic (time left, warning) is in core/invites. */
import { timeLeft, type ActiveInvite } from "../core/invites";
import { t } from "../core/strings";
import { $, el } from "./dom";

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
