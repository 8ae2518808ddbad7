export * from "./backoff";
export * from "./ports";
export * from "./session";
