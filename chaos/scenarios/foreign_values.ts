/**
 * Values the server did not write, under its own keys, mid-load: garbage, truncated JSON
 * and truncated compressed entries, foreign JSON, `null`, an entry of an older version, a
 * hash and a list (WRONGTYPE), a broken `z1:` payload, and a 20 MB string. Every response
 * must stay right, and every broken key must end up holding its own well-formed entry.
 *
 * A second scenario swaps two well-formed entries of the same version between their keys
 * (what a botched manual copy or a key-derivation bug would leave): each parses, so only a
 * check of the entry against its key can tell.
 *
 * @module
 */
import { entryProblem, withClient } from "../entries.ts";
import type { Harness } from "../harness.ts";
import type { Row } from "../report.ts";
import { type FaultContext, underLoad } from "./_under_load.ts";

/** 20 MB: above the library's 16 MiB `maxValueBytes`, far above any real entry. */
const OVERSIZED_BYTES = 20 * 1024 * 1024;

async function keysOf(context: FaultContext, prefix: string): Promise<string[]> {
  return [...await context.redis.cacheKeys()].filter((k) => k.startsWith(prefix)).sort();
}

/** Checks that every key in `keys` holds its own well-formed entry at the end. */
async function checkRepaired(context: FaultContext, keys: string[]): Promise<void> {
  const broken = await withClient(context.redis.url, async (client) => {
    const found: string[] = [];
    for (const key of keys) {
      const problem = await entryProblem(client, key);
      if (problem) found.push(problem);
    }
    return found;
  });
  if (broken.length > 0) context.problems.push(...broken.slice(0, 4));
  else context.notes.push(`all ${keys.length} damaged keys hold their own entry again`);
}

/** Runs the scenario with foreign, truncated and oversized values. */
export function foreignValues(harness: Harness): Promise<Row> {
  let damaged: string[] = [];
  return underLoad(harness, {
    scenario: "foreign, truncated, oversized values",
    durationMs: 8000,
    async fault(context) {
      await context.at(2000);
      const items = await keysOf(context, "cache:po_items:");
      const [hmis] = (await keysOf(context, "cache:ds_hmis:")).sort((a, b) => a.length - b.length);
      const metrics = await keysOf(context, "cache:metric_info:");
      await withClient(context.redis.url, async (client) => {
        const value = async (key: string) => (await client.get(key)) ?? "";
        const big = await value(hmis);
        const stale = JSON.stringify({ versionHash: "f0:stale", data: { body: { items: [] } } });
        const damage: [string, () => Promise<unknown>][] = [
          [items[0], () => client.set(items[0], "not json {")],
          [items[1], async () => client.set(items[1], (await value(items[1])).slice(0, 40))],
          [items[2], () => client.set(items[2], JSON.stringify({ hello: "world" }))],
          [items[3], async () => {
            await client.del(items[3]);
            await client.hSet(items[3], "versionHash", "x");
          }],
          [items[4], () => client.set(items[4], "x".repeat(OVERSIZED_BYTES))],
          [items[5], () => client.set(items[5], "z1:!!not-base64-deflate!!")],
          [items[6], () => client.set(items[6], stale)],
          [items[7], async () => {
            await client.del(items[7]);
            await client.rPush(items[7], ["a", "b"]);
          }],
          [hmis, () => client.set(hmis, big.slice(0, Math.floor(big.length / 2)))],
          [metrics[0], () => client.set(metrics[0], "null")],
          [metrics[1], () => client.set(metrics[1], "[1,2,3]")],
        ];
        for (const [, write] of damage) await write();
        damaged = damage.map(([key]) => key);
      });
      context.notes.push(
        `${damaged.length} keys damaged (garbage, truncated JSON, foreign JSON, hash, 20 MB, ` +
          `bad z1:, stale version, list, truncated compressed, null, array)`,
      );
    },
    check: (context) => checkRepaired(context, damaged),
  });
}

/** Runs the scenario with two well-formed entries swapped between their keys. */
export function swappedEntries(harness: Harness): Promise<Row> {
  let swapped: string[] = [];
  return underLoad(harness, {
    scenario: "well-formed entries swapped between keys",
    durationMs: 6000,
    async fault(context) {
      await context.at(2000);
      const [a, b] = await keysOf(context, "cache:po_items:");
      await withClient(context.redis.url, async (client) => {
        const [va, vb] = [await client.get(a), await client.get(b)];
        await client.set(a, vb ?? "");
        await client.set(b, va ?? "");
      });
      swapped = [a, b];
      context.notes.push("the entries of two presentation objects' items swapped");
    },
    check: (context) => checkRepaired(context, swapped),
  });
}
