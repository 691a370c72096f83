/**
 * `CLIENT PAUSE` for 3 s, three times the 1 s reply deadline. Hits the process's L1 holds
 * never ask Redis, so each variant first makes the items requests need Redis:
 *
 * - `ALL`: the items keys are rewritten with their own values (Redis invalidates the L1
 *   copies, the data stays), then Redis answers nothing for 3 s. Each items request should
 *   wait about one deadline (the timed-out call opens the 1 s breaker, so later calls skip
 *   Redis), then answer from Postgres.
 * - `WRITE` (what Redis itself does during a failover): the items keys are deleted, then
 *   writes and scripts are held for 3 s while reads go on. Each miss's fill-lock `SET NX`
 *   is held: it times out and the request computes alone; afterwards the held `SET NX`
 *   still runs and takes the lock for `leaseMs`, with no process behind it.
 *
 * @module
 */
import { dropItems, type Harness, VIEWER_HEADERS } from "../harness.ts";
import { request, type Sample } from "../load.ts";
import { sleep } from "../process.ts";
import { withClient } from "../entries.ts";
import type { ChaosRedis } from "../redis.ts";
import type { Row } from "../report.ts";
import { duration, type FaultContext, underLoad } from "./_under_load.ts";

/** The server's reply deadline (`REDIS_COMMAND_TIMEOUT_MS` default). */
const DEADLINE_MS = 1000;
const PAUSE_MS = 3000;
/** A request may meet two sequential deadlines (the batch route's two phases), plus slack. */
const BOUND_MS = 2 * DEADLINE_MS + 500;

/**
 * In one transaction: rewrites every items key with its own value and TTL (each L1 drops
 * its copy, Redis keeps the data), then pauses all clients for `PAUSE_MS`.
 */
async function invalidateAndPause(redis: ChaosRedis): Promise<number> {
  const keys = [...await redis.cacheKeys()].filter((k) => k.startsWith("cache:po_items:"));
  await withClient(redis.url, async (client) => {
    const multi = client.multi();
    for (const key of keys) {
      multi.eval("return redis.call('SET', KEYS[1], redis.call('GET', KEYS[1]), 'KEEPTTL')", {
        keys: [key],
      });
    }
    multi.clientPause(PAUSE_MS, "ALL");
    await multi.exec();
  });
  return keys.length;
}

function pauseCheck(pausedAt: () => number) {
  return async ({ notes, problems }: FaultContext, load: Sample[]) => {
    const during = load.filter((s) =>
      s.endedAt >= pausedAt() && s.startedAt <= pausedAt() + PAUSE_MS
    );
    const after = load.filter((s) => s.startedAt > pausedAt() + PAUSE_MS);
    const waited = during.filter((s) => s.endedAt - s.startedAt >= DEADLINE_MS * 0.9).length;
    notes.push(
      `${during.length} requests overlapped the pause (${waited} waited about one deadline), ` +
        `${during.filter((s) => s.xCache === "BYPASS").length} of them BYPASS`,
    );
    const slow = [...during, ...after].filter((s) => s.endedAt - s.startedAt > BOUND_MS);
    if (slow.length > 0) {
      const paths = [...new Set(slow.map((s) => s.path.replace(/^\/api\/projects\/demo\//, "")))];
      const worst = Math.max(...slow.map((s) => s.endedAt - s.startedAt));
      problems.push(
        `${slow.length} requests waited more than ${duration(BOUND_MS)} (up to ${
          duration(worst)
        }), ${slow.filter((s) => s.startedAt > pausedAt() + PAUSE_MS).length} of them ` +
          `started after the pause had ended: ${paths.slice(0, 3).join(", ")}`,
      );
    }
    await Promise.resolve();
  };
}

/** `CLIENT PAUSE 3000 ALL` with the items values still in Redis. */
export function clientPauseAll(harness: Harness): Promise<Row> {
  let pausedAt = 0;
  return underLoad(harness, {
    scenario: "CLIENT PAUSE ALL 3 s (deadline 1 s)",
    durationMs: 10_000,
    slowMs: Infinity, // checked against BOUND_MS below
    async fault({ redis, at, notes }) {
      await at(3000);
      pausedAt = performance.now();
      const rewritten = await invalidateAndPause(redis);
      notes.push(`${rewritten} items keys rewritten (L1 copies invalidated) as the pause began`);
    },
    check: pauseCheck(() => pausedAt),
  });
}

/** `CLIENT PAUSE 3000 WRITE` with the items keys deleted. */
export function clientPauseWrite(harness: Harness): Promise<Row> {
  let pausedAt = 0;
  return underLoad(harness, {
    scenario: "CLIENT PAUSE WRITE 3 s (deadline 1 s)",
    durationMs: 10_000,
    slowMs: Infinity, // checked against BOUND_MS below
    async fault({ redis, at, notes }) {
      await at(3000);
      const dropped = await dropItems(redis);
      pausedAt = performance.now();
      await redis.cli("CLIENT", "PAUSE", String(PAUSE_MS), "WRITE");
      notes.push(`${dropped} items keys deleted just before`);
    },
    async check(context, load, final) {
      await pauseCheck(() => pausedAt)(context, load);
      // Under load, writes held by the pause land after it and hide what a lone miss shows:
      // its held SET NX takes the fill lock once the pause ends, with no process behind it.
      const { harness, redis, servers, notes, problems } = context;
      const target = harness.itemsTargets[0];
      await dropItems(redis);
      await redis.cli("CLIENT", "PAUSE", "1500", "WRITE");
      const pauseEnds = performance.now() + 1500;
      const during = await request(servers.urls[0], target, harness.oracle, {
        headers: VIEWER_HEADERS,
      });
      // Past the pause and past the 1 s breaker its timed-out call opened.
      await sleep(Math.max(pauseEnds, during.endedAt + 1000) + 300 - performance.now());
      const orphans = (await redis.cli("--scan", "--pattern", "{cache:po_items:*}:lock"))
        .split("\n").filter(Boolean).length;
      const next = await request(servers.urls[0], target, harness.oracle, {
        headers: VIEWER_HEADERS,
      });
      final.push(during, next);
      const ms = (s: Sample) => duration(s.endedAt - s.startedAt);
      notes.push(
        `a lone miss during a 1.5 s WRITE pause: ${during.xCache} in ${ms(during)}; ` +
          `${orphans} fill lock held after the pause; the next request: ${next.xCache} in ${
            ms(next)
          }`,
      );
      if (next.endedAt - next.startedAt > BOUND_MS) {
        problems.push(
          `the lone miss's fill lock outlived the pause with no holder: the next request ` +
            `for that key waited ${ms(next)}`,
        );
      }
    },
  });
}
