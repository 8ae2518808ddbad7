export * from "./roster";
export * from "./mesh";
export * from "./session";
export * from "./trust";
