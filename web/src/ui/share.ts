/** The little of `navigator` that sharing uses (the real one, or a test's fake). */
export interface ShareNavigator {
  share?(data: ShareData): Promise<void>;
  canShare?(data: ShareData): boolean;
}

/** What became of a share: sent to the share sheet, closed by the person, or copied instead (or not even that). */
export type ShareOutcome = "shared" | "cancelled" | "copied" | "copy-failed";

/** The browser has a share sheet for `data` (the Web Share API; absent in Chromium on Linux, Firefox on desktop). */
export function canShare(data: ShareData, nav: ShareNavigator = navigator): boolean {
  return typeof nav.share === "function" && nav.canShare?.(data) !== false;
}

/**
 * Hands `data` to the system's share sheet where there is one; where there is none, or it fails
 * (refused without a tap, a WebView that has the method but no sheet), `copy` puts the link on the
 * clipboard instead. Closing the sheet (`AbortError`) is the person's choice: nothing else happens.
 */
export async function shareOrCopy(data: ShareData, copy: () => Promise<boolean>, nav: ShareNavigator = navigator): Promise<ShareOutcome> {
  if (canShare(data, nav)) {
    try {
      await nav.share!(data);
      return "shared";
    } catch (e) {
      if (isAbort(e)) return "cancelled";
    }
  }
  return (await copy()) ? "copied" : "copy-failed";
}

function isAbort(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { name?: unknown }).name === "AbortError";
}
