import { MAX_MESSAGE_LENGTH, SELF_DESTRUCT_CHOICES, validateOutgoing } from "../core/delivery";
import { t } from "../core/strings";
import { $, el } from "./dom";
import { durationText, type RoomView } from "./room";

/**
 * The composer: the draft with its length counter, Enter to send (Shift+Enter for a new line), the
 * self-destruct choice. Writing is possible only while the room view allows it.
 */
export class Composer {
  private readonly text = $<HTMLTextAreaElement>("composer");
  private readonly ttl = $<HTMLSelectElement>("self-destruct");

  constructor(private readonly view: () => RoomView | null) {
    this.text.placeholder = t("composerPlaceholder");
    this.text.setAttribute("maxlength", String(MAX_MESSAGE_LENGTH * 2));
    for (const ms of SELF_DESTRUCT_CHOICES) {
      const option = el("option", ms === null ? t("selfDestructOff") : durationText(ms)) as HTMLOptionElement;
      option.value = ms === null ? "" : String(ms);
      this.ttl.append(option);
    }
    this.text.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.send();
      }
    });
    this.text.addEventListener("input", () => {
      this.render();
      this.view()?.input(this.text.value.trim().length === 0);
    });
    $("composer-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.send();
    });
    this.render();
  }

  focus(): void {
    this.text.focus();
  }

  /** Text another app shared (the manifest's share target), waiting for a room; a draft being written wins. */
  prefill(text: string): void {
    if (this.text.value.trim() !== "") return;
    this.text.value = text;
    this.render();
  }

  /** Panic: the draft goes too. */
  clear(): void {
    this.text.value = "";
    this.render();
  }

  /** The counter, and whether the composer and Send are enabled. */
  render(): void {
    const length = this.text.value.length;
    const counter = $("counter");
    const over = length - MAX_MESSAGE_LENGTH;
    counter.textContent = over > 0 ? t("tooLong", { over }) : t("counter", { count: length, max: MAX_MESSAGE_LENGTH });
    counter.dataset.over = String(over > 0);
    const writable = this.view()?.canWrite === true;
    this.text.disabled = !writable;
    $<HTMLButtonElement>("send").disabled = over > 0 || !writable;
  }

  private send(): void {
    const checked = validateOutgoing(this.text.value);
    const ttl = this.ttl.value === "" ? null : Number(this.ttl.value);
    if (!checked.ok || !this.view()?.send(checked.text, ttl)) return;
    this.text.value = "";
    this.render();
  }
}
