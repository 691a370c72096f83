/**
 * `clearAll` at national size: `otherKeys` keys of other caches (`cache:other:*`, 1.5M by
 * default) and `cacheKeys` keys of the cleared cache (`cache:bench_clear:*`, 300k) on one
 * redis-server (filled with `redis-cli --pipe`), then `TimCacheC("bench_clear").clearAll()`
 * while another process GETs an `other` key back to back (`get_probe_worker.ts`). Each
 * clear is one of:
 *
 * - `index`: the cache's keys were written with their key-index members (as the cache's
 *   fenced write does, `lib/_key_index.ts`) and the index is complete: the clear drains the
 *   index, one script per batch sized to `clearCommandUs` of server time, no SCAN;
 * - `scan`: no index (keys written by an older release, or the index evicted): the clear
 *   SCANs the whole keyspace with COUNT `clearBatchSize` and UNLINKs what matches;
 * - `database`: the cache has a database of its own (database 1, `ownsDatabase`; the other
 *   caches' keys in database 0): the clear is one script ending in `FLUSHDB ASYNC`, and
 *   Redis frees the keys in its background thread. Its time runs until Redis reports no
 *   object left to free (`lazyfree_pending_objects` 0 in `INFO memory`, polled every 1
 *   ms), and the other client's GETs are "during" for all of that time; the time until
 *   `clearAll` returned is its own column.
 *
 * The machine is shared and noisy, so every configuration is measured in `rounds` rounds
 * (the order of the configurations rotated each round) and each figure is the median over
 * the rounds. In one round, with one probe process for it: the probe's baseline (the
 * `baselineMs` before the control and the `baselineMs` after the clear, this process
 * idle), two controls of `spinMs` each (this process burns CPU with no Redis calls: what
 * CPU contention alone costs the probe on 2 cores; then it sends PINGs back to back, two in
 * flight: the clear's round trips without its server work), then the clear. The ratio "p99 during /
 * before" is taken within each round, then its median. The cleared prefix is refilled
 * before each clear; after it, every key of the cache must be gone and every other key
 * there (checked with EXISTS over their names). Server time per call and its p99 come from
 * `INFO commandstats` and `INFO latencystats` (Redis 7). The load average is read at the
 * start and the end.
 *
 * Targets (issues 7 and 16): at least 150k keys/s; the other client's p99 at most 2x its
 * baseline.
 *
 * Usage: `deno run -A bench/clear_all_bench.ts [cacheKeys] [otherKeys] [rounds]`.
 *
 * @module
 */
import { createClient, type RedisClientType } from "redis";
import { TimCacheC } from "../lib/mod.ts";
import { indexKeyFor } from "../lib/_key_index.ts";
import {
  commandStat,
  countExisting,
  fillKeys,
  latencyStat,
  lazyfreePending,
} from "./redis_keys.ts";
import { markdownTable, ms, quantile } from "./stats.ts";
import { RedisStore } from "../lib/mod.ts";

/** One configuration of the clear: medians over its rounds. */
export interface ClearAllRow {
  mode: ClearRun["mode"];
  clearBatchSize: number;
  /** Server time each index drain call aims at (`clearCommandUs`), in µs. */
  clearCommandUs: number;
  rounds: number;
  /** Keys in Redis when the clear started (the cache's and the others'). */
  totalKeys: number;
  keys: number;
  seconds: number;
  /** Until `clearAll` returned, in s (for `database`, before Redis has freed the keys). */
  returnSeconds: number;
  keysPerS: number;
  /** keys/s of each round, in round order. */
  keysPerSByRound: number[];
  baselineP50Ms: number;
  baselineP99Ms: number;
  duringP50Ms: number;
  duringP99Ms: number;
  /** p99 during / p99 before, median of the rounds' ratios. */
  p99Ratio: number;
  /** The same ratio in each round. */
  p99RatioByRound: number[];
  /** GETs the other client completed during the clear (median of the rounds). */
  duringGets: number;
  /** Control: the other client's p99 while this process only burns CPU (no Redis calls). */
  cpuOnlyP99Ms: number;
  /**
   * Control: the other client's p99 while this process sends PINGs back to back, two in
   * flight (the clear's round trips without its server work).
   */
  pingOnlyP99Ms: number;
  /** PINGs per second during that control. */
  pingsPerS: number;
  /** The clear's command (EVAL of the drain or of the flush, or SCAN) on the server: calls, µs/call, p99 µs. */
  serverCalls: number;
  serverUsPerCall: number;
  serverP99Us: number;
  /** UNLINK on the server (scan mode only; the drain unlinks inside its script), µs/call. */
  unlinkUsPerCall: number;
  otherKeysLeft: number;
}

