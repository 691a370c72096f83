/**
 * Server throughput on a cache hit: the real server (`server/main.ts`, its own process, on
 * the benchmark's Postgres database and redis-server) serving a presentation object's
 * items warm (`X-Cache: HIT`), against a bare Hono app (`bare_server.ts`) returning the
 * same response bytes from one Redis `GET` (and once more with the four headers the server
 * adds to a cached answer, which shows what they cost), and the bare app running the server's version
 * query first (`/bare_pg`), which shows what the Postgres round trip costs, and with that
 * query prepared (`/bare_pg_prepared`), which shows what planning it costs. Load comes
 * from `wrk` on loopback, the same connections and duration for every target,
 * interleaved in rounds. A last `wrk` run with `server_timing.lua` collects the server's
 * `Server-Timing` (cache and db ms) under the same load.
 *
 * Target (issue 7): the server at least 0.8x the bare route's requests/s.
 *
 * Then (issue 16) hits on the first object while 10 cold computations hold every connection
 * of the server's pool (distinct cold HMIS summaries, each waiting on a lock the benchmark
 * holds on `dataset_hmis`), against the same load idle, in interleaved rounds; and once more
 * on a server started with `VERSION_TABLE=false`, whose hits query their version through
 * the pool as every hit did before the version table. Target: occupied p99 at most 2x idle.
 *
 * @module
 */
import { spawnBareServer, spawnDrained, stopChild, waitForOk } from "./child.ts";
import { Buffer } from "node:buffer";
import { createClient, type RedisClientType } from "redis";
import { freePort } from "../lib/testing/redis_server.ts";
import { DEMO_PROJECT_ID } from "../server/load/mod.ts";
import { ensureWrk, median, wrk, type WrkResult } from "./wrk.ts";
import { formatServer } from "./server_report.ts";

/** One target's runs merged (requests/s averaged over rounds, latency of the best round). */
export interface ServerRow {
  target: string;
  path: string;
  requestsPerS: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /**
   * CPU time per answered request in µs (user + system, from `/proc/<pid>/stat` around each
   * run, averaged over rounds): the target's process, and redis-server's. Absent where `/proc`
   * cannot be read.
   */
  cpuUs?: CpuPerRequest;
}

/** CPU time per answered request, in µs: the target's process, and redis-server's. */
export interface CpuPerRequest {
  app: number;
  redis: number;
}

/** One presentation object's comparison. */
export interface ServerCase {
  poId: string;
  bodyBytes: number;
  rows: ServerRow[];
  /** Server-Timing under load: cache and db p50/p99 in ms, and the share of HITs. */
  /** Hits with the pool occupied by cold computations (first presentation object only). */
  occupied?: OccupiedHits;
  timing?: {
    responses: number;
    hits: number;
    cacheP50: number;
    cacheP99: number;
    dbP50: number;
    dbP99: number;
  };
}

/**
 * Hit latency while cold computations hold every connection of the server's pool (issue 16):
 * the same wrk load on a warm presentation object's items, idle and with `cold` distinct
 * cold HMIS summaries in flight, each holding a pool connection while it waits on a lock
 * another session holds on `dataset_hmis` (as a long module run or a national-size cold
 * query would).
 */
export interface OccupiedHits {
  cold: number;
  /** Server backends seen waiting on the lock when a measurement started (the least). */
  coldWaiting: number;
  /** Interleaved rounds (idle, then occupied); the runs shown are those with the median p99. */
  rounds: number;
  idle: WrkResult;
  occupied: WrkResult;
  /** The same with `VERSION_TABLE=false` (a version query per request, as before issue 16). */
  queryPath?: OccupiedHits;
}

/** Options of {@linkcode benchServer}. */
export interface ServerBenchOptions {
  /** Presentation objects to serve. @default {["po_outliers_by_lga", "po_indicators_2024"]} */
  poIds?: string[];
  /** wrk connections. @default {64} */
  connections?: number;
  /** Seconds per wrk run. @default {5} */
  durationS?: number;
  /** Interleaved rounds. @default {2} */
  rounds?: number;
  /** Cold computations occupying the pool in the occupied-hits row (0: no such row). @default {10} */
  cold?: number;
  /** redis-server's pid, to charge its CPU to the targets (Linux `/proc`). */
  redisPid?: number;
}

