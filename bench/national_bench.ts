/**
 * National-scale benchmark (issue 16): the real GRID3 Kano facility list replicated to
 * Nigeria's size, served by the real app (`server/main.ts`, a child process) on its own
 * redis-server (the redis.conf `wb` writes, AOF on) and its own database, through a cold
 * warm-up of at least 1 GiB of cache, a restart that reads that AOF back, and the default
 * `maxmemory`.
 *
 * ```sh
 * deno task bench:national [--scale 27] [--months 48] [--reuse] [--projects 8] [--cache-mib 1024]
 * ```
 *
 * Prints one Markdown table; every figure has the command that reproduces it. Not part of
 * `deno task test`: a full run (`--scale 27`) loads about 27 M HMIS rows and 1 GiB of cache.
 *
 * Steps: load (or `--reuse`) the database `wb_national_s<scale>`; seed the filler projects;
 * start Redis (maxmemory `--sized-maxmemory`, default 4gb) and the app; request each demo
 * presentation object once (cold: MISS), then filler objects (2 at a time) until Redis holds
 * `--cache-mib`; read memory and AOF size; restart Redis and the app together as `wb restart`
 * does, probing the app while Redis reads its AOF; request every demo object `--samples` times,
 * then for 10 s with `wrk -c1`, and sampled filler objects once (all must be HIT); finally set
 * `maxmemory 256mb` (wb's default) on the warm Redis and count what is evicted and what is
 * still a HIT.
 *
 * The database and the filler projects are in `national_db.ts`, Redis and the app as child
 * processes in `national_services.ts`, the warm-up and the warm Redis's figures in
 * `national_warmup.ts`, the table's formatting in `national_report.ts`; this file has the
 * command line and runs the phases in order (the ones from the restart on are written here).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { DEMO_PROJECT_ID } from "../server/load/mod.ts";
import { openNationalDatabase, seedFillerProjects } from "./national_db.ts";
import { hitsUnderColdLoad } from "./national_hits.ts";
import { countBy, fmtBytes, fmtMs, log, MIB } from "./national_report.ts";
import {
  type AppProcess,
  itemsPath,
  redisSpec,
  startApp,
  startRedisProcess,
  type Timed,
  timedGet,
  waitAppHealthy,
  waitRedisReady,
} from "./national_services.ts";
import { warmUp } from "./national_warmup.ts";
import { markdownTable, quantile } from "./stats.ts";
import { ensureWrk, wrk } from "./wrk.ts";

const SERVER_TIMING_LUA = new URL("./server_timing.lua", import.meta.url).pathname;

/** Options of the benchmark (the command line). */
export interface NationalOptions {
  /** Copies of the Kano list (27 ≈ Nigeria). @default {27} */
  scale: number;
  /** Months of HMIS data. @default {48} */
  months: number;
  /** Keep a database already loaded with this scale and months. @default {false} */
  reuse: boolean;
  /** Filler projects seeded. @default {8} */
  projects: number;
  /** Warm until Redis `used_memory` reaches this, in MiB. @default {1024} */
  cacheMib: number;
  /** `maxmemory` of the sized Redis the warm-up runs on. @default {"4gb"} */
  sizedMaxmemory: string;
  /** Requests per demo object after the restart. @default {100} */
  samples: number;
  /** Concurrent warm-up requests. @default {2} */
  concurrency: number;
  /** Redis's directory (wiped at the start). @default {"/tmp/wb_national_redis"} */
  dir: string;
  /**
   * The app's `FILL_CONCURRENCY` in each run of the hits-under-cold-load rows, in order (the
   * app restarted for each; 10 is the pool, as if unbounded). @default {[10, 2, 1]}
   */
  fillConcurrency: number[];
}

const USAGE = `Usage: deno task bench:national [--scale N] [--months M] [--reuse] [--projects P]
  [--cache-mib MiB] [--sized-maxmemory 4gb] [--samples N] [--concurrency C] [--dir DIR]
  [--fill-concurrency 10,2,1]`;

