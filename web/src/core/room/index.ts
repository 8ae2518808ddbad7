export * from "./roster";
export * from "./mesh";
