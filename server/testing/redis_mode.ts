/**
 * The server suite runs twice in CI: with Redis, and with `REDIS_ENABLED=false` (the cache
 * off entirely). Tests read the mode here: behaviour tests assert what each mode answers,
 * tests about Redis itself are skipped without it.
 *
 * @module
 */
import { initRedis, type RedisOptions } from "../../lib/mod.ts";

/** `false` when the suite runs with `REDIS_ENABLED=false`. */
export const REDIS_ENABLED = (Deno.env.get("REDIS_ENABLED") ?? "true").toLowerCase() !== "false";

/** Connects the process's Redis when the suite runs with Redis; leaves caching off otherwise. */
export async function initTestRedis(url: string, options: RedisOptions = {}): Promise<void> {
  await initRedis(REDIS_ENABLED ? url : "", { log: () => {}, ...options });
}

/**
 * The `X-Cache` a lone request to a cached route answers in this mode: `expected` with
 * Redis, `BYPASS` without (it computed, and nothing was stored).
 */
export function xCache(expected: "HIT" | "MISS"): string {
  return REDIS_ENABLED ? expected : "BYPASS";
}
