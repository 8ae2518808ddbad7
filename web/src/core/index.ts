export * from "./ids";
export * from "./emitter";
