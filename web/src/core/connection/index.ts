export * from "./backoff";
export * from "./ports";
