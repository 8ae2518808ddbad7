export interface BackoffOptions {
  /** Total attempts, first included. Default 3. */
  attempts?: number;
  /** Delay before the second attempt, ms. Default 500. */
  baseMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Upper bound for one delay, ms. Default 4000. */
  maxMs?: number;
  /** 0..1 share of each delay drawn at random (spreads reconnect storms). Default 0.2. */
  jitter?: number;
  random?: () => number;
}

/** Delays before attempts 2..n. */
export function backoffDelays(options: BackoffOptions = {}): number[] {
  const { attempts = 3, baseMs = 500, factor = 2, maxMs = 4000, jitter = 0.2, random = Math.random } = options;
  const delays: number[] = [];
  for (let i = 1; i < attempts; i++) {
    const raw = Math.min(maxMs, baseMs * factor ** (i - 1));
    delays.push(Math.round(raw * (1 - jitter + jitter * random())));
  }
  return delays;
}

export interface RetryHooks {
  /** Called before each attempt: 1-based attempt number and total. */
  onAttempt?: (attempt: number, total: number) => void;
  /** Called after a failed attempt that will be retried, with the wait. */
  onRetry?: (attempt: number, delayMs: number, error: unknown) => void;
  sleep?: (ms: number) => Promise<void>;
  /** Stop retrying early (e.g. the user left). */
  signal?: AbortSignal;
  /** False for errors that another attempt cannot fix (they are thrown at once). Default: retry all. */
  shouldRetry?: (error: unknown) => boolean;
}

export class RetriesExhaustedError extends Error {
  constructor(
    readonly attempts: number,
    readonly lastError: unknown,
  ) {
    super(`failed after ${attempts} attempts: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
    this.name = "RetriesExhaustedError";
  }
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `attempt` until it resolves, waiting the backoff delays between failures. */
export async function retry<T>(attempt: (n: number) => Promise<T>, options: BackoffOptions & RetryHooks = {}): Promise<T> {
  const delays = backoffDelays(options);
  const total = delays.length + 1;
  const sleep = options.sleep ?? defaultSleep;
  let lastError: unknown;
  for (let n = 1; n <= total; n++) {
    if (options.signal?.aborted) throw options.signal.reason ?? new Error("aborted");
    options.onAttempt?.(n, total);
    try {
      return await attempt(n);
    } catch (error) {
      lastError = error;
      if (options.shouldRetry && !options.shouldRetry(error)) throw new RetriesExhaustedError(n, error);
      if (n < total) {
        const delay = delays[n - 1] ?? 0;
        options.onRetry?.(n, delay, error);
        await sleep(delay);
      }
    }
  }
  throw new RetriesExhaustedError(total, lastError);
}

/** Rejects with a timeout error unless `promise` settles within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
