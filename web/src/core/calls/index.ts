export * from "./call";
