import { $ } from "./dom";
import type { RoomKind } from "./invites";
import { show } from "./shell";

/** The start screen: a new 1:1 room or a new group room. */
export class HomeView {
  constructor(newRoom: (kind: RoomKind) => void) {
    $("new-room").addEventListener("click", () => newRoom("pair"));
    $("new-group").addEventListener("click", () => newRoom("group"));
  }

  show(focus: boolean): void {
    show("home");
    if (focus) $("new-room").focus();
  }
}
