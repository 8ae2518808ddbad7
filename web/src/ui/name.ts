import { cleanName } from "../core/delivery";
import { t } from "../core/strings";
import { $ } from "./dom";

/** Where this browser remembers the person's display name (a label, never proof of who they are). */
const NAME_KEY = "ghostchat:name";

export function storedName(): string {
  try {
    return cleanName(localStorage.getItem(NAME_KEY) ?? "");
  } catch {
    return "";
  }
}

/** The display name field: remembered in this browser, editable in the room, sent to the others. */
export function wireName(changed: (name: string) => void): void {
  const input = $<HTMLInputElement>("my-name");
  input.value = storedName();
  input.addEventListener("change", () => {
    const name = cleanName(input.value);
    input.value = name;
    try {
      if (name === "") localStorage.removeItem(NAME_KEY);
      else localStorage.setItem(NAME_KEY, name);
    } catch {
      // storage refused: the name still goes to this room
    }
    changed(name);
    $("name-feedback").textContent = t("nameSaved");
  });
}
