import { describe, expect, it } from "vitest";
import { en, format, isStringKey, setStrings, t } from "../src/core/strings";

describe("strings", () => {
  it("t_FillsPlaceholders", () => {
    expect(t("statusSignaling", { attempt: 2, total: 3 })).toBe("Connecting to the server… (attempt 2 of 3)");
  });

  it("format_UnknownPlaceholder_LeftVisible", () => {
    expect(format("a {x} {y}", { x: 1 })).toBe("a 1 {y}");
  });

  it("setStrings_Translation_Used", () => {
    setStrings({ ...en, send: "Senden" });
    expect(t("send")).toBe("Senden");
    setStrings(en);
    expect(t("send")).toBe("Send");
  });

  it("strings_AllNonEmpty_AndSettingsErrorsAreKeys", () => {
    for (const value of Object.values(en)) expect(value.trim().length).toBeGreaterThan(0);
    for (const k of ["settingsErrorHost", "settingsErrorPort", "settingsErrorPath", "settingsErrorKey", "settingsErrorIce"]) expect(isStringKey(k)).toBe(true);
    expect(isStringKey("toString")).toBe(false);
  });
});
