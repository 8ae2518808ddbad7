import { t } from "../core/strings";
import { $ } from "./dom";

/** Where this browser remembers "Hide my IP" (on until the person turns it off). */
const HIDE_IP_KEY = "ghostchat:hide-ip";

/**
 * "Hide my IP": every connection goes through the relay (TURN), so the others — and anyone who
 * knows this page's peer id, whose offers PeerJS answers — learn the relay's address, never this
 * device's. A switch in the top bar, remembered in this browser so that it already holds when an
 * invite link opens a room at once.
 */
export class HideIp {
  private readonly box = $<HTMLInputElement>("hide-ip");

  constructor(changed: (on: boolean) => void) {
    this.box.checked = remembered();
    this.box.title = t("hideIpHelp");
    this.box.addEventListener("change", () => {
      try {
        if (this.box.checked) localStorage.setItem(HIDE_IP_KEY, "1");
        else localStorage.removeItem(HIDE_IP_KEY);
      } catch {
        // storage refused: it holds for this page
      }
      $("announcer").textContent = t(this.box.checked ? "hideIpOn" : "hideIpOff");
      changed(this.box.checked);
    });
  }

  get on(): boolean {
    return this.box.checked;
  }
}

function remembered(): boolean {
  try {
    return localStorage.getItem(HIDE_IP_KEY) === "1";
  } catch {
    return false;
  }
}
