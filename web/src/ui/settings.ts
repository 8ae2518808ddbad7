import {
  originsBlockedByPolicy,
  saveSettings,
  serverOrigins,
  settingsToForm,
  validateSettings,
  type ServerSettings,
  type SettingsField,
} from "../core/settings";
import { t, type StringKey } from "../core/strings";
import { $ } from "./dom";

/** The server settings dialog: fills the form, validates every field at once, saves. */
export function wireSettings(current: () => ServerSettings, save: (s: ServerSettings) => void): void {
  const dialog = $<HTMLDialogElement>("settings-dialog");
  const custom = $<HTMLInputElement>("set-custom");
  const syncDisabled = () => ($<HTMLFieldSetElement>("set-fields").disabled = !custom.checked);
  custom.addEventListener("change", syncDisabled);
  $("open-settings").addEventListener("click", () => {
    const form = settingsToForm(
      current().custom
        ? current()
        : {
            ...current(),
            host: location.hostname,
            port: Number(location.port || (location.protocol === "https:" ? 443 : 80)),
            secure: location.protocol === "https:",
          },
    );
    custom.checked = form.custom;
    $<HTMLInputElement>("set-host").value = form.host;
    $<HTMLInputElement>("set-port").value = form.port;
    $<HTMLInputElement>("set-path").value = form.path;
    $<HTMLInputElement>("set-key").value = form.key;
    $<HTMLInputElement>("set-secure").checked = form.secure;
    $<HTMLTextAreaElement>("set-ice").value = form.iceServers;
    $("settings-feedback").textContent = "";
    showFieldErrors({});
    syncDisabled();
    dialog.showModal();
  });
  $("settings-close").addEventListener("click", () => dialog.close());
  $("settings-form").addEventListener("submit", (e) => {
    e.preventDefault();
    void submit();
  });
  const submit = async () => {
    const result = validateSettings({
      custom: custom.checked,
      host: $<HTMLInputElement>("set-host").value,
      port: $<HTMLInputElement>("set-port").value,
      path: $<HTMLInputElement>("set-path").value,
      key: $<HTMLInputElement>("set-key").value,
      secure: $<HTMLInputElement>("set-secure").checked,
      iceServers: $<HTMLTextAreaElement>("set-ice").value,
    });
    if (!result.ok) {
      showFieldErrors(result.errors);
      return;
    }
    // A server the page's Content-Security-Policy (connect-src) does not admit could never be reached:
    // say so instead of saving it.
    const blocked = originsBlockedByPolicy(await pagePolicy(), location.origin, serverOrigins(result.settings));
    if (blocked.length > 0) {
      showFieldErrors({});
      $("err-host").textContent = t("settingsErrorBlocked", { origins: blocked.join(", ") });
      $("set-host").setAttribute("aria-invalid", "true");
      $("set-host").focus();
      return;
    }
    showFieldErrors({});
    save(result.settings);
    saveSettings(localStorage, result.settings);
    $("settings-feedback").textContent = t("settingsSaved");
  };
}

/** The Content-Security-Policy this site sends (the page cannot read its own; its entry page's is the same). Null when unknown. */
async function pagePolicy(): Promise<string | null> {
  try {
    const response = await fetch("/", { cache: "no-store", credentials: "omit" });
    void response.body?.cancel();
    return response.headers.get("content-security-policy");
  } catch {
    return null;
  }
}

function showFieldErrors(errors: Partial<Record<SettingsField, string>>): void {
  const fields: SettingsField[] = ["host", "port", "path", "key", "iceServers"];
  let first: HTMLElement | null = null;
  for (const f of fields) {
    const msg = errors[f];
    $(`err-${f}`).textContent = msg ? t(msg as StringKey) : "";
    const input = $(f === "iceServers" ? "set-ice" : `set-${f}`);
    if (msg) {
      input.setAttribute("aria-invalid", "true");
      first ??= input;
    } else input.removeAttribute("aria-invalid");
  }
  first?.focus();
}
