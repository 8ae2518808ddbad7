export * from "./message";
export * from "./frames";
export * from "./mac";
export * from "./streams";
