export * from "./wire";
export * from "./conversation";
