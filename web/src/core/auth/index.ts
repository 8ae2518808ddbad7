export * from "./crypto";
export * from "./fingerprint";
export * from "./machine";
export * from "./messages";
export * from "./keys";