/** Parses the command line (a leading `--` is dropped). */
export function parseNationalArgs(args: string[]): NationalOptions | undefined {
  const { values } = parseArgs({
    args: args[0] === "--" ? args.slice(1) : args,
    options: {
      scale: { type: "string", default: "27" },
      months: { type: "string", default: "48" },
      reuse: { type: "boolean", default: false },
      projects: { type: "string", default: "8" },
      "cache-mib": { type: "string", default: "1024" },
      "sized-maxmemory": { type: "string", default: "4gb" },
      samples: { type: "string", default: "100" },
      concurrency: { type: "string", default: "2" },
      dir: { type: "string", default: "/tmp/wb_national_redis" },
      "fill-concurrency": { type: "string", default: "10,2,1" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const int = (name: string, v: string) => {
    if (!/^\d+$/.test(v) || Number(v) < 1) {
      throw new RangeError(`--${name} must be a positive integer (got "${v}")`);
    }
    return Number(v);
  };
  return {
    scale: int("scale", values.scale),
    months: int("months", values.months),
    reuse: values.reuse,
    projects: int("projects", values.projects),
    cacheMib: int("cache-mib", values["cache-mib"]),
    sizedMaxmemory: values["sized-maxmemory"],
    samples: int("samples", values.samples),
    concurrency: int("concurrency", values.concurrency),
    dir: values.dir,
    fillConcurrency: values["fill-concurrency"].split(",").map((v) =>
      int("fill-concurrency", v.trim())
    ),
  };
}

/**
 * Runs the benchmark and returns the Markdown table (and notes).
 *
 * @param o The options.
 * @param rows Where the table's rows go as they are measured (header first); a caller that
 *   catches an error can still print what was measured before it.
 * @throws {Error} If a service does not come up, a cold request is not a 200 MISS, or a filler
 *   request fails.
 */
export async function runNational(
  o: NationalOptions,
  rows: string[][] = [],
): Promise<string> {
  rows.push(["measure", "value", "command that reproduces it"]);
  const notes: string[] = [];
  const bench = `deno task bench:national --scale ${o.scale} --reuse`;
  const add = (measure: string, value: string, command = bench) =>
    rows.push([measure, value, command]);

  // --- Load ---------------------------------------------------------------------------------
  await using nat = await openNationalDatabase({
    scale: o.scale,
    months: o.months,
    reuse: o.reuse,
    log,
  });
  add(
    `load (${nat.facilities.toLocaleString("en-US")} facilities, ${o.months} months, ` +
      `${nat.hmisRows.toLocaleString("en-US")} HMIS rows, module run ` +
      `${nat.resultsRows.toLocaleString("en-US")} rows; COPY)`,
    `${fmtMs(nat.loadMs)} (COPY + indexes ${fmtMs(nat.loadSplit.load)}, ANALYZE ` +
      `${fmtMs(nat.loadSplit.analyze)}, module run ${fmtMs(nat.loadSplit.module)})` +
      (nat.loaded ? "" : `; loaded ${nat.loadedAt.slice(0, 16)}Z, reused`),
    `DATABASE_URL=${nat.url} deno task load --scale ${o.scale} --months ${o.months}`,
  );
  const fillers = await seedFillerProjects(nat.db, o.projects);
  log(`${fillers.length} filler presentation objects in ${o.projects} projects`);

  // --- Cold warm-up on a sized Redis --------------------------------------------------------
  await Deno.remove(o.dir, { recursive: true }).catch(() => {});
  const spec = redisSpec(o.dir, o.sizedMaxmemory);
  let redis = await startRedisProcess(spec);
  await waitRedisReady(redis, 30_000);
  let app: AppProcess = startApp({ databaseUrl: nat.url, redisUrl: redis.url });
  const cleanup: (() => Promise<void>)[] = [() => app.stop(), () => redis.stop()];
  try {
    await waitAppHealthy(app);
    const { demo, cold, warmed, fillerCold, warm } = await warmUp(o, { app, redis }, fillers, add);

    // --- Restart ----------------------------------------------------------------------------
    log("restart: stopping the app and Redis");
    await app.stop();
    await redis.stop();
    const t0 = performance.now();
    redis = await startRedisProcess(spec);
    app = startApp({ databaseUrl: nat.url, redisUrl: redis.url });
    const redisReady = waitRedisReady(redis);
    const appReady = waitAppHealthy(app, 600_000);
    // Probe: the cheapest demo object, one request at a time from the moment the app answers,
    // until a HIT with Redis loaded.
    const probePo = [...cold].sort((a, b) => a[1].ms - b[1].ms)[0][0];
    const probes: Timed[] = [];
    let redisReadyAt = Infinity;
    redisReady.then((r) => redisReadyAt = r.readyAt, () => {});
    const appAt = await appReady;
    let firstHitAt = NaN;
    while (performance.now() - t0 < 600_000) {
      const r = await timedGet(app.url + itemsPath(DEMO_PROJECT_ID, probePo), 120_000);
      probes.push(r);
      if (r.xCache === "HIT") {
        firstHitAt = r.sentAt + r.ms;
        break;
      }
      await new Promise((res) => setTimeout(res, 50));
    }
    const { readyAt, sawLoading } = await redisReady;
    const redisLog = await redis.log();
    const loadedLine = [...redisLog.matchAll(/DB loaded from append only file: ([\d.]+) seconds/g)]
      .at(-1);
    const aofLoadS = loadedLine ? Number(loadedLine[1]) : NaN;
    add(
      "restart: Redis AOF load (spawn to PONG; Redis's own log line in brackets)",
      `${fmtMs(readyAt - t0)} [${aofLoadS.toFixed(3)} s]` +
        (sawLoading ? ", answered LOADING meanwhile" : ""),
      "redis-server $REDIS_DIR/redis.conf; grep 'DB loaded' $REDIS_DIR/redis.log",
    );
    add(
      "restart: app start (spawn to /healthz 200, started together with Redis)",
      fmtMs(appAt - t0),
      "deno run -A server/main.ts (DATABASE_URL, REDIS_URL set)",
    );
    add("restart: both ready", fmtMs(Math.max(appAt, readyAt) - t0), bench);
    add(
      `time to first HIT after the restart (\`${probePo}\`, polled)`,
      Number.isNaN(firstHitAt) ? "no HIT within 600 s" : fmtMs(firstHitAt - t0),
      bench,
    );
    const during = probes.filter((p) => p.sentAt < redisReadyAt);
    const bad = during.filter((p) => p.status === 0 || p.status >= 500);
    add(
      "requests sent while Redis was loading the AOF",
      during.length === 0
        ? "none (the app answered /healthz only after Redis had loaded)"
        : `${countBy(during)}; slowest ${fmtMs(Math.max(...during.map((p) => p.ms)))}` +
          (bad.length > 0 ? ` (${bad.length} failed or 5xx)` : ", no 5xx, no hang"),
      bench,
    );

    // --- After the restart: every demo object, sampled fillers --------------------------------
    // Each object: `--samples` requests one after another from this process (the first is read
    // from Redis, the rest from the app's L1; a just-started app still compiles its hit path),
    // then 10 s of `wrk -c1` (one connection, one request at a time), whose p99 is the figure
    // compared with the cold time; `server_timing.lua` counts the HITs among its answers.
    const wrkMissing = await ensureWrk();
    for (const poId of demo) {
      const url = app.url + itemsPath(DEMO_PROJECT_ID, poId);
      const results: Timed[] = [];
      for (let i = 0; i < o.samples; i++) results.push(await timedGet(url));
      const times = results.map((r) => r.ms);
      const hits = results.filter((r) => r.status === 200 && r.xCache === "HIT").length;
      const c = cold.get(poId)!.ms;
      add(
        `after restart \`${poId}\`: first read, then p50 / p99 of ${results.length} requests ` +
          `one after another (${hits}/${results.length} HIT; cold/p99)`,
        `${fmtMs(times[0])}; ${fmtMs(quantile(times, 0.5))} / ${fmtMs(quantile(times, 0.99))} ` +
          `(${(c / quantile(times, 0.99)).toFixed(0)}x)`,
        bench,
      );
      if (wrkMissing) {
        notes.push(`- wrk rows skipped: ${wrkMissing}`);
        continue;
      }
      const run = await wrk(url, 1, 10, SERVER_TIMING_LUA);
      const [responses, wrkHits] = (run.timing ?? "").split(" ").slice(1, 3).map(Number);
      add(
        `after restart \`${poId}\`: p50 / p99 of 10 s on one connection ` +
          `(${wrkHits}/${responses} HIT, ${run.errors} errors; cold/p99)`,
        `${fmtMs(run.p50Ms)} / ${fmtMs(run.p99Ms)} (${(c / run.p99Ms).toFixed(0)}x)`,
        `wrk -t1 -c1 -d10s --latency -s bench/server_timing.lua $APP${
          itemsPath(DEMO_PROJECT_ID, poId)
        }`,
      );
    }
    const fillerSample = fillers.slice(0, warmed).filter((_, i) =>
      i % Math.max(1, Math.floor(warmed / 200)) === 0
    );
    const fillerAfter: Timed[] = [];
    for (const f of fillerSample) {
      fillerAfter.push(await timedGet(app.url + itemsPath(f.projectId, f.poId)));
    }
    const fTimes = fillerAfter.map((r) => r.ms);
    const fHits = fillerAfter.filter((r) => r.status === 200 && r.xCache === "HIT").length;
    add(
      `after restart, ${fillerSample.length} filler objects once each (first read, from Redis): ` +
        `p50 / p99 (${fHits}/${fillerSample.length} HIT; filler cold p50/p99)`,
      `${fmtMs(quantile(fTimes, 0.5))} / ${fmtMs(quantile(fTimes, 0.99))} ` +
        `(${(quantile(fillerCold, 0.5) / quantile(fTimes, 0.99)).toFixed(0)}x)`,
      bench,
    );

    // --- Hits while cold computations occupy Postgres -----------------------------------------
    // The app's hits and a control's (a bare route doing one Redis GET of the same bytes, its
    // own process) in turn, idle then while 10 cold computations run: the control shows what
    // the machine alone does to a request's latency under that load (2 cores: the run queue,
    // steal), the app's excess over it is the app's own. Once per `FILL_CONCURRENCY` (the app
    // restarted with it), each run on cold objects of its own.
    const hitPo = "po_indicators_2024";
    const unwarmed = fillers.slice(warmed);
    const perRun = Math.floor(unwarmed.length / o.fillConcurrency.length);
    for (const [run, fillConcurrency] of o.fillConcurrency.entries()) {
      await app.stop();
      app = startApp({ databaseUrl: nat.url, redisUrl: redis.url, fillConcurrency });
      await waitAppHealthy(app);
      await hitsUnderColdLoad(
        app,
        redis,
        nat.url,
        hitPo,
        unwarmed.slice(run * perRun, (run + 1) * perRun),
        fillConcurrency,
        (measure, value) => add(measure, value, bench),
      );
    }

    // --- Redis restarted under a running app: requests while it loads the AOF ---------------
    const probeSet = [...cold].sort((a, b) => a[1].ms - b[1].ms).slice(0, 3).map(([id]) => id);
    const t1 = performance.now();
    await redis.stop();
    const stoppedAt = performance.now();
    redis = await startRedisProcess(spec);
    const reloading = waitRedisReady(redis);
    let reloadedAt = Infinity;
    reloading.then((r) => reloadedAt = r.readyAt, () => {});
    const underLoad: Timed[] = [];
    for (let i = 0; performance.now() < reloadedAt; i++) {
      const poId = probeSet[i % probeSet.length];
      underLoad.push(await timedGet(app.url + itemsPath(DEMO_PROJECT_ID, poId), 120_000));
    }
    const reload = await reloading;
    const whileLoading = underLoad.filter((p) =>
      p.sentAt >= stoppedAt && p.sentAt < reload.readyAt
    );
    const failed = whileLoading.filter((p) => p.status === 0 || p.status >= 500);
    add(
      `Redis restarted under the running app (shutdown ${fmtMs(stoppedAt - t1)}, AOF load to ` +
        `PONG ${fmtMs(reload.readyAt - stoppedAt)}): requests sent while it loaded`,
      `${countBy(whileLoading)}; p50 ${fmtMs(quantile(whileLoading.map((r) => r.ms), 0.5))}, ` +
        `slowest ${fmtMs(Math.max(0, ...whileLoading.map((r) => r.ms)))}` +
        (failed.length > 0 ? `; ${failed.length} failed or 5xx` : "; no 5xx, no hang"),
      "redis-cli -p $REDIS_PORT SHUTDOWN; redis-server $REDIS_DIR/redis.conf; curl … meanwhile",
    );
    let rehit = NaN;
    for (let i = 0; i < 200; i++) {
      const r = await timedGet(app.url + itemsPath(DEMO_PROJECT_ID, probeSet[0]));
      if (r.xCache === "HIT") {
        rehit = r.sentAt + r.ms - reload.readyAt;
        break;
      }
      await new Promise((res) => setTimeout(res, 50));
    }
    add(
      "then: first HIT after Redis answered PONG (the app reconnects by itself)",
      Number.isNaN(rehit) ? "no HIT within 200 tries" : fmtMs(rehit),
      bench,
    );

    // --- The default maxmemory on the warm set ------------------------------------------------
    const before = await redis.info();
    const keysBefore = Number(before.get("db0")?.match(/keys=(\d+)/)?.[1] ?? 0);
    const evictedBefore = Number(before.get("evicted_keys"));
    await redis.cli("CONFIG", "SET", "maxmemory", "256mb");
    // Eviction happens on the next writes; a few reads and a write trigger it.
    await redis.cli("SET", "bench:national:nudge", "1");
    for (let i = 0; i < 100; i++) {
      const info = await redis.info();
      if (Number(info.get("used_memory")) <= 256 * MIB) break;
      await redis.cli("SET", "bench:national:nudge", String(i));
      await new Promise((r) => setTimeout(r, 100));
    }
    const after = await redis.info();
    const keysAfter = Number(after.get("db0")?.match(/keys=(\d+)/)?.[1] ?? 0);
    const evicted = Number(after.get("evicted_keys")) - evictedBefore;
    // A fresh app process (empty in-process L1), so a HIT below means the key is in Redis.
    await app.stop();
    app = startApp({ databaseUrl: nat.url, redisUrl: redis.url });
    await waitAppHealthy(app);
    const demoAfter: Timed[] = [];
    for (const poId of demo) {
      demoAfter.push(await timedGet(app.url + itemsPath(DEMO_PROJECT_ID, poId)));
    }
    const fillerAfter256: Timed[] = [];
    for (const f of fillerSample) {
      fillerAfter256.push(await timedGet(app.url + itemsPath(f.projectId, f.poId)));
    }
    add(
      "evicted keys under wb's default maxmemory 256mb allkeys-lru (set on the warm Redis)",
      `${evicted.toLocaleString("en-US")} of ${keysBefore.toLocaleString("en-US")} keys ` +
        `(${(100 * evicted / Math.max(1, keysBefore)).toFixed(0)}%), ${
          keysAfter.toLocaleString("en-US")
        } left, ` +
        `used_memory ${fmtBytes(Number(after.get("used_memory")))}`,
      "redis-cli -p $REDIS_PORT CONFIG SET maxmemory 256mb; redis-cli -p $REDIS_PORT INFO stats",
    );
    // Warm objects nobody read since the restart (the LRU's oldest): the set between the samples.
    const step = Math.max(2, Math.floor(warmed / 200));
    const unread = fillers.slice(0, warmed).filter((_, i) => i % step === Math.floor(step / 2));
    const unreadAfter256: Timed[] = [];
    for (const f of unread) {
      unreadAfter256.push(await timedGet(app.url + itemsPath(f.projectId, f.poId)));
    }
    add(
      "then, from a restarted app (empty L1): demo objects / sampled filler objects read " +
        "after the restart / filler objects not read since the warm-up (a MISS recomputes)",
      `${countBy(demoAfter)} (${fmtMs(demoAfter.reduce((t, r) => t + r.ms, 0))} in all) / ` +
        `${countBy(fillerAfter256)} / ${countBy(unreadAfter256)}`,
      bench,
    );
    notes.push(
      `Redis ${warm.get("redis_version")}, ${o.dir} (port ${spec.port}); app ${app.url}; ` +
        `database ${nat.name}.`,
    );
  } catch (error) {
    console.error(app.tail());
    throw error;
  } finally {
    for (const step of cleanup) await step().catch(() => {});
  }
  return [
    `National scale: --scale ${o.scale} --months ${o.months}, ${o.projects} filler projects, ` +
    `cache target ${o.cacheMib} MiB`,
    "",
    markdownTable(rows),
    "",
    ...notes,
  ].join("\n");
}

if (import.meta.main) {
  let options: NationalOptions | undefined;
  try {
    options = parseNationalArgs(Deno.args);
  } catch (error) {
    console.error(`error: ${(error as Error).message}\n\n${USAGE}`);
    Deno.exit(2);
  }
  if (!options) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const rows: string[][] = [];
  try {
    console.log(await runNational(options, rows));
  } catch (error) {
    console.log(markdownTable(rows.length > 0 ? rows : [["nothing measured"]]));
    console.error(error);
    Deno.exit(1);
  }
}
