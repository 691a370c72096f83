/**
 * The national benchmark's warm-up (`bench/national_bench.ts`): on the running app and its
 * sized Redis, each demo presentation object once (cold: each must be a 200 MISS), then filler
 * objects `--concurrency` at a time until Redis's `used_memory` reaches `--cache-mib`; then the
 * warm Redis measured: memory, keys, AOF size, evicted keys, and a `BGREWRITEAOF` (its time
 * and the AOF size after it).
 *
 * @module
 */
import { DEMO_PROJECT_ID, demoProject } from "../server/load/mod.ts";
import type { NationalOptions } from "./national_bench.ts";
import type { FillerObject } from "./national_db.ts";
import { type AddRow, fmtBytes, fmtMs, log, MIB } from "./national_report.ts";
import {
  type AppProcess,
  dirBytes,
  itemsPath,
  type RedisProcess,
  type Timed,
  timedGet,
} from "./national_services.ts";
import { quantile } from "./stats.ts";

/** What the warm-up leaves for the phases after it. Durations in milliseconds. */
export interface WarmSet {
  /** The demo project's presentation object ids, in its order. */
  demo: string[];
  /** Each demo object's cold request (a 200 MISS), by id. */
  cold: Map<string, Timed>;
  /** How many filler objects were requested: the first `warmed` of the fillers. */
  warmed: number;
  /** The filler objects' cold request times. */
  fillerCold: number[];
  /** Redis `INFO` once warm (before the AOF rewrite). */
  warm: Map<string, string>;
}

/** Runs `fn` over `items` with `concurrency` workers, in order, until `fn` returns true. */
async function pool<T>(
  items: T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<boolean>,
): Promise<number> {
  let next = 0;
  let stop = false;
  let done = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (!stop && next < items.length) {
      const i = next++;
      if (await fn(items[i], i)) stop = true;
      done++;
    }
  }));
  return done;
}

/**
 * Warms the cache from empty and measures it, adding a row per figure.
 *
 * @param o The benchmark's options (`cacheMib`, `concurrency`, `projects`, `sizedMaxmemory`,
 *   `dir`).
 * @param services The running app and its Redis (empty).
 * @param fillers The filler objects, in the order they are warmed.
 * @param add Where the rows go.
 * @returns The demo objects' cold requests, how many fillers were warmed, Redis once warm.
 * @throws {Error} If a cold demo request is not a 200 MISS or filler requests failed.
 */
export async function warmUp(
  o: Pick<NationalOptions, "cacheMib" | "concurrency" | "projects" | "sizedMaxmemory" | "dir">,
  { app, redis }: { app: AppProcess; redis: RedisProcess },
  fillers: FillerObject[],
  add: AddRow,
): Promise<WarmSet> {
  const demo = demoProject([]).presentationObjects.map((p) => p.poId);
  const cold = new Map<string, Timed>();
  const curl = (path: string) => `curl -sD- -o /dev/null $APP${path}`;
  let demoTotal = 0;
  for (const poId of demo) {
    const r = await timedGet(app.url + itemsPath(DEMO_PROJECT_ID, poId));
    if (r.status !== 200 || r.xCache !== "MISS") {
      throw new Error(`cold ${poId}: ${r.status} ${r.xCache}\n${app.tail()}`);
    }
    cold.set(poId, r);
    demoTotal += r.ms;
    log(`cold ${poId}: ${fmtMs(r.ms)} (${r.bytes} bytes)`);
    add(
      `cold \`${poId}\` (MISS, ${(r.bytes / 1024).toFixed(1)} KiB)`,
      fmtMs(r.ms),
      curl(itemsPath(DEMO_PROJECT_ID, poId)) + " (empty cache)",
    );
  }
  add(
    `cold, the ${demo.length} demo objects one after another`,
    fmtMs(demoTotal),
    "the sum of the rows above",
  );

  const targetBytes = o.cacheMib * MIB;
  let usedBytes = Number((await redis.info()).get("used_memory"));
  let warmed = 0;
  let fillerBytes = 0;
  const fillerCold: number[] = [];
  const tFill = performance.now();
  const failures: string[] = [];
  await pool(fillers, o.concurrency, async (f, i) => {
    const r = await timedGet(app.url + itemsPath(f.projectId, f.poId));
    if (r.status !== 200) failures.push(`${f.poId}: ${r.status} ${r.xCache}`);
    warmed++;
    fillerBytes += r.bytes;
    fillerCold.push(r.ms);
    if (i % 25 === 24) {
      usedBytes = Number((await redis.info()).get("used_memory"));
      log(`warm-up: ${warmed} filler objects, Redis used_memory ${fmtBytes(usedBytes)}`);
    }
    return usedBytes >= targetBytes || failures.length > 10;
  });
  const fillMs = performance.now() - tFill;
  if (failures.length > 0) throw new Error(`filler requests failed: ${failures.join("; ")}`);
  add(
    `warm-up of the whole set: ${demo.length} demo + ${warmed.toLocaleString("en-US")} ` +
      `filler objects (${o.projects} projects, ${o.concurrency} at a time, ` +
      `${fmtBytes(fillerBytes)} of JSON)`,
    `${fmtMs(demoTotal + fillMs)} (filler cold p50 ${fmtMs(quantile(fillerCold, 0.5))}, ` +
      `p99 ${fmtMs(quantile(fillerCold, 0.99))})`,
  );

  // --- Warm Redis -------------------------------------------------------------------------
  for (let i = 0; i < 600; i++) {
    if ((await redis.info()).get("aof_rewrite_in_progress") === "0") break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const warm = await redis.info();
  const keys = Number(warm.get("db0")?.match(/keys=(\d+)/)?.[1] ?? 0);
  const aofBytes = await dirBytes(`${o.dir}/appendonlydir`);
  const used = Number(warm.get("used_memory"));
  add(
    `Redis used_memory once warm (${keys.toLocaleString("en-US")} keys, ` +
      `${(used / (demo.length + warmed) / 1024).toFixed(0)} KiB per object)`,
    `${fmtBytes(used)} (peak ${fmtBytes(Number(warm.get("used_memory_peak")))}, ` +
      `RSS ${fmtBytes(Number(warm.get("used_memory_rss")))})`,
    "redis-cli -p $REDIS_PORT INFO memory   # used_memory, used_memory_peak, used_memory_rss",
  );
  add("AOF size once warm", fmtBytes(aofBytes), "du -sb $REDIS_DIR/appendonlydir");
  const evictedSized = Number(warm.get("evicted_keys"));
  add(
    `evicted keys under a sized maxmemory (${o.sizedMaxmemory})`,
    String(evictedSized),
    "redis-cli -p $REDIS_PORT INFO stats   # evicted_keys",
  );
  const tRewrite = performance.now();
  await redis.cli("BGREWRITEAOF");
  await new Promise((r) => setTimeout(r, 200));
  for (let i = 0; i < 1200; i++) {
    const info = await redis.info();
    if (
      info.get("aof_rewrite_in_progress") === "0" && info.get("aof_rewrite_scheduled") === "0"
    ) {
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const rewriteMs = performance.now() - tRewrite;
  const aofAfter = await dirBytes(`${o.dir}/appendonlydir`);
  add(
    "AOF rewrite (BGREWRITEAOF) time, and the AOF size after it",
    `${fmtMs(rewriteMs)}, ${fmtBytes(aofAfter)}`,
    "redis-cli -p $REDIS_PORT BGREWRITEAOF; du -sb $REDIS_DIR/appendonlydir",
  );
  return { demo, cold, warmed, fillerCold, warm };
}