/** One clear of one round: the row's per-round figures, and the probe's samples in ms. */
type RoundResult =
  & Pick<
    ClearAllRow,
    | "totalKeys"
    | "seconds"
    | "returnSeconds"
    | "pingsPerS"
    | "serverCalls"
    | "serverUsPerCall"
    | "serverP99Us"
    | "unlinkUsPerCall"
    | "otherKeysLeft"
  >
  & { baseline: number[]; during: number[]; cpuOnly: number[]; pingOnly: number[] };

/** The load average (1, 5 and 15 minutes) from `/proc/loadavg`, or "unknown". */
export async function loadAverage(): Promise<string> {
  try {
    return (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

/** One clear to measure: how the cache finds its keys, its batch and its time per call. */
export interface ClearRun {
  mode: "index" | "scan" | "database";
  clearBatchSize: number;
  /** `clearCommandUs` (index only). @default {75} */
  clearCommandUs?: number;
}

/** The sizes and phase lengths of one clear. */
interface ClearOptions {
  cacheKeys: number;
  otherKeys: number;
  baselineMs: number;
  spinMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The median of `values` (NaN for none). */
function median(values: number[]): number {
  return quantile(values, 0.5);
}

/**
 * Runs every configuration of `runs` once per round, rotating their order each round, and
 * returns one row per configuration with the medians over the rounds.
 *
 * @param redisUrl The redis-server.
 * @param port Its port (for `redis-cli --pipe`).
 * @param options `cacheKeys` (300k), `otherKeys` (1.5M), `runs`, `rounds` (5), `baselineMs`
 *   (1500, before the control and again after the clear), `spinMs` (1500), `log` (progress).
 * @throws {Error} If a clear leaves a key of the cache or takes one of another's.
 */
export async function benchClearAll(
  redisUrl: string,
  port: number,
  {
    cacheKeys = 300_000,
    otherKeys = 1_500_000,
    runs = [
      { mode: "scan", clearBatchSize: 100 },
      { mode: "index", clearBatchSize: 100, clearCommandUs: 50 },
      { mode: "index", clearBatchSize: 100, clearCommandUs: 75 },
      { mode: "index", clearBatchSize: 100, clearCommandUs: 100 },
      { mode: "database", clearBatchSize: 100 },
    ] as ClearRun[],
    rounds = 5,
    baselineMs = 1500,
    spinMs = 1500,
    log = (_line: string) => {},
  } = {},
): Promise<ClearAllRow[]> {
  const client = createClient({ url: redisUrl }) as unknown as RedisClientType;
  await client.connect();
  const results: RoundResult[][] = runs.map(() => []);
  try {
    await client.flushDb();
    await fillKeys(port, "cache:other:", otherKeys);
    const options = { cacheKeys, otherKeys, baselineMs, spinMs };
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < runs.length; i++) {
        const which = (i + round) % runs.length;
        const result = await clearOnce(client, redisUrl, port, runs[which], options);
        results[which].push(result);
        log(
          `round ${round + 1}/${rounds} ${JSON.stringify(runs[which])}: ` +
            `${Math.round(cacheKeys / result.seconds)} keys/s, p99 ` +
            `${ms(quantile(result.baseline, 0.99))} -> ${ms(quantile(result.during, 0.99))}`,
        );
      }
    }
  } finally {
    await client.flushDb().catch(() => {});
    client.destroy();
  }
  return runs.map((run, i) => {
    const rs = results[i];
    const p99 = (samples: number[]) => quantile(samples, 0.99);
    const ratios = rs.map((r) => p99(r.during) / p99(r.baseline));
    return {
      mode: run.mode,
      clearBatchSize: run.clearBatchSize,
      clearCommandUs: run.clearCommandUs ?? 75,
      rounds: rs.length,
      totalKeys: rs[0].totalKeys,
      keys: cacheKeys,
      seconds: median(rs.map((r) => r.seconds)),
      returnSeconds: median(rs.map((r) => r.returnSeconds)),
      keysPerS: median(rs.map((r) => cacheKeys / r.seconds)),
      keysPerSByRound: rs.map((r) => cacheKeys / r.seconds),
      baselineP50Ms: median(rs.map((r) => quantile(r.baseline, 0.5))),
      baselineP99Ms: median(rs.map((r) => p99(r.baseline))),
      duringP50Ms: median(rs.map((r) => quantile(r.during, 0.5))),
      duringP99Ms: median(rs.map((r) => p99(r.during))),
      p99Ratio: median(ratios),
      p99RatioByRound: ratios,
      duringGets: median(rs.map((r) => r.during.length)),
      cpuOnlyP99Ms: median(rs.map((r) => p99(r.cpuOnly))),
      pingOnlyP99Ms: median(rs.map((r) => p99(r.pingOnly))),
      pingsPerS: median(rs.map((r) => r.pingsPerS)),
      serverCalls: median(rs.map((r) => r.serverCalls)),
      serverUsPerCall: median(rs.map((r) => r.serverUsPerCall)),
      serverP99Us: median(rs.map((r) => r.serverP99Us)),
      unlinkUsPerCall: median(rs.map((r) => r.unlinkUsPerCall)),
      otherKeysLeft: Math.min(...rs.map((r) => r.otherKeysLeft)),
    };
  });
}

/** Refills the cache's keys, then measures the probe's baseline, the control and one clear. */
async function clearOnce(
  client: RedisClientType,
  redisUrl: string,
  port: number,
  { mode, clearBatchSize, clearCommandUs = 75 }: ClearRun,
  { cacheKeys, otherKeys, baselineMs, spinMs }: ClearOptions,
): Promise<RoundResult> {
  const indexKey = indexKeyFor("cache:bench_clear:");
  // The cleared cache's own database (1) in `database` mode, else the others' (0).
  const own = mode === "database";
  const cacheClient = own
    ? createClient({ url: `${redisUrl}/1` }) as unknown as RedisClientType
    : client;
  if (own) {
    await cacheClient.connect();
    await cacheClient.flushDb();
  }
  // The other modes' bookkeeping keys (database 0) and this mode's.
  for (const c of new Set([client, cacheClient])) {
    await c.del([
      indexKey,
      `${indexKey}:draining`,
      `${indexKey}:cursor`,
      "{cache:bench_clear}:gen",
    ]);
  }
  await fillKeys(
    port,
    "cache:bench_clear:",
    cacheKeys,
    mode === "index" ? indexKey : undefined,
    own ? 1 : 0,
  );
  const before = await client.dbSize() + (own ? await cacheClient.dbSize() : 0);
  const expected = cacheKeys + otherKeys + (mode === "index" ? 1 : 0);
  if (before !== expected) throw new Error(`expected ${expected} keys, found ${before}`);
  const cache = new TimCacheC<string, string, unknown>("bench_clear", {
    uniquenessHashFromParams: (k) => k,
    versionHashFromParams: (v) => v,
    parseData: () => ({ shouldStore: false, uniquenessHash: "", versionHash: "" }),
  }, {
    store: RedisStore.over(() => cacheClient),
    ownsDatabase: own,
    clearBatchSize,
    clearCommandUs,
    commandTimeoutMs: 10_000, // a slow batch must not end the clear early
    log: (line) => console.error(line),
  });
  const probe = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./get_probe_worker.ts", import.meta.url).pathname,
      redisUrl,
      `cache:other:${otherKeys >> 1}`,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const output = probe.output();
  const now = () => performance.timeOrigin + performance.now();
  // The probe starts and connects, then measures the baseline while this process idles.
  await sleep(1000 + baselineMs);
  // Control: this process burns CPU with no Redis traffic, so the probe's latency shows
  // what CPU contention alone costs.
  const spinStart = now();
  for (const until = performance.now() + spinMs; performance.now() < until;) {
    await sleep(0); // yield like an I/O loop would
    for (const stop = performance.now() + 5; performance.now() < stop;) { /* spin */ }
  }
  const spinEnd = now();
  await sleep(200);
  // Control: PINGs back to back, two in flight, for as long: the clear's round trips (this
  // process waking at every reply, Redis reading and answering) without its server work.
  const pingStart = now();
  let pings = 0;
  const pingUntil = performance.now() + spinMs;
  const pinger = async () => {
    while (performance.now() < pingUntil) {
      await client.ping();
      pings++;
    }
  };
  await Promise.all([pinger(), pinger()]);
  const pingEnd = now();
  await sleep(200);
  await client.sendCommand(["CONFIG", "RESETSTAT"]);
  const clearStart = now();
  const result = await cache.clearAll();
  const returned = now();
  if (result.status !== "cleared") throw new Error(`clearAll: ${JSON.stringify(result)}`);
  // Until Redis's background thread has freed what the flush detached.
  while (own && await lazyfreePending(client) > 0) await sleep(1);
  const clearEnd = now();
  const stats = String(await client.sendCommand(["INFO", "commandstats"]));
  const latency = String(await client.sendCommand(["INFO", "latencystats"]));
  await sleep(200);
  const afterStart = now();
  await sleep(baselineMs);
  const afterEnd = now();
  await probe.stdin.close();
  const lines = new TextDecoder().decode((await output).stdout).trim().split("\n");
  const { samples } = JSON.parse(lines[lines.length - 1]) as { samples: [number, number][] };
  const within = (from: number, to: number) =>
    samples.filter(([t]) => t >= from && t < to).map(([, l]) => l);
  const cacheKeysLeft = await countExisting(cacheClient, "cache:bench_clear:", cacheKeys);
  if (own) cacheClient.destroy();
  const otherKeysLeft = await countExisting(client, "cache:other:", otherKeys);
  if (cacheKeysLeft !== 0 || otherKeysLeft !== otherKeys) {
    throw new Error(
      `after clearAll: ${cacheKeysLeft} cache keys (want 0), ${otherKeysLeft} other keys (want ${otherKeys})`,
    );
  }
  const command = mode === "scan" ? "scan" : "eval";
  return {
    totalKeys: before,
    seconds: (clearEnd - clearStart) / 1000,
    returnSeconds: (returned - clearStart) / 1000,
    baseline: [...within(spinStart - baselineMs, spinStart), ...within(afterStart, afterEnd)],
    during: within(clearStart, clearEnd),
    cpuOnly: within(spinStart, spinEnd),
    pingOnly: within(pingStart, pingEnd),
    pingsPerS: pings / ((pingEnd - pingStart) / 1000),
    serverCalls: commandStat(stats, command, "calls") || 0,
    serverUsPerCall: commandStat(stats, command, "usec_per_call"),
    serverP99Us: latencyStat(latency, command, "p99"),
    unlinkUsPerCall: commandStat(stats, "unlink", "usec_per_call"),
    otherKeysLeft,
  };
}

/** Renders the rows. */
export function formatClearAll(rows: ClearAllRow[]): string {
  const x = (ratio: number) => `${ratio.toFixed(2)}x`;
  return markdownTable([
    [
      "finds its keys by",
      "clearBatchSize; clearCommandUs",
      "keys in Redis",
      "keys cleared",
      "time (own database: until freed; clearAll returned in)",
      "keys/s (each round)",
      "other GET p50 / p99 before",
      "other GET p50 / p99 during",
      "p99 during / before (each round)",
      "control p99: CPU burn only; PINGs only (PINGs/s)",
      "server: calls, µs/call, p99 µs (EVAL of the drain or of the flush, or SCAN); UNLINK µs/call",
      "other keys left",
    ],
    ...rows.map((r) => [
      { index: "key index", scan: "SCAN", database: "own database (FLUSHDB ASYNC)" }[r.mode],
      r.mode === "index"
        ? `${r.clearBatchSize}; ${r.clearCommandUs} µs`
        : r.mode === "scan"
        ? `${r.clearBatchSize}; -`
        : "-",
      r.totalKeys.toLocaleString("en-US"),
      r.keys.toLocaleString("en-US"),
      `${r.seconds.toFixed(2)} s` +
      (r.mode === "database" ? ` (${ms(r.returnSeconds * 1000)})` : ""),
      `**${Math.round(r.keysPerS / 1000)}k** (${
        r.keysPerSByRound.map((k) => `${Math.round(k / 1000)}k`).join(", ")
      })`,
      `${ms(r.baselineP50Ms)} / ${ms(r.baselineP99Ms)}`,
      `${ms(r.duringP50Ms)} / ${ms(r.duringP99Ms)}`,
      `**${x(r.p99Ratio)}** (${r.p99RatioByRound.map(x).join(", ")})`,
      `${ms(r.cpuOnlyP99Ms)}; ${ms(r.pingOnlyP99Ms)} (${Math.round(r.pingsPerS / 1000)}k/s)`,
      `${Math.round(r.serverCalls).toLocaleString("en-US")}, ${r.serverUsPerCall.toFixed(0)}, ${
        r.serverP99Us.toFixed(0)
      }; ${Number.isNaN(r.unlinkUsPerCall) ? "-" : r.unlinkUsPerCall.toFixed(0)}`,
      r.otherKeysLeft.toLocaleString("en-US"),
    ]),
  ]);
}

if (import.meta.main) {
  const { startRedis } = await import("../lib/testing/redis_server.ts");
  await using redis = await startRedis();
  const [cacheKeys, otherKeys, rounds] = Deno.args.map(Number);
  const loadBefore = await loadAverage();
  const rows = await benchClearAll(redis.url, redis.port, {
    ...(cacheKeys ? { cacheKeys } : {}),
    ...(otherKeys ? { otherKeys } : {}),
    ...(rounds ? { rounds } : {}),
    log: (line) => console.error(line),
  });
  console.log(formatClearAll(rows));
  console.log(`\nload average at start ${loadBefore}, at end ${await loadAverage()}`);
}
