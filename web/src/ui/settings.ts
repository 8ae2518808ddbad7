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
    void showBuild();
    // A server saved earlier that the site's policy does not admit (any more): say so at once.
    if (current().custom) void blockedBy(current()).then((message) => message !== null && showBlocked(message));
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
    const blocked = await blockedBy(result.settings);
    if (blocked !== null) {
      showFieldErrors({});
      showBlocked(blocked);
      return;
    }
    showFieldErrors({});
    save(result.settings);
    saveSettings(localStorage, result.settings);
    $("settings-feedback").textContent = t("settingsSaved");
  };
}

/** Why the site's Content-Security-Policy keeps the app from these settings' server, or null when it does not. */
/**
 * The build hash of this app (written by the build to /build.json, docs/security.md): people
 * compare it with the one the server's operator publishes. Only a check against a copy from
 * elsewhere means anything; the app shows it so there is something to compare.
 */
async function showBuild(): Promise<void> {
  $("app-build").textContent = await (build ??= readBuild());
}

/** Read once per page: the running app does not change while it runs. */
let build: Promise<string> | null = null;

async function readBuild(): Promise<string> {
  try {
    const body = (await (await fetch("/build.json")).json()) as { build?: unknown };
    return typeof body.build === "string" && /^[0-9a-f]{64}$/.test(body.build) ? body.build : t("appBuildUnknown");
  } catch {
    return t("appBuildUnknown");
  }
}

async function blockedBy(settings: ServerSettings): Promise<string | null> {
  const blocked = originsBlockedByPolicy(await pagePolicy(), location.origin, serverOrigins(settings));
  return blocked.length > 0 ? t("settingsErrorBlocked", { origins: blocked.join(", ") }) : null;
}

function showBlocked(message: string): void {
  $("err-host").textContent = message;
  $("set-host").setAttribute("aria-invalid", "true");
  $("set-host").focus();
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
