/**
 * A test process with this library's caches behind HTTP, on the Redis at <redisUrl>:
 *
 * - `GET /memo?key=&now=` — StaleWhileRevalidate.memo with the clock fixed at `now`
 *   (window 60 s); the producer counts runs in Redis (`INCR swr_runs:<key>`), takes
 *   300 ms, and returns `{ run, by: pid }`.
 * - `GET /get?key=` — TimCacheC("l1test").get(key, "any_version") through the L1; the
 *   `x-l1-hits` header tells the L1's hit count.
 *
 * Usage: deno run -A cache_worker.ts <redis> <port> (`<redis>`: a URL, or a cluster as made
 * by `targetArg`).
 */
import { ANY_VERSION, connectRedis, RedisStore, TimCacheC } from "../mod.ts";
import { StaleWhileRevalidate } from "../stale_while_revalidate.ts";
import { parseTargetArg } from "../testing/redis_target.ts";

const [redisArg, port] = Deno.args;
const target = parseTargetArg(redisArg);
const store = await RedisStore.connect(target, { log: () => {}, l1: { ttlMs: 600_000 } });
const counter = (await connectRedis(target, { l1: false, log: () => {} })).client;

let now = 0;
const swr = new StaleWhileRevalidate({ tenant: "fleet", store, clock: () => now, log: () => {} });
const cache = new TimCacheC<string, string, { key: string; v: string; n: number }>("l1test", {
  uniquenessHashFromParams: (k) => k,
  versionHashFromParams: (v) => v,
  parseData: (d) => ({ shouldStore: true, uniquenessHash: d.key, versionHash: d.v }),
}, { store, log: () => {} });

Deno.serve(
  { port: Number(port), hostname: "127.0.0.1", onListen: () => console.log("ready") },
  async (request) => {
    const url = new URL(request.url);
    const key = url.searchParams.get("key") ?? "k";
    if (url.pathname === "/memo") {
      now = Number(url.searchParams.get("now"));
      const started = performance.now();
      const result = await swr.memo(key, 60_000, async () => {
        const run = await counter.incr(`swr_runs:${key}`);
        await new Promise((r) => setTimeout(r, 300));
        return { run, by: Deno.pid };
      });
      return Response.json({ ...result, ms: performance.now() - started });
    }
    const value = await cache.get(key, ANY_VERSION);
    return Response.json(value ?? null, {
      headers: {
        "x-l1-hits": String(store.l1?.stats().hits ?? 0),
        "x-l1": JSON.stringify({ ...store.l1?.stats(), epoch: store.l1?.epoch }),
      },
    });
  },
);
