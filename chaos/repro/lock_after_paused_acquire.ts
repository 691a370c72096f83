/**
 * Reproduction: a fill-lock `SET NX` whose reply missed the deadline still runs once Redis
 * answers again, and leaves the lock held with no process behind it.
 *
 * `CLIENT PAUSE 3000 WRITE`, one `getOrSet` of a cold key (its `SET NX` times out: the
 * request computes alone, `lock_error`), then, after the pause, the next `getOrSet` of the
 * key follows the orphan lock until `waitMs` (the server's `po_items` policy: 45 s).
 *
 * Run: `deno run -A chaos/repro/lock_after_paused_acquire.ts` (about 50 s).
 *
 * @module
 */
import { RedisStore, TimCacheC } from "../../lib/mod.ts";
import { SERVER_CACHES } from "../../server/cache_registry.ts";
import { startChaosRedis } from "../redis.ts";

await using redis = await startChaosRedis();
const store = await RedisStore.connect(redis.url, { log: () => {}, commandTimeoutMs: 1000 });
const cache = new TimCacheC<string, string, { k: string }>("repro", {
  uniquenessHashFromParams: (k) => k,
  versionHashFromParams: (v) => v,
  parseData: (d) => ({ shouldStore: true, uniquenessHash: d.k, versionHash: "1" }),
}, { store, fill: SERVER_CACHES.get("po_items")!.fill, log: (line) => console.log(line) });
const produce = () => Promise.resolve({ k: "k" });

await redis.cli("CLIENT", "PAUSE", "3000", "WRITE");
let started = performance.now();
const first = await cache.getOrSet("k", "1", produce);
console.log(`during the pause: ${first.outcome} in ${Math.round(performance.now() - started)} ms`);
await new Promise((resolve) => setTimeout(resolve, 3500));
console.log(
  `after the pause: lock ${await redis.cli("GET", "{cache:repro:k}:lock")}, ` +
    `${await redis.cli("PTTL", "{cache:repro:k}:lock")} ms left; ` +
    `data key exists: ${await redis.cli("EXISTS", "cache:repro:k")}`,
);
started = performance.now();
const next = await cache.getOrSet("k", "1", produce);
console.log(`the next read: ${next.outcome} in ${Math.round(performance.now() - started)} ms`);
await store.close();
