/**
 * `clearAll` at national size: `otherKeys` keys of other caches (`cache:other:*`, 1.5M by
 * default) and `cacheKeys` keys of the cleared cache (`cache:bench_clear:*`, 300k) on one
 * redis-server (filled with `redis-cli --pipe`), then `TimCacheC("bench_clear").clearAll()`
 * while another process GETs an `other` key back to back. Each run is one of:
 *
 * - `index`: the cache's keys were written with their key-index members (as the cache's
 *   fenced write does, `lib/_key_index.ts`) and the index is complete: the clear reads (SSCAN) and
 *   unlinks `clearBatchSize` keys per call, no SCAN;
 * - `scan`: no index (keys written by an older release, or the index evicted): the clear
 *   SCANs the whole keyspace with COUNT `clearBatchSize` and UNLINKs what matches.
 *
 * Reports keys deleted per second, the other client's GET latency before (baseline) and
 * during the clear, and checks that the other keys are all still there. The cleared
 * prefix is refilled before each run.
 *
 * On a 2-core machine the clear's own process, redis-server and the probe compete for
 * CPU, so the probe's latency during the clear mixes Redis blocking (each command runs
 * alone on the server; their server-side time per call is reported from `INFO
 * commandstats`) with plain CPU contention. A control phase before each clear measures the
 * probe while this process only burns CPU, without touching Redis.
 *
 * Targets (issues 7 and 16): at least 150k keys/s; the other client's p99 at most 2x its
 * baseline.
 *
 * Usage: `deno run -A bench/clear_all_bench.ts [cacheKeys] [otherKeys]`.
 *
 * @module
 */
import { createClient, type RedisClientType } from "redis";
import { TimCacheC } from "../lib/mod.ts";
import { COMPLETE, indexKeyFor } from "../lib/_key_index.ts";
import { markdownTable, ms, quantile } from "./stats.ts";
import { RedisStore } from "../lib/mod.ts";

/** One clear. */
export interface ClearAllRow {
  mode: "index" | "scan";
  clearBatchSize: number;
  /** Keys in Redis when the clear started (the cache's and the others'). */
  totalKeys: number;
  keys: number;
  seconds: number;
  keysPerS: number;
  baselineP50Ms: number;
  baselineP99Ms: number;
  duringP50Ms: number;
  duringP99Ms: number;
  /** GETs the other client completed during the clear. */
  duringGets: number;
  /** Control: the other client's p99 while this process only burns CPU (no Redis calls). */
  cpuOnlyP99Ms: number;
  /** Server-side time per SCAN and per UNLINK during the clear (INFO commandstats), in µs. */
  scanUsPerCall: number;
  unlinkUsPerCall: number;
  scanCalls: number;
  /** Server-side time per SSCAN of the draining index, in µs. */
  sscanUsPerCall: number;
  sscanCalls: number;
  otherKeysLeft: number;
}

const encoder = new TextEncoder();

function resp(args: string[]): string {
  let out = `*${args.length}\r\n`;
  for (const arg of args) out += `$${encoder.encode(arg).length}\r\n${arg}\r\n`;
  return out;
}

/**
 * Writes `count` keys `<prefix><n>` with a small entry-shaped value through
 * `redis-cli --pipe`; with `indexKey`, also each key's member `<n>` in that key index and,
 * at the end, its completeness mark (what the cache's writes and first clear leave).
 *
 * @throws {Error} If redis-cli reports errors or a different reply count.
 */
