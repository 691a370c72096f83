/**
 * Reproduction: a fill-lock leader whose fenced write and release are refused (Redis
 * started refusing writes while it computed: `MISCONF` after an AOF write error, or
 * `OOM`) leaves its lock for `leaseMs`; the next `getOrSet` of the key follows that lock
 * until `waitMs` (the server's `po_items` policy: 45 s).
 *
 * Run: `deno run -A chaos/repro/lock_after_refused_release.ts` (about 50 s).
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

let started = performance.now();
const first = await cache.getOrSet("k", "1", async () => {
  // While the leader computes, the AOF stops being writable (a full disk): every write,
  // the fenced write and the release included, is refused with MISCONF.
  await redis.limitFileSize(1);
  await redis.cli("SET", "trigger", "1");
  return { k: "k" };
});
console.log(
  `leader: ${first.outcome} in ${Math.round(performance.now() - started)} ms; ` +
    `its lock has ${await redis.cli("PTTL", "{cache:repro:k}:lock")} ms left`,
);
await redis.limitFileSize("unlimited");
await new Promise((resolve) => setTimeout(resolve, 1500));
console.log(`writes accepted again: ${await redis.cli("SET", "probe", "1")}`);
started = performance.now();
const next = await cache.getOrSet("k", "1", () => Promise.resolve({ k: "k" }));
console.log(`the next read: ${next.outcome} in ${Math.round(performance.now() - started)} ms`);
await store.close();
