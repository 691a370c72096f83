/**
 * Failed logins are rate-limited per client address (hono-rate-limiter, npm): after
 * `maxFailures` refused attempts (400, 401) within `windowMs`, the address gets 429 with
 * `Retry-After` until its window ends, before its body is read by the route or the database
 * is asked. Successful logins do not count.
 *
 * Counters live in this process, in a bounded LRU (lru-cache) with a TTL: no timer, and at
 * most `maxAddresses` addresses are remembered (the least recently seen is forgotten first).
 * With several workers, each counts on its own.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { type ClientRateLimitInfo, rateLimiter, type Store } from "hono-rate-limiter";
import { LRUCache } from "lru-cache";

/** Options of {@linkcode loginRateLimit}. */
export interface LoginRateLimitOptions {
  /** Failed attempts an address may make per window; `0` disables the limit. @default {20} */
  maxFailures?: number;
  /** The window, in ms. @default {600_000} */
  windowMs?: number;
  /** Addresses remembered at most. @default {10_000} */
  maxAddresses?: number;
  /** The client's address (see `peer.ts`); `undefined` counts as one shared client. */
  addressOf: (c: Context) => string | undefined;
}

/** Default failed logins per address per window. */
export const DEFAULT_LOGIN_MAX_FAILURES = 20;
/** Default window of the login limit, in ms (10 minutes). */
export const DEFAULT_LOGIN_WINDOW_MS = 600_000;

/** hono-rate-limiter's `Store` on a bounded LRU with a TTL (no timers). */
class LruStore implements Store {
  readonly localKeys = true;
  readonly #hits: LRUCache<string, { totalHits: number; resetTime: Date }>;
  readonly #windowMs: number;

  constructor(windowMs: number, maxAddresses: number) {
    this.#windowMs = windowMs;
    this.#hits = new LRUCache({ max: maxAddresses, ttl: windowMs, ttlAutopurge: false });
  }

  get(key: string): ClientRateLimitInfo | undefined {
    return this.#hits.get(key);
  }

  increment(key: string): ClientRateLimitInfo {
    const now = Date.now();
    const entry = this.#hits.get(key);
    if (entry && entry.resetTime.getTime() > now) {
      entry.totalHits++;
      return { ...entry };
    }
    const fresh = { totalHits: 1, resetTime: new Date(now + this.#windowMs) };
    this.#hits.set(key, fresh, { ttl: this.#windowMs });
    return { ...fresh };
  }

  decrement(key: string): void {
    const entry = this.#hits.get(key);
    if (entry && entry.totalHits > 0) entry.totalHits--;
  }

  resetKey(key: string): void {
    this.#hits.delete(key);
  }

  resetAll(): void {
    this.#hits.clear();
  }
}

/**
 * The middleware for `POST /api/auth/login`.
 *
 * @throws {HTTPException} 429 (with `Retry-After`, in seconds) once an address has failed
 *   `maxFailures` times in the window.
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { loginRateLimit } from "./login_rate_limit.ts";
 * const app = new Hono();
 * app.post("/api/auth/login", loginRateLimit({ addressOf: () => "127.0.0.1" }), (c) => c.json({}));
 * ```
 */
export function loginRateLimit(options: LoginRateLimitOptions): MiddlewareHandler {
  const maxFailures = options.maxFailures ?? DEFAULT_LOGIN_MAX_FAILURES;
  const windowMs = options.windowMs ?? DEFAULT_LOGIN_WINDOW_MS;
  if (!Number.isInteger(maxFailures) || maxFailures < 0) {
    throw new RangeError(
      `Cannot create login rate limit: 'maxFailures' (${maxFailures}) must be an integer >= 0`,
    );
  }
  if (maxFailures === 0) return async (_c, next) => await next();
  return rateLimiter({
    windowMs,
    limit: maxFailures,
    standardHeaders: "draft-6",
    skipSuccessfulRequests: true,
    keyGenerator: (c) => options.addressOf(c) ?? "(no address)",
    store: new LruStore(windowMs, options.maxAddresses ?? 10_000),
    handler: (c) => {
      const info = c.get("rateLimit" as never) as { resetTime?: Date } | undefined;
      const retryS = Math.max(
        1,
        Math.ceil(((info?.resetTime?.getTime() ?? 0) - Date.now()) / 1000),
      );
      c.header("Retry-After", String(retryS));
      throw new HTTPException(429, {
        message: `Too many failed logins from this address: try again in ${retryS} s`,
      });
    },
  });
}
