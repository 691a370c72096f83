/**
 * One process of a test fleet: a TimCacheC with a fill policy behind `GET /?key=…`.
 * The producer counts its runs in Redis (`runs:<key>`), records its pid
 * (`leader:<key>`) and each run's start (`starts:<key>`, a list of `<pid>:<epoch ms>`),
 * sleeps `producerMs`, then returns or throws (`mode`).
 *
 * Usage: deno run -A fleet_worker.ts <redis> <port> <producerMs> <ok|throw> <policy JSON>
 * (`<redis>`: a URL, or a cluster as made by `targetArg`).
 */
import { connectRedis, RedisStore, TimCacheC } from "../mod.ts";
import { parseTargetArg } from "../testing/redis_target.ts";

const [redisArg, port, producerMs, mode, policyJson] = Deno.args;
const target = parseTargetArg(redisArg);
const store = await RedisStore.connect(target, { log: () => {} });
const counter = (await connectRedis(target, { l1: false, log: () => {} })).client;

interface Value {
  key: string;
  v: string;
  by: number;
}
const cache = new TimCacheC<string, string, Value>("fleet", {
  uniquenessHashFromParams: (key) => key,
  versionHashFromParams: (v) => v,
  parseData: (d) => ({ shouldStore: true, uniquenessHash: d.key, versionHash: d.v }),
}, { store, fill: JSON.parse(policyJson), log: (line) => console.error(line) });

Deno.serve({
  port: Number(port),
  hostname: "127.0.0.1",
  onListen: () => console.log("ready"),
}, async (request) => {
  const key = new URL(request.url).searchParams.get("key") ?? "k";
  try {
    const result = await cache.getOrSet(key, "v1", async () => {
      await counter.incr(`runs:${key}`);
      // The start first: a test that sees `leader:<key>` and kills that process must find
      // its start recorded (in the other order a kill between the two lost it).
      await counter.rPush(`starts:${key}`, `${Deno.pid}:${Date.now()}`);
      await counter.set(`leader:${key}`, String(Deno.pid));
      await new Promise((r) => setTimeout(r, Number(producerMs)));
      if (mode === "throw") throw new Error("producer failed on purpose");
      return { key, v: "v1", by: Deno.pid };
    });
    return Response.json(result.value, { headers: { "x-cache": result.outcome.toUpperCase() } });
  } catch (error) {
    return Response.json({ error: String((error as Error).message) }, { status: 503 });
  }
});
