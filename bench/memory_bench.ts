/**
 * Redis memory per cached presentation object: every presentation object of the demo
 * (full Kano load), its items computed by the model (`fetchPoItemsBody`: the `ok` answer as
 * Postgres's JSON text) and stored the way the server stores them (the `po_items` envelope:
 * the body with its hashes, under `{"versionHash","data"}`), once with the default compression (deflate-raw above 4 KiB)
 * and once with `compressAboveBytes: Infinity`. Reports `MEMORY USAGE` of each key.
 *
 * @module
 */
import { createClient, type RedisClientType } from "redis";
import { TimCacheC } from "../lib/mod.ts";
import type { Db } from "../server/db.ts";
import { type Cached, envelope, envelopeFuncs } from "../server/caches.ts";
import { DEMO_PROJECT_ID } from "../server/load/mod.ts";
import {
  fetchPoItemsBody,
  getPresentationObject,
  listPresentationObjects,
} from "../server/model/mod.ts";
import { markdownTable } from "./stats.ts";
import { isRawJson } from "../server/raw_json.ts";
import { RedisStore } from "../lib/mod.ts";

/** One presentation object's items in Redis. */
export interface MemoryRow {
  poId: string;
  label: string;
  items: number;
  /** Length of the stored entry's JSON, in bytes. */
  jsonBytes: number;
  /** `MEMORY USAGE` of the key stored uncompressed, in bytes. */
  plainBytes: number;
  /** `MEMORY USAGE` of the key stored with the default compression, in bytes. */
  compressedBytes: number;
  /** Whether the default configuration compressed it (JSON above 4 KiB). */
  compressed: boolean;
}

type Params = { projectId: string; resultsObjectId: string; fetch: unknown };
type Version = { lastRun: string | null };

/** Stores each presentation object's items both ways and measures the keys. */
export async function benchMemory(redisUrl: string, db: Db): Promise<MemoryRow[]> {
  const client = createClient({ url: redisUrl }) as unknown as RedisClientType;
  await client.connect();
  try {
    const make = (prefix: string, compressAboveBytes?: number) =>
      new TimCacheC<Params, Version, Cached<unknown>>(prefix, envelopeFuncs(), {
        store: RedisStore.over(() => client),
        compressAboveBytes,
        log: () => {},
      });
    const compressedCache = make("po_items");
    const plainCache = make("po_items_plain", Infinity);
    const [{ lastRun }] = await db.query<{ lastRun: string | null }>(
      `SELECT iso_ts(last_run) AS "lastRun" FROM modules WHERE project_id = $1 LIMIT 1`,
      [DEMO_PROJECT_ID],
    );
    const rows: MemoryRow[] = [];
    for (const summary of await listPresentationObjects(db, DEMO_PROJECT_ID)) {
      const detail = await getPresentationObject(db, DEMO_PROJECT_ID, summary.poId);
      if (!detail) throw new Error(`presentation object ${summary.poId} vanished`);
      const items = await fetchPoItemsBody(db, detail);
      const params = {
        projectId: DEMO_PROJECT_ID,
        resultsObjectId: detail.resultsObjectId,
        fetch: detail.config.fetch,
      };
      const version = { lastRun };
      const value = envelope(params, version, items as unknown);
      await compressedCache.setPromise(Promise.resolve(value), params, version);
      await plainCache.setPromise(Promise.resolve(value), params, version);
      const hash = value.uniquenessHash;
      const usage = async (key: string) => {
        const bytes = await client.sendCommand(["MEMORY", "USAGE", key, "SAMPLES", "0"]);
        if (bytes === null) throw new Error(`${key} was not stored`);
        return Number(bytes);
      };
      const json = JSON.stringify({ versionHash: value.versionHash, data: value });
      rows.push({
        poId: summary.poId,
        label: summary.label,
        items: isRawJson(items) ? JSON.parse(items.$json).items.length : 0,
        jsonBytes: new TextEncoder().encode(json).length,
        plainBytes: await usage(plainCache.keyFor(hash)),
        compressedBytes: await usage(compressedCache.keyFor(hash)),
        compressed: (await client.get(compressedCache.keyFor(hash)))!.startsWith("z1:"),
      });
    }
    return rows;
  } finally {
    client.destroy();
  }
}

/** Renders the rows with a total line. */
export function formatMemory(rows: MemoryRow[]): string {
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  const sum = (f: (r: MemoryRow) => number) => rows.reduce((s, r) => s + f(r), 0);
  return markdownTable([
    [
      "presentation object",
      "items",
      "entry JSON",
      "MEMORY USAGE plain",
      "MEMORY USAGE default",
      "saved",
    ],
    ...rows.map((r) => [
      r.label,
      r.items,
      kb(r.jsonBytes),
      kb(r.plainBytes),
      `${kb(r.compressedBytes)}${r.compressed ? " (deflated)" : " (below 4 KiB: plain)"}`,
      `${(100 * (1 - r.compressedBytes / r.plainBytes)).toFixed(0)}%`,
    ]),
    [
      `all ${rows.length}`,
      sum((r) => r.items),
      kb(sum((r) => r.jsonBytes)),
      kb(sum((r) => r.plainBytes)),
      kb(sum((r) => r.compressedBytes)),
      `${(100 * (1 - sum((r) => r.compressedBytes) / sum((r) => r.plainBytes))).toFixed(0)}%`,
    ],
  ]);
}

if (import.meta.main) {
  const { startRedis } = await import("../lib/testing/redis_server.ts");
  const { createKanoDatabase } = await import("./kano_db.ts");
  await using redis = await startRedis();
  const t0 = performance.now();
  await using kano = await createKanoDatabase();
  console.error(
    `loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    kano.summary.hmisRows,
  );
  console.log(formatMemory(await benchMemory(redis.url, kano.db)));
}