/** Runs `fn` with another server process (`env` plus a free `PORT`) up, then stops it. */
async function withServer<R>(
  env: Record<string, string>,
  fn: (base: string) => Promise<R>,
): Promise<R> {
  const port = freePort();
  const server = spawnDrained(
    ["run", "-A", new URL("../server/main.ts", import.meta.url).pathname],
    { ...env, PORT: String(port) },
  );
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitForOk(`${base}/healthz`, 60_000, server.tail);
    return await fn(base);
  } finally {
    await stopChild(server.child);
  }
}

/**
 * Measures hits on `hitUrl`, idle and while `cold` cold HMIS summaries hold the server's
 * pool (each waits on a lock this function holds on `dataset_hmis`, so all of them are in
 * flight for the whole measurement; released afterwards, when they complete).
 *
 * @throws {Error} If the cold requests do not reach Postgres within 30 s.
 */
async function occupiedHits(
  base: string,
  hitUrl: string,
  databaseUrl: string,
  cold: number,
  connections: number,
  durationS: number,
  rounds: number,
  skip = 0,
): Promise<OccupiedHits> {
  const { connectPostgres } = await import("../server/db.ts");
  const db = connectPostgres(databaseUrl, { max: 2 });
  try {
    const indicators = (await db.query<{ id: string }>(
      "SELECT indicator_id AS id FROM indicators ORDER BY 1",
    )).map((r) => r.id);
    // Distinct cold keys: indicator x level, each requested once (so each one computes).
    const urls = indicators.flatMap((id) =>
      ["", "&level=2", "&level=3", "&level=4"].map((level) =>
        `${base}/api/datasets/hmis/summary?indicatorId=${encodeURIComponent(id)}${level}`
      )
    ).slice(skip);
    // The indicator allowlist is loaded by one request first, so the cold ones only compute.
    await (await fetch(urls.shift()!)).arrayBuffer();
    if (urls.length < cold * rounds) {
      throw new Error(`only ${urls.length} cold summaries for ${rounds} rounds of ${cold}`);
    }
    await wrk(hitUrl, connections, 1); // warm-up
    const idle: WrkResult[] = [];
    const occupied: WrkResult[] = [];
    let coldWaiting = cold;
    for (let round = 0; round < rounds; round++) {
      idle.push(await wrk(hitUrl, connections, durationS));
      const run = await whileOccupied(
        db,
        urls.splice(0, cold),
        () => wrk(hitUrl, connections, durationS),
      );
      occupied.push(run.result);
      coldWaiting = Math.min(coldWaiting, run.coldWaiting);
    }
    return { cold, coldWaiting, rounds, idle: median(idle), occupied: median(occupied) };
  } finally {
    await db.close();
  }
}

/**
 * Runs `measure` while the requests `coldUrls` are in flight, each holding a server pool
 * connection while it waits on a lock held here on `dataset_hmis`; then releases the lock and
 * waits for them.
 */
