/**
 * AOF rewrite and load times of wb's Redis profile, for sizing (docs/operations.md,
 * "Sizing"). A redis-server runs with the config `wb` generates (`cli/redis.conf` plus the
 * instance lines, `redisConfigText`; `maxmemory` raised so nothing is evicted) and is filled
 * through `redis-cli --pipe` with cache-shaped entries: keys `cache:po_items:<40 hex>`,
 * values of 1 to 4 KiB of incompressible text (like the deflated entries the cache stores;
 * Kano's objects are 1.0 to 4.1 KiB each in Redis, `bench/memory_bench.ts`), each with a 15
 * to 30-day TTL, until `used_memory` reaches the target. Then, per target size:
 *
 * - `BGREWRITEAOF`: its time (`aof_last_rewrite_time_sec` and wall clock) and the AOF's size
 *   on disk (the RDB-preamble base file);
 * - a restart (`SHUTDOWN`, then `redis-server` again): time until it answers at all
 *   (`LOADING`), time until `PONG`, and the load time Redis logs;
 * - 10% more entries written after the rewrite (replayed command by command from the
 *   incremental AOF at the next start), then a restart again.
 *
 * Usage: `deno run -A bench/aof_bench.ts [targetMiB ...]` (default 256 1024).
 *
 * @module
 */
import { REDIS_PROFILE_URL, redisConfigText } from "../cli/redis_config.ts";
import { freePort } from "../lib/testing/redis_server.ts";
import { markdownTable } from "./stats.ts";
import { resp } from "./redis_keys.ts";

