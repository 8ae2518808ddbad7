export * from "./message";
export * from "./frames";
export * from "./streams";