export async function fillKeys(
  port: number,
  prefix: string,
  count: number,
  indexKey?: string,
): Promise<void> {
  const child = new Deno.Command("redis-cli", {
    args: ["-h", "127.0.0.1", "-p", String(port), "--pipe"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const chunk = 10_000;
  for (let start = 0; start < count; start += chunk) {
    let text = "";
    for (let n = start; n < Math.min(count, start + chunk); n++) {
      const value = `{"versionHash":"v1","data":{"n":${n},"items":[${n % 97},${n % 89}]}}`;
      text += resp(["SET", `${prefix}${n}`, value, "EX", "86400"]);
      if (indexKey) text += resp(["SADD", indexKey, String(n)]);
    }
    await writer.write(encoder.encode(text));
  }
  if (indexKey) await writer.write(encoder.encode(resp(["SADD", indexKey, COMPLETE])));
  const replies = indexKey ? 2 * count + 1 : count;
  await writer.close();
  const out = await child.output();
  const report = new TextDecoder().decode(out.stdout);
  if (!out.success || !report.includes(`errors: 0, replies: ${replies}`)) {
    throw new Error(`redis-cli --pipe failed:\n${report}${new TextDecoder().decode(out.stderr)}`);
  }
}

/** One field of a command's line in `INFO commandstats` (NaN when absent). */
function commandStat(info: string, command: string, field: string): number {
  const line = info.split("\n").find((l) => l.startsWith(`cmdstat_${command}:`));
  const match = line?.match(new RegExp(`${field}=([0-9.]+)`));
  return match ? Number(match[1]) : NaN;
}

/** Counts the keys matching `pattern` with SCAN (COUNT 10000). */
async function countKeys(client: RedisClientType, pattern: string): Promise<number> {
  let cursor = "0";
  let n = 0;
  do {
    const reply = await client.scan(cursor, { MATCH: pattern, COUNT: 10_000 });
    cursor = String(reply.cursor);
    n += reply.keys.length;
  } while (cursor !== "0");
  return n;
}

/** One clear to measure: how the cache finds its keys, and its batch size. */
export interface ClearRun {
  mode: "index" | "scan";
  clearBatchSize: number;
}

/**
 * Runs one clear per entry of `runs`.
 *
 * @param redisUrl The redis-server.
 * @param port Its port (for `redis-cli --pipe`).
 * @param options `cacheKeys` (300k), `otherKeys` (1.5M), `runs`, `baselineMs`, `spinMs`.
 */
export async function benchClearAll(
  redisUrl: string,
  port: number,
  {
    cacheKeys = 300_000,
    otherKeys = 1_500_000,
    runs = [
      { mode: "scan", clearBatchSize: 100 },
      { mode: "index", clearBatchSize: 50 },
      { mode: "index", clearBatchSize: 100 },
      { mode: "index", clearBatchSize: 200 },
    ] as ClearRun[],
    baselineMs = 2000,
    spinMs = 3000,
  } = {},
): Promise<ClearAllRow[]> {
  const client = createClient({ url: redisUrl }) as unknown as RedisClientType;
  await client.connect();
  const rows: ClearAllRow[] = [];
  const indexKey = indexKeyFor("cache:bench_clear:");
  try {
    await client.flushDb();
    await fillKeys(port, "cache:other:", otherKeys);
    for (const { mode, clearBatchSize } of runs) {
      await client.del([indexKey, `${indexKey}:draining`, "{cache:bench_clear}:gen"]);
      await fillKeys(
        port,
        "cache:bench_clear:",
        cacheKeys,
        mode === "index" ? indexKey : undefined,
      );
      const before = await client.dbSize();
      const expected = cacheKeys + otherKeys + (mode === "index" ? 1 : 0);
      if (before !== expected) throw new Error(`expected ${expected} keys, found ${before}`);
      const cache = new TimCacheC<string, string, unknown>("bench_clear", {
        uniquenessHashFromParams: (k) => k,
        versionHashFromParams: (v) => v,
        parseData: () => ({ shouldStore: false, uniquenessHash: "", versionHash: "" }),
      }, {
        store: RedisStore.over(() => client),
        clearBatchSize,
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
      // The probe connects, then measures the baseline while this process idles.
      await new Promise((r) => setTimeout(r, 1000 + baselineMs));
      // Control: this process burns CPU for as long as the clear will roughly take, with
      // no Redis traffic, so the probe's latency shows what CPU contention alone costs.
      const spinStart = performance.timeOrigin + performance.now();
      for (const until = performance.now() + spinMs; performance.now() < until;) {
        await new Promise((r) => setTimeout(r, 0)); // yield like an I/O loop would
        for (const stop = performance.now() + 5; performance.now() < stop;) { /* spin */ }
      }
      const spinEnd = performance.timeOrigin + performance.now();
      await new Promise((r) => setTimeout(r, 200));
      await client.sendCommand(["CONFIG", "RESETSTAT"]);
      const clearStart = performance.timeOrigin + performance.now();
      const t0 = performance.now();
      await cache.clearAll();
      const seconds = (performance.now() - t0) / 1000;
      const clearEnd = performance.timeOrigin + performance.now();
      const stats = String(await client.sendCommand(["INFO", "commandstats"]));
      await new Promise((r) => setTimeout(r, 200));
      await probe.stdin.close();
      const result = await output;
      const lines = new TextDecoder().decode(result.stdout).trim().split("\n");
      const { samples } = JSON.parse(lines[lines.length - 1]) as { samples: [number, number][] };
      const baseline = samples.filter(([t]) => t >= spinStart - baselineMs && t < spinStart)
        .map(([, l]) => l);
      const cpuOnly = samples.filter(([t]) => t >= spinStart && t < spinEnd).map(([, l]) => l);
      const during = samples.filter(([t]) => t >= clearStart && t <= clearEnd).map(([, l]) => l);
      const cacheKeysLeft = await countKeys(client, "cache:bench_clear:*");
      const otherKeysLeft = await countKeys(client, "cache:other:*");
      if (cacheKeysLeft !== 0 || otherKeysLeft !== otherKeys) {
        throw new Error(
          `after clearAll: ${cacheKeysLeft} cache keys (want 0), ${otherKeysLeft} other keys (want ${otherKeys})`,
        );
      }
      rows.push({
        mode,
        clearBatchSize,
        totalKeys: before,
        keys: cacheKeys,
        seconds,
        keysPerS: cacheKeys / seconds,
        baselineP50Ms: quantile(baseline, 0.5),
        baselineP99Ms: quantile(baseline, 0.99),
        duringP50Ms: quantile(during, 0.5),
        duringP99Ms: quantile(during, 0.99),
        duringGets: during.length,
        cpuOnlyP99Ms: quantile(cpuOnly, 0.99),
        scanUsPerCall: commandStat(stats, "scan", "usec_per_call"),
        unlinkUsPerCall: commandStat(stats, "unlink", "usec_per_call"),
        scanCalls: commandStat(stats, "scan", "calls") || 0,
        sscanUsPerCall: commandStat(stats, "sscan", "usec_per_call"),
        sscanCalls: commandStat(stats, "sscan", "calls") || 0,
        otherKeysLeft,
      });
    }
  } finally {
    await client.flushDb().catch(() => {});
    client.destroy();
  }
  return rows;
}

/** Renders the rows. */
export function formatClearAll(rows: ClearAllRow[]): string {
  return markdownTable([
    [
      "finds its keys by",
      "clearBatchSize",
      "keys in Redis",
      "keys cleared",
      "time",
      "keys/s",
      "other GET p50 / p99 before",
      "other GET p50 / p99 during",
      "p99 during / before",
      "control: p99 under CPU load only",
      "server µs/call: SCAN (calls); SSCAN of the index (calls); UNLINK",
      "other keys left",
    ],
    ...rows.map((r) => [
      r.mode === "index" ? "key index" : "SCAN",
      r.clearBatchSize.toLocaleString("en-US"),
      r.totalKeys.toLocaleString("en-US"),
      r.keys.toLocaleString("en-US"),
      `${r.seconds.toFixed(2)} s`,
      Math.round(r.keysPerS).toLocaleString("en-US"),
      `${ms(r.baselineP50Ms)} / ${ms(r.baselineP99Ms)}`,
      `${ms(r.duringP50Ms)} / ${ms(r.duringP99Ms)}`,
      `${(r.duringP99Ms / r.baselineP99Ms).toFixed(2)}x`,
      ms(r.cpuOnlyP99Ms),
      [
        r.scanCalls ? `${r.scanUsPerCall.toFixed(0)} (${r.scanCalls})` : "-",
        r.sscanCalls ? `${r.sscanUsPerCall.toFixed(0)} (${r.sscanCalls})` : "-",
        Number.isNaN(r.unlinkUsPerCall) ? "-" : r.unlinkUsPerCall.toFixed(0),
      ].join("; "),
      r.otherKeysLeft.toLocaleString("en-US"),
    ]),
  ]);
}

if (import.meta.main) {
  const { startRedis } = await import("../lib/testing/redis_server.ts");
  await using redis = await startRedis();
  const [cacheKeys, otherKeys] = Deno.args.map(Number);
  console.log(formatClearAll(
    await benchClearAll(redis.url, redis.port, {
      ...(cacheKeys ? { cacheKeys } : {}),
      ...(otherKeys ? { otherKeys } : {}),
    }),
  ));
}