async function whileOccupied<R>(
  db: import("../server/db.ts").Db,
  coldUrls: string[],
  measure: () => Promise<R>,
): Promise<{ result: R; coldWaiting: number }> {
  let release = () => {};
  const released = new Promise<void>((resolve) => release = resolve);
  let locked = () => {};
  const lockHeld = new Promise<void>((resolve) => locked = resolve);
  const holder = db.transaction(async (tx) => {
    await tx.exec("LOCK TABLE dataset_hmis IN ACCESS EXCLUSIVE MODE");
    locked();
    await released;
  });
  await lockHeld;
  const colds = coldUrls.map((url) => fetch(url).then((r) => r.arrayBuffer()));
  try {
    let coldWaiting = 0;
    const deadline = Date.now() + 30_000;
    while (coldWaiting < coldUrls.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      [{ n: coldWaiting }] = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'wb-server'
            AND wait_event_type = 'Lock'`,
      );
    }
    if (coldWaiting < coldUrls.length) {
      throw new Error(
        `only ${coldWaiting} of ${coldUrls.length} cold computations reached Postgres`,
      );
    }
    return { result: await measure(), coldWaiting };
  } finally {
    release();
    await holder;
    await Promise.all(colds);
  }
}

/**
 * Runs the comparison for each presentation object.
 *
 * @param redisUrl The benchmark's redis-server.
 * @param databaseUrl A database loaded with the demo (see `kano_db.ts`).
 * @throws {Error} If a server does not come up, or a warm request is not a HIT.
 */
export async function benchServer(
  redisUrl: string,
  databaseUrl: string,
  options: ServerBenchOptions = {},
): Promise<ServerCase[]> {
  const poIds = options.poIds ?? ["po_outliers_by_lga", "po_indicators_2024"];
  const connections = options.connections ?? 64;
  const durationS = options.durationS ?? 5;
  const rounds = options.rounds ?? 2;
  const cold = options.cold ?? 10;
  const serverPort = freePort();
  const serverEnv = {
    HOST: "127.0.0.1",
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    ADMIN_TOKEN: crypto.randomUUID(),
    OPEN_ACCESS: "true", // wrk reads anonymously
    REDIS_LOG_LEVEL: "warn",
    WB_INSTANCE: "bench",
  };
  const server = spawnDrained(
    ["run", "-A", new URL("../server/main.ts", import.meta.url).pathname],
    { ...serverEnv, PORT: String(serverPort) },
  );
  const redis = createClient({ url: redisUrl }) as unknown as RedisClientType;
  await redis.connect();
  const bares: { child: Deno.ChildProcess }[] = [];
  const cases: ServerCase[] = [];
  try {
    const base = `http://127.0.0.1:${serverPort}`;
    await waitForOk(`${base}/healthz`, 60_000, server.tail);
    for (const poId of poIds) {
      const itemsUrl = `${base}/api/projects/${DEMO_PROJECT_ID}/presentation_objects/${poId}/items`;
      let body = new Uint8Array();
      for (let i = 0; i < 3; i++) {
        const response = await fetch(itemsUrl);
        body = new Uint8Array(await response.arrayBuffer());
        if (i > 0 && response.headers.get("x-cache") !== "HIT") {
          throw new Error(
            `warm request ${i} for ${poId}: ${response.status} X-Cache ` +
              `${response.headers.get("x-cache")}:\n${server.tail()}`,
          );
        }
      }
      const bareKey = `bench:bare:${poId}`;
      await redis.set(bareKey, Buffer.from(body));
      const barePort = freePort();
      const bare = spawnBareServer({
        port: barePort,
        redisUrl,
        databaseUrl,
        key: bareKey,
        projectId: DEMO_PROJECT_ID,
        poId,
      });
      bares.push(bare);
      const bareBase = `http://127.0.0.1:${barePort}`;
      await waitForOk(`${bareBase}/bare`, 30_000, bare.tail);
      const targets = [
        { target: "server (cached route, HIT)", url: itemsUrl, path: "version table + L1 hits" },
        { target: "bare Hono: Redis GET", url: `${bareBase}/bare`, path: "one Redis GET" },
        {
          target: "bare Hono: Redis GET, the server's headers",
          url: `${bareBase}/bare_headers`,
          path: "one Redis GET; nosniff, Cache-Control, X-Cache, Server-Timing",
        },
        {
          target: "bare Hono: version query + Redis GET",
          url: `${bareBase}/bare_pg`,
          path: "the server's Db query (unprepared) + one Redis GET",
        },
        {
          target: "bare Hono: prepared version query + Redis GET",
          url: `${bareBase}/bare_pg_prepared`,
          path: "the same query prepared + one Redis GET",
        },
      ];
      for (const t of targets) {
        // Every target answers 200 with the server's exact bytes before it is measured.
        const response = await fetch(t.url);
        const got = new Uint8Array(await response.arrayBuffer());
        if (response.status !== 200 || Buffer.compare(Buffer.from(got), Buffer.from(body)) !== 0) {
          throw new Error(
            `${t.url} answered ${response.status} with other bytes than the server:\n` +
              `${new TextDecoder().decode(got).slice(0, 500)}\n${bare.tail()}`,
          );
        }
        await wrk(t.url, connections, 1); // warm-up
      }
      const runs = new Map(targets.map((t) => [t.url, [] as WrkResult[]]));
      const cpu = new Map(targets.map((t) => [t.url, [] as CpuPerRequest[]]));
      for (let round = 0; round < rounds; round++) {
        for (let i = 0; i < targets.length; i++) {
          const t = targets[(i + round) % targets.length];
          const pid = t.url === itemsUrl ? server.child.pid : bare.child.pid;
          const before = [cpuMs(pid), cpuMs(options.redisPid)];
          const result = await wrk(t.url, connections, durationS);
          const after = [cpuMs(pid), cpuMs(options.redisPid)];
          runs.get(t.url)!.push(result);
          if (!before.includes(undefined) && !after.includes(undefined) && result.requests > 0) {
            const us = (k: number) => (after[k]! - before[k]!) * 1000 / result.requests;
            cpu.get(t.url)!.push({ app: us(0), redis: us(1) });
          }
        }
      }
      const timingRun = await wrk(
        itemsUrl,
        connections,
        Math.min(3, durationS),
        new URL("./server_timing.lua", import.meta.url).pathname,
      );
      const occupied = cold > 0 && cases.length === 0
        ? await occupiedHits(base, itemsUrl, databaseUrl, cold, 16, durationS, 3)
        : undefined;
      if (occupied) {
        occupied.queryPath = await withServer(
          { ...serverEnv, VERSION_TABLE: "false" },
          async (queryBase) => {
            const url = itemsUrl.replace(base, queryBase);
            for (let i = 0; i < 2; i++) await (await fetch(url)).arrayBuffer();
            return await occupiedHits(queryBase, url, databaseUrl, cold, 16, durationS, 1, 31);
          },
        );
      }
      const [, responses, hits, cacheP50, cacheP99, dbP50, dbP99] = (timingRun.timing ?? "")
        .split(" ").map(Number);
      cases.push({
        poId,
        bodyBytes: body.length,
        rows: targets.map((t) => {
          const results = runs.get(t.url)!;
          const mean = (f: (r: WrkResult) => number) =>
            results.reduce((s, r) => s + f(r), 0) / results.length;
          return {
            target: t.target,
            path: t.path,
            requestsPerS: mean((r) => r.requestsPerS),
            p50Ms: mean((r) => r.p50Ms),
            p99Ms: mean((r) => r.p99Ms),
            errors: results.reduce((s, r) => s + r.errors, 0),
            cpuUs: cpuMean(cpu.get(t.url)!),
          };
        }),
        timing: timingRun.timing
          ? { responses, hits, cacheP50, cacheP99, dbP50, dbP99 }
          : undefined,
        occupied,
      });
      await stopChild(bare.child);
      bares.pop();
    }
  } finally {
    for (const bare of bares) await stopChild(bare.child);
    await stopChild(server.child);
    redis.destroy();
  }
  return cases;
}

const CLOCK_TICKS_PER_S = 100; // USER_HZ: 100 on every Linux architecture Deno runs on

/**
 * CPU time (user + system, every thread) the process `pid` has used, in ms; `undefined`
 * without a pid or a readable `/proc/<pid>/stat` (not Linux, or the process is gone).
 */
export function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name (in parentheses, which may hold spaces): utime is the
    // 14th field of the line, stime the 15th (proc(5)).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 1000 / CLOCK_TICKS_PER_S;
  } catch {
    return undefined;
  }
}

