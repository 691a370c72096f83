/**
 * One process of the stampede benchmark: at `startAt` (epoch ms) it fires `callers`
 * concurrent read-through calls for one cold key through the library under test, with a
 * `producerMs` producer that counts its runs in Redis (`INCR runs:<key>`). Prints one JSON
 * line: every caller's latency in ms.
 *
 * Usage: deno run -A stampede_worker.ts <tim|bentocache|cache-manager> <redisUrl> <key>
 *   <callers> <producerMs> <startAt>
 */
import { createClient, type RedisClientType } from "redis";
import { RedisStore, TimCacheC } from "../lib/mod.ts";

const [library, redisUrl, key, callersText, producerMsText, startAtText] = Deno.args;
const callers = Number(callersText);
const producerMs = Number(producerMsText);
const counter = createClient({ url: redisUrl }) as unknown as RedisClientType;
await counter.connect();

const producer = async () => {
  await counter.incr(`runs:${key}`);
  await new Promise((r) => setTimeout(r, producerMs));
  return { key, v: "1", rows: Array.from({ length: 100 }, (_, i) => ({ i, value: i * 7 })) };
};
type Value = Awaited<ReturnType<typeof producer>>;

let call: () => Promise<unknown>;
let close = () => Promise.resolve();
if (library === "tim") {
  const store = await RedisStore.connect(redisUrl, { log: () => {} });
  const cache = new TimCacheC<string, string, Value>("stampede", {
    uniquenessHashFromParams: (k) => k,
    versionHashFromParams: (v) => v,
    parseData: (d) => ({ shouldStore: true, uniquenessHash: d.key, versionHash: d.v }),
  }, {
    store,
    fill: { leaseMs: 10_000, maxWaitMs: 60_000, pollMinMs: 5, pollMaxMs: 25 },
    log: () => {},
  });
  call = () => cache.getOrSet(key, "1", producer);
} else if (library === "bentocache") {
  const { BentoCache, bentostore } = await import("bentocache");
  const { redisDriver } = await import("bentocache/drivers/redis");
  const url = new URL(redisUrl);
  const bento = new BentoCache({
    default: "redis",
    stores: {
      redis: bentostore().useL2Layer(
        redisDriver({ connection: { host: url.hostname, port: Number(url.port) } }),
      ),
    },
  });
  call = () => bento.getOrSet({ key, factory: producer, ttl: "1h" });
  close = () => bento.disconnectAll();
} else if (library === "cache-manager") {
  const { createCache } = await import("cache-manager");
  const { Keyv } = await import("keyv");
  const { default: KeyvRedis } = await import("@keyv/redis");
  const cache = createCache({ stores: [new Keyv({ store: new KeyvRedis(redisUrl) })] });
  call = () => cache.wrap(key, producer, 3_600_000);
  close = () => cache.disconnect().then(() => {});
} else {
  throw new Error(`unknown library '${library}'`);
}

await new Promise((r) => setTimeout(r, Math.max(0, Number(startAtText) - Date.now())));
const latencies = await Promise.all(Array.from({ length: callers }, async () => {
  const started = performance.now();
  await call();
  return performance.now() - started;
}));
console.log(JSON.stringify({ latencies }));
await close().catch(() => {});
counter.destroy();
Deno.exit(0);
