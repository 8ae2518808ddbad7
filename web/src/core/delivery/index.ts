export * from "./wire";
export * from "./conversation";
export * from "./frames";
export * from "./mac";
export * from "./streams";
