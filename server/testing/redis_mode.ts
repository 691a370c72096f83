/**
 * The server suite runs twice in CI: with Redis, and with `REDIS_ENABLED=false` (the cache
 * off entirely). Tests read the mode here: behaviour tests assert what each mode answers,
 * tests about Redis itself are skipped without it.
 *
 * @module
 */
import { type RedisOptions, RedisStore } from "../../lib/mod.ts";

/** `false` when the suite runs with `REDIS_ENABLED=false`. */
export const REDIS_ENABLED = (Deno.env.get("REDIS_ENABLED") ?? "true").toLowerCase() !== "false";

/**
 * The test app's Redis store: connected to `url` when the suite runs with Redis, disabled
 * otherwise. Close it at the end of the test.
 */
export function connectTestStore(url: string, options: RedisOptions = {}): Promise<RedisStore> {
  return REDIS_ENABLED
    ? RedisStore.connect(url, { log: () => {}, ...options })
    : Promise.resolve(RedisStore.disabled());
}

/**
 * The `X-Cache` a lone request to a cached route answers in this mode: `expected` with
 * Redis, `BYPASS` without (it computed, and nothing was stored).
 */
export function xCache(expected: "HIT" | "MISS"): string {
  return REDIS_ENABLED ? expected : "BYPASS";
}
