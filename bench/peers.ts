/**
 * The libraries the L2 benchmarks compare, each set up against the same redis-server with
 * its Redis store only (no memory tier), each on its own connection, each holding the same
 * warm values under its own keys:
 *
 * | id                   | read path measured                                          |
 * | -------------------- | ----------------------------------------------------------- |
 * | `raw`                | node-redis `GET` + `JSON.parse` (the floor)                 |
| `raw_shared`         | the same, one shared promise per key while its `GET` is out |
 * | `tim`                | `TimCacheC.getOrSet` hit, L1 off, default compression       |
 * | `tim_plain`          | the same with `compressAboveBytes: Infinity`                |
 * | `bentocache`         | BentoCache `getOrSet`, L2 layer only (ioredis driver)       |
 * | `cache-manager`      | cache-manager `wrap` over Keyv + `@keyv/redis`              |
 * | `async-cache-dedupe` | a defined function, Redis storage (ioredis client)          |
 *
 * @module
 */
import { createClient, type RedisClientType } from "redis";
import { TimCacheC } from "../lib/mod.ts";
import { RedisStore } from "../lib/mod.ts";

/** The libraries {@linkcode createPeer} knows. */
export const PEER_IDS = [
  "raw",
  "raw_shared",
  "tim",
  "tim_plain",
  "bentocache",
  "cache-manager",
  "async-cache-dedupe",
] as const;

/** One of {@linkcode PEER_IDS}. */
export type PeerId = typeof PEER_IDS[number];

/** Table labels of the peers. */
export const PEER_LABELS: Record<PeerId, string> = {
  raw: "raw node-redis GET + JSON.parse",
  raw_shared: "raw node-redis GET + JSON.parse, shared per key",
  tim: "TimCacheC (L1 off)",
  tim_plain: "TimCacheC (L1 off, no compression)",
  bentocache: "BentoCache (L2 only)",
  "cache-manager": "cache-manager + @keyv/redis",
  "async-cache-dedupe": "async-cache-dedupe (redis)",
};

/** A library with `keys` warm values, read through its own read path. */
export interface Peer {
  id: PeerId;
  /**
   * Reads warm key number `index` (0 ≤ index < keys) through the library's read-through
   * call and resolves with what that call resolves with: the value, or for `TimCacheC` its
   * `CacheResult` (`{ value, outcome, ... }`; a caller reads `.value` after its one `await`,
   * so the benchmark does not add a `.then` to unwrap it). {@linkcode valueOfRead} unwraps.
   */
  read(index: number): Promise<unknown>;
  /** Closes its connections. */
  close(): Promise<void>;
}

/** A value stored by every peer: the payload plus the key and version it belongs to. */
export type BenchValue = Record<string, unknown> & { id: string; v: string };

const HOUR_S = 3600;

/**
 * Creates one peer and stores `keys` values through its own write path (so each reads
 * what it wrote itself, in its own format).
 *
 * @param payload The JSON value each key holds (with the key's id added).
 * @param keys How many distinct keys to warm.
 */
export async function createPeer(
  id: PeerId,
  redisUrl: string,
  payload: Record<string, unknown>,
  keys = 1,
): Promise<Peer> {
  const peer = await openPeer(id, redisUrl, payload, keys);
  // Each peer must read back exactly what it was given, from its own keys.
  const want = JSON.stringify(payload).length;
  for (let i = 0; i < keys; i++) {
    const value = valueOfRead(peer.id, await peer.read(i)) as BenchValue;
    const got = JSON.stringify(value).length;
    if (!value?.id?.endsWith(`-k${i}`) || Math.abs(got - want) > 64) {
      await peer.close();
      throw new Error(`${id} read back a wrong value for key ${i} (${got} bytes, want ${want})`);
    }
  }
  return peer;
}

/** The value a {@linkcode Peer.read} resolved with (`TimCacheC`'s `CacheResult` unwrapped). */
export function valueOfRead(id: PeerId, read: unknown): unknown {
  return id === "tim" || id === "tim_plain" ? (read as { value: unknown }).value : read;
}

