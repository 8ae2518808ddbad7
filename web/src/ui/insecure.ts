import { assessContext, type ContextFacts, type ContextFeature } from "../core/context";
import { t, type StringKey } from "../core/strings";
import { el } from "./dom";
import "./insecure.css";

const FEATURE_TEXT: Record<ContextFeature, StringKey> = {
  webCrypto: "insecureMissingWebCrypto",
  serviceWorker: "insecureMissingServiceWorker",
  mediaDevices: "insecureMissingMediaDevices",
  wakeLock: "insecureMissingWakeLock",
  clipboard: "insecureMissingClipboard",
};

export function readContextFacts(): ContextFacts {
  return {
    secureContext: window.isSecureContext,
    protocol: location.protocol,
    hostname: location.hostname,
    port: location.port,
    webCrypto: typeof crypto !== "undefined" && typeof crypto.subtle !== "undefined",
    serviceWorker: "serviceWorker" in navigator,
    wakeLock: "wakeLock" in navigator,
    clipboard: "clipboard" in navigator,
    mediaDevices: typeof navigator.mediaDevices?.getUserMedia === "function",
  };
}

/**
 * When the page is not a secure context, puts a notice at the top of the page that says what
 * does not work and what to do. `blocking`: GhostChat cannot work here at all (no WebCrypto), so
 * the caller must not start the app; the notice is then the whole page.
 */
export function showInsecureContextNotice(facts: ContextFacts = readContextFacts()): { shown: boolean; blocking: boolean } {
  const a = assessContext(facts);
  if (a.secure) return { shown: false, blocking: false };
  const section = el("section", undefined, "insecure-notice");
  section.id = "insecure-notice";
  section.setAttribute("role", "alert");
  section.setAttribute("aria-labelledby", "insecure-title");
  const title = el("h2", t("insecureTitle"));
  title.id = "insecure-title";
  section.append(title, el("p", t(a.blocking ? "insecureBodyBlocked" : "insecureBody", { host: a.host })));
  if (a.missing.length > 0) {
    const list = el("ul");
    list.id = "insecure-missing";
    for (const f of a.missing) {
      const item = el("li", t(FEATURE_TEXT[f]));
      item.dataset.feature = f;
      list.append(item);
    }
    section.append(list);
  } else {
    section.append(el("p", t("insecureNothingMissing")));
  }
  const fix = el("p", t(a.hostKind === "internet" ? "insecureFixInternet" : "insecureFixLocalNetwork"));
  fix.id = "insecure-fix";
  section.append(fix, el("p", t("insecureFixThisDevice", { url: a.localhostUrl })));
  section.dataset.hostKind = a.hostKind;
  const main = document.getElementById("main");
  (main ?? document.body).prepend(section);
  document.body.dataset.insecure = a.blocking ? "blocking" : "true";
  if (a.blocking) {
    // The app does not start: its settings button would do nothing.
    document.getElementById("open-settings")?.setAttribute("hidden", "");
    document.body.dataset.view = "insecure";
  }
  return { shown: true, blocking: a.blocking };
}
