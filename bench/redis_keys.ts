/**
 * The Redis side of `clear_all_bench.ts`: filling a database fast (`redis-cli --pipe`),
 * counting which of many keys exist, and reading `INFO` figures.
 *
 * @module
 */
import type { RedisClientType } from "redis";
import { COMPLETE } from "../lib/_key_index.ts";

const encoder = new TextEncoder();

/** One command in the Redis protocol (RESP), as `redis-cli --pipe` reads it. */
export function resp(args: string[]): string {
  let out = `*${args.length}\r\n`;
  for (const arg of args) out += `$${encoder.encode(arg).length}\r\n${arg}\r\n`;
  return out;
}

/**
 * Writes `count` keys `<prefix><n>` with a small entry-shaped value through
 * `redis-cli --pipe` into database `db` (0 by default); with `indexKey`, also each key's
 * member `<n>` in that key index and, at the end, its completeness mark (what the cache's
 * writes and first clear leave).
 *
 * @throws {Error} If redis-cli reports errors or a different reply count.
 */
export async function fillKeys(
  port: number,
  prefix: string,
  count: number,
  indexKey?: string,
  db = 0,
): Promise<void> {
  const child = new Deno.Command("redis-cli", {
    args: ["-h", "127.0.0.1", "-p", String(port), "-n", String(db), "--pipe"],
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
export function commandStat(info: string, command: string, field: string): number {
  const line = info.split("\n").find((l) => l.startsWith(`cmdstat_${command}:`));
  const match = line?.match(new RegExp(`${field}=([0-9.]+)`));
  return match ? Number(match[1]) : NaN;
}

/** A percentile of a command's latency in `INFO latencystats`, in µs (NaN when absent). */
export function latencyStat(info: string, command: string, percentile: string): number {
  const line = info.split("\n").find((l) => l.startsWith(`latency_percentiles_usec_${command}:`));
  const match = line?.match(new RegExp(`${percentile}=([0-9.]+)`));
  return match ? Number(match[1]) : NaN;
}

/**
 * How many of `<prefix><n>` for n < count exist (EXISTS of 1,000 names a call, 16 calls
 * in flight: all at once would outlast node-redis's 5 s command timeout on a busy machine).
 */
export async function countExisting(
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

/** Objects Redis's background thread has still to free (`INFO memory`). */
export async function lazyfreePending(client: RedisClientType): Promise<number> {
  const info = String(await client.sendCommand(["INFO", "memory"]));
  return Number(info.match(/lazyfree_pending_objects:(\d+)/)?.[1] ?? 0);
}