async function openPeer(
  id: PeerId,
  redisUrl: string,
  payload: Record<string, unknown>,
  keys: number,
): Promise<Peer> {
  // Names carry the value's size: a peer made for another size must not find these warm.
  const size = JSON.stringify(payload).length;
  const names = Array.from({ length: keys }, (_, i) => `${id}-${size}-k${i}`);
  const values: BenchValue[] = names.map((name) => ({ ...payload, id: name, v: "1" }));
  const url = new URL(redisUrl);
  const ioredisOptions = { host: url.hostname, port: Number(url.port) };

  if (id === "raw") {
    const client = createClient({ url: redisUrl }) as unknown as RedisClientType;
    await client.connect();
    const rawKeys = names.map((name) => `raw:${name}`);
    for (const [i, key] of rawKeys.entries()) await client.set(key, JSON.stringify(values[i]));
    return {
      id,
      read: async (i) => JSON.parse((await client.get(rawKeys[i])) as string),
      close: () => Promise.resolve(client.destroy()),
    };
  }

  if (id === "raw_shared") {
    // The floor of in-process joining over node-redis: concurrent reads of a key share one
    // promise (async-cache-dedupe's dedupe), dropped before its callers resume.
    const client = createClient({ url: redisUrl }) as unknown as RedisClientType;
    await client.connect();
    const rawKeys = names.map((name) => `raw:${name}`);
    for (const [i, key] of rawKeys.entries()) await client.set(key, JSON.stringify(values[i]));
    const reads = new Map<number, Promise<unknown>>();
    return {
      id,
      read: (i) => {
        let read = reads.get(i);
        if (read) return read;
        read = client.get(rawKeys[i]).then((raw) => JSON.parse(raw as string));
        const drop = () => reads.delete(i);
        read.then(drop, drop);
        reads.set(i, read);
        return read;
      },
      close: () => Promise.resolve(client.destroy()),
    };
  }

  if (id === "tim" || id === "tim_plain") {
    const client = createClient({ url: redisUrl }) as unknown as RedisClientType;
    await client.connect();
    const cache = new TimCacheC<string, string, BenchValue>(`bench_l2_${id}`, {
      uniquenessHashFromParams: (k) => k,
      versionHashFromParams: (v) => v,
      parseData: (d) => ({ shouldStore: true, uniquenessHash: d.id, versionHash: d.v }),
    }, {
      store: RedisStore.over(() => client), // an explicit client: no L1
      l1: false,
      compressAboveBytes: id === "tim_plain" ? Infinity : undefined,
      log: () => {},
    });
    for (const [i, name] of names.entries()) {
      await cache.getOrSet(name, "1", () => Promise.resolve(values[i]));
    }
    const produce = () => Promise.reject(new Error("benchmark read missed"));
    return {
      id,
      // As the other peers: the library's own promise (no async frame or `.then` of ours).
      read: (i) => cache.getOrSet(names[i], "1", produce),
      close: async () => {
        await client.ping().catch(() => {}); // let background TTL refreshes land
        client.destroy();
      },
    };
  }

  if (id === "bentocache") {
    const { BentoCache, bentostore } = await import("bentocache");
    const { redisDriver } = await import("bentocache/drivers/redis");
    const bento = new BentoCache({
      default: "redis",
      stores: { redis: bentostore().useL2Layer(redisDriver({ connection: ioredisOptions })) },
    });
    for (const [i, key] of names.entries()) await bento.set({ key, value: values[i], ttl: "1h" });
    const factory = () => {
      throw new Error("benchmark read missed");
    };
    return {
      id,
      read: (i) => bento.getOrSet({ key: names[i], factory, ttl: "1h" }),
      close: () => bento.disconnectAll(),
    };
  }

  if (id === "cache-manager") {
    const { createCache } = await import("cache-manager");
    const { Keyv } = await import("keyv");
    const { default: KeyvRedis } = await import("@keyv/redis");
    const cache = createCache({ stores: [new Keyv({ store: new KeyvRedis(redisUrl) })] });
    for (const [i, key] of names.entries()) await cache.set(key, values[i], HOUR_S * 1000);
    const missed = () => Promise.reject(new Error("benchmark read missed"));
    return {
      id,
      read: (i) => cache.wrap(names[i], missed, HOUR_S * 1000),
      close: () => cache.disconnect().then(() => {}),
    };
  }

  if (id === "async-cache-dedupe") {
    const { createCache } = await import("async-cache-dedupe");
    const { Redis } = await import("ioredis");
    const client = new Redis(ioredisOptions);
    const cache = createCache({
      ttl: HOUR_S,
      storage: { type: "redis", options: { client } },
    });
    let warming = true;
    let warmIndex = 0;
    cache.define("benchValue", (name: string) => {
      if (!warming) return Promise.reject(new Error(`benchmark read missed (${name})`));
      return Promise.resolve(values[warmIndex]);
    });
    // deno-lint-ignore no-explicit-any
    const read = (cache as any).benchValue as (name: string) => Promise<unknown>;
    for (warmIndex = 0; warmIndex < names.length; warmIndex++) await read(names[warmIndex]);
    warming = false;
    return {
      id,
      read: (i) => read(names[i]),
      close: () => Promise.resolve(client.disconnect()),
    };
  }

  throw new TypeError(`Cannot create peer: unknown library '${id}'`);
}
