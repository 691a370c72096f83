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
 *   SCANs the whole keyspace with COUNT `clearBatchSize` and UNLINKs what matches.
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
import { COMPLETE, indexKeyFor } from "../lib/_key_index.ts";
import { markdownTable, ms, quantile } from "./stats.ts";
import { RedisStore } from "../lib/mod.ts";

/** One configuration of the clear: medians over its rounds. */
export interface ClearAllRow {
  mode: "index" | "scan";
  clearBatchSize: number;
  /** Server time each index drain call aims at (`clearCommandUs`), in µs. */
  clearCommandUs: number;
  rounds: number;
  /** Keys in Redis when the clear started (the cache's and the others'). */
  totalKeys: number;
  keys: number;
  seconds: number;
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
  /** The clear's command (EVAL of the drain, or SCAN) on the server: calls, µs/call, p99 µs. */
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
    | "pingsPerS"
    | "serverCalls"
    | "serverUsPerCall"
    | "serverP99Us"
    | "unlinkUsPerCall"
    | "otherKeysLeft"
  >
  & { baseline: number[]; during: number[]; cpuOnly: number[]; pingOnly: number[] };

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

/** A percentile of a command's latency in `INFO latencystats`, in µs (NaN when absent). */
function latencyStat(info: string, command: string, percentile: string): number {
  const line = info.split("\n").find((l) => l.startsWith(`latency_percentiles_usec_${command}:`));
  const match = line?.match(new RegExp(`${percentile}=([0-9.]+)`));
  return match ? Number(match[1]) : NaN;
}

/**
 * How many of `<prefix><n>` for n < count exist (EXISTS of 1,000 names a call, 16 calls
 * in flight: all at once would outlast node-redis's 5 s command timeout on a busy machine).
 */
async function countExisting(
  client: RedisClientType,
  prefix: string,
  count: number,
): Promise<number> {
  let existing = 0;
  for (let start = 0; start < count; start += 16_000) {
    const calls: Promise<number>[] = [];
    for (let from = start; from < Math.min(count, start + 16_000); from += 1000) {
      const names = [];
      for (let n = from; n < Math.min(count, from + 1000); n++) names.push(`${prefix}${n}`);
      calls.push(client.exists(names).then(Number));
    }
    for (const n of await Promise.all(calls)) existing += n;
  }
  return existing;
}

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
  mode: "index" | "scan";
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
  await client.del([
    indexKey,
    `${indexKey}:draining`,
    `${indexKey}:cursor`,
    "{cache:bench_clear}:gen",
  ]);
  await fillKeys(port, "cache:bench_clear:", cacheKeys, mode === "index" ? indexKey : undefined);
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
  const clearEnd = now();
  if (result.status !== "cleared") throw new Error(`clearAll: ${JSON.stringify(result)}`);
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
  const cacheKeysLeft = await countExisting(client, "cache:bench_clear:", cacheKeys);
  const otherKeysLeft = await countExisting(client, "cache:other:", otherKeys);
  if (cacheKeysLeft !== 0 || otherKeysLeft !== otherKeys) {
    throw new Error(
      `after clearAll: ${cacheKeysLeft} cache keys (want 0), ${otherKeysLeft} other keys (want ${otherKeys})`,
    );
  }
  const command = mode === "index" ? "eval" : "scan";
  return {
    totalKeys: before,
    seconds: (clearEnd - clearStart) / 1000,
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
      "time",
      "keys/s (each round)",
      "other GET p50 / p99 before",
      "other GET p50 / p99 during",
      "p99 during / before (each round)",
      "control p99: CPU burn only; PINGs only (PINGs/s)",
      "server: calls, µs/call, p99 µs (EVAL of the drain, or SCAN); UNLINK µs/call",
      "other keys left",
    ],
    ...rows.map((r) => [
      r.mode === "index" ? "key index" : "SCAN",
      r.mode === "index" ? `${r.clearBatchSize}; ${r.clearCommandUs} µs` : `${r.clearBatchSize}; -`,
      r.totalKeys.toLocaleString("en-US"),
      r.keys.toLocaleString("en-US"),
      `${r.seconds.toFixed(2)} s`,
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