function cpuMean(samples: CpuPerRequest[]): CpuPerRequest | undefined {
  if (samples.length === 0) return undefined;
  const mean = (f: (x: CpuPerRequest) => number) =>
    samples.reduce((s, x) => s + f(x), 0) / samples.length;
  return { app: mean((x) => x.app), redis: mean((x) => x.redis) };
}

const USAGE = `Usage: deno run -A bench/server_bench.ts [options]

  --duration <s>     seconds per wrk run (default 5)
  --rounds <n>       interleaved rounds per target (default 2)
  --connections <n>  wrk connections (default 64)
  --cold <n>         cold computations of the occupied-pool row; 0 skips it (default 10)
  --po <id,...>      presentation objects (default po_outliers_by_lga,po_indicators_2024)`;

if (import.meta.main) {
  const { parseArgs } = await import("node:util");
  const { values } = parseArgs({
    options: {
      duration: { type: "string" },
      rounds: { type: "string" },
      connections: { type: "string" },
      cold: { type: "string" },
      po: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const number = (text: string | undefined) => text === undefined ? undefined : Number(text);
  const options: ServerBenchOptions = {
    durationS: number(values.duration),
    rounds: number(values.rounds),
    connections: number(values.connections),
    cold: number(values.cold),
    poIds: values.po?.split(","),
  };
  const { startRedis } = await import("../lib/testing/redis_server.ts");
  const { createKanoDatabase } = await import("./kano_db.ts");
  const missing = await ensureWrk();
  if (missing) throw new Error(missing);
  await using redis = await startRedis();
  await using kano = await createKanoDatabase();
  options.redisPid = redis.pid();
  console.log(
    formatServer(
      await benchServer(redis.url, kano.url, options),
      options.connections,
      options.durationS,
    ),
  );
}