/** One target size. */
export interface AofRow {
  targetMiB: number;
  keys: number;
  usedMemoryBytes: number;
  /** `used_memory` / keys, in bytes. */
  bytesPerKey: number;
  rewriteS: number;
  aofBytes: number;
  /** Spawn to the first reply (`LOADING` or `PONG`), in seconds. */
  firstReplyS: number;
  /** Spawn to `PONG`, in seconds. */
  pongS: number;
  /** What Redis logged: `DB loaded from append only file: <s> seconds`. */
  loggedLoadS: number;
  /** After 10% more keys written past the rewrite: incremental AOF size, load to PONG. */
  incrBytes: number;
  incrPongS: number;
  incrLoggedLoadS: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** How `redis-cli` reaches a Redis: its connection arguments and its password. */
export interface RedisCliTarget {
  /** Connection arguments, e.g. `["-h", "127.0.0.1", "-p", "6379"]` or `["-s", socket]`. */
  args: string[];
  /** Its password, passed in `REDISCLI_AUTH` (never in argv). */
  password: string;
}

/**
 * Runs `redis-cli <args>` against `target`.
 *
 * @returns Its stdout, trimmed (an error reply such as `LOADING …` is in the text).
 */
export async function redisCli(target: RedisCliTarget, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("redis-cli", {
    args: [...target.args, ...args],
    env: { REDISCLI_AUTH: target.password },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return decoder.decode(out.stdout).trim();
}

const PASSWORD = "aof-bench-password";

/**
 * A pool of random base64 text to cut filler values from (incompressible, like deflated
 * JSON).
 *
 * @param bytes Random bytes to encode (the text is 4/3 of it).
 */
export function randomPool(bytes: number): string {
  const raw = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 65_536) crypto.getRandomValues(raw.subarray(i, i + 65_536));
  let text = "";
  for (let i = 0; i < raw.length; i += 32_768) {
    text += btoa(String.fromCharCode(...raw.subarray(i, i + 32_768)));
  }
  return text;
}

/**
 * Writes `count` cache-shaped entries numbered from `first` with `redis-cli --pipe`: keys
 * `cache:po_items:<40 hex of the number>`, values `z1:` + 1 to 4 KiB cut from `pool`, TTLs
 * of 15 to 30 days.
 *
 * @param pool From {@linkcode randomPool} (at least 4 KiB).
 * @throws {Error} When `redis-cli --pipe` reports an error or a missing reply.
 */
export async function fillEntries(
  target: RedisCliTarget,
  first: number,
  count: number,
  pool: string,
): Promise<void> {
  const child = new Deno.Command("redis-cli", {
    args: [...target.args, "--pipe"],
    env: { REDISCLI_AUTH: target.password },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const day = 86_400;
  for (let start = first; start < first + count; start += 2000) {
    let text = "";
    for (let n = start; n < Math.min(first + count, start + 2000); n++) {
      const size = 1024 + ((n * 2654435761) >>> 0) % 3072;
      const offset = ((n * 40503) >>> 0) % (pool.length - size);
      const key = `cache:po_items:${n.toString(16).padStart(40, "0")}`;
      const ttl = 15 * day + (n % (15 * day));
      text += resp(["SET", key, `z1:${pool.slice(offset, offset + size)}`, "EX", String(ttl)]);
    }
    await writer.write(encoder.encode(text));
  }
  await writer.close();
  const out = await child.output();
  const report = decoder.decode(out.stdout);
  if (!report.includes(`errors: 0, replies: ${count}`)) {
    throw new Error(`redis-cli --pipe failed:\n${report}${decoder.decode(out.stderr)}`);
  }
}

/**
 * `INFO` field `field` as a number.
 *
 * @param info `INFO` text.
 * @returns The value, or `NaN` when the field is missing.
 */
export function infoField(info: string, field: string): number {
  return Number(info.match(new RegExp(`^${field}:([0-9.]+)`, "m"))?.[1] ?? NaN);
}

/**
 * Fills Redis with {@linkcode fillEntries} until `used_memory` reaches `targetBytes`.
 *
 * @param first The first entry number (entries already written keep theirs).
 * @returns How many entries were written (0 when Redis already held that much).
 */
export async function fillToUsedMemory(
  target: RedisCliTarget,
  targetBytes: number,
  pool: string,
  first = 0,
): Promise<number> {
  let written = 0;
  for (;;) {
    const used = infoField(await redisCli(target, "INFO", "memory"), "used_memory");
    if (!(used < targetBytes)) return written;
    // Entries average about 2.6 KiB in memory; fill most of what is left, then top up.
    const batch = Math.max(2000, Math.floor((targetBytes - used) / 2600 * 0.9));
    await fillEntries(target, first + written, batch, pool);
    written += batch;
  }
}

/**
 * `BGREWRITEAOF`, then waits until no rewrite is in progress or scheduled.
 *
 * @returns Its wall-clock time, in seconds.
 */
export async function rewriteAof(target: RedisCliTarget): Promise<number> {
  const t0 = performance.now();
  await redisCli(target, "BGREWRITEAOF");
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    const info = await redisCli(target, "INFO", "persistence");
    if (
      infoField(info, "aof_rewrite_in_progress") === 0 &&
      infoField(info, "aof_rewrite_scheduled") === 0
    ) break;
  }
  return (performance.now() - t0) / 1000;
}

/**
 * Bytes of the files in `dir` whose names end with `suffix`.
 *
 * @param dir An `appendonlydir`: its base (`.rdb`, RDB preamble) and incremental (`.aof`)
 *   files.
 */
export async function dirBytes(dir: string, suffix: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.endsWith(suffix)) total += (await Deno.stat(`${dir}/${entry.name}`)).size;
  }
  return total;
}

/** Starts redis-server on `conf`; resolves the times to the first reply and to PONG. */
async function startTimed(
  conf: string,
  port: number,
  log: string,
): Promise<{ child: Deno.ChildProcess; firstReplyS: number; pongS: number; loggedS: number }> {
  const logBefore = (await Deno.readTextFile(log).catch(() => "")).length;
  const t0 = performance.now();
  const child = new Deno.Command("redis-server", {
    args: [conf],
    stdout: "null",
    stderr: "null",
  }).spawn();
  let firstReplyS = NaN;
  for (;;) {
    const reply = await redisCli(tcp(port), "PING");
    const s = (performance.now() - t0) / 1000;
    if (reply && Number.isNaN(firstReplyS)) firstReplyS = s;
    if (reply === "PONG") {
      const text = (await Deno.readTextFile(log)).slice(logBefore);
      const logged = text.match(/DB loaded from append only file: ([0-9.]+) seconds/);
      return { child, firstReplyS, pongS: s, loggedS: Number(logged?.[1] ?? NaN) };
    }
    if (s > 600) throw new Error("redis-server did not answer PONG within 600 s");
    await new Promise((r) => setTimeout(r, 20));
  }
}

const tcp = (port: number): RedisCliTarget => ({
  args: ["-h", "127.0.0.1", "-p", String(port)],
  password: PASSWORD,
});

async function shutdown(port: number, child: Deno.ChildProcess): Promise<void> {
  await redisCli(tcp(port), "SHUTDOWN");
  await child.status;
}

/**
 * Measures one target size in a fresh directory.
 *
 * @param targetMiB `used_memory` to fill up to, in MiB.
 */
export async function benchAof(targetMiB: number, pool: string): Promise<AofRow> {
  const dir = await Deno.makeTempDir({ prefix: "wb-aof-bench-" });
  const port = freePort();
  const conf = `${dir}/redis.conf`;
  const log = `${dir}/redis.log`;
  const profile = await Deno.readTextFile(REDIS_PROFILE_URL);
  await Deno.writeTextFile(
    conf,
    redisConfigText(
      profile,
      { id: "aof-bench", redisMaxmemory: "16gb", redisMaxmemoryPolicy: "allkeys-lru" },
      { port, bind: "127.0.0.1", dir, logfile: log },
      PASSWORD,
    ),
  );
  let { child } = await startTimed(conf, port, log);
  try {
    const keys = await fillToUsedMemory(tcp(port), targetMiB * 1024 * 1024, pool);
    const usedMemoryBytes = infoField(await redisCli(tcp(port), "INFO", "memory"), "used_memory");
    const aofDir = `${dir}/appendonlydir`;
    const rewriteS = await rewriteAof(tcp(port));
    const aofBytes = await dirBytes(aofDir, ".rdb") + await dirBytes(aofDir, ".aof");
    await shutdown(port, child);
    const load = await startTimed(conf, port, log);
    child = load.child;
    const extra = Math.round(keys / 10);
    await fillEntries(tcp(port), keys, extra, pool);
    await shutdown(port, child);
    const incrBytes = await dirBytes(aofDir, ".incr.aof");
    const incr = await startTimed(conf, port, log);
    child = incr.child;
    return {
      targetMiB,
      keys,
      usedMemoryBytes,
      bytesPerKey: usedMemoryBytes / keys,
      rewriteS,
      aofBytes,
      firstReplyS: load.firstReplyS,
      pongS: load.pongS,
      loggedLoadS: load.loggedS,
      incrBytes,
      incrPongS: incr.pongS,
      incrLoggedLoadS: incr.loggedS,
    };
  } finally {
    await shutdown(port, child).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

/** Renders the rows. */
export function formatAof(rows: AofRow[]): string {
  return markdownTable([
    [
      "used_memory",
      "keys",
      "bytes per key",
      "BGREWRITEAOF",
      "AOF on disk",
      "restart: first reply (LOADING)",
      "restart: PONG (Redis's load time)",
      "+10% keys after the rewrite: incr AOF",
      "restart: PONG (Redis's load time)",
    ],
    ...rows.map((r) => [
      mib(r.usedMemoryBytes),
      r.keys.toLocaleString("en-US"),
      Math.round(r.bytesPerKey).toLocaleString("en-US"),
      `${r.rewriteS.toFixed(1)} s`,
      mib(r.aofBytes),
      `${r.firstReplyS.toFixed(2)} s`,
      `${r.pongS.toFixed(1)} s (${r.loggedLoadS.toFixed(1)} s)`,
      mib(r.incrBytes),
      `${r.incrPongS.toFixed(1)} s (${r.incrLoggedLoadS.toFixed(1)} s)`,
    ]),
  ]);
}

if (import.meta.main) {
  const targets = Deno.args.length > 0 ? Deno.args.map(Number) : [256, 1024];
  const pool = randomPool(4 * 1024 * 1024);
  const rows: AofRow[] = [];
  for (const target of targets) {
    rows.push(await benchAof(target, pool));
    console.error(formatAof(rows.slice(-1)));
  }
  console.log(formatAof(rows));
}
