export * from "./call";
export * from "./adapt";
export * from "./figures";
