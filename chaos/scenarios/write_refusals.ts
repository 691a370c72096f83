/**
 * Redis refusing writes while reads still work: out of memory (`maxmemory` reached with
 * `noeviction`: `-OOM`), a failed background save (`stop-writes-on-bgsave-error`:
 * `-MISCONF`), and a failed AOF write (`-MISCONF Errors writing to the AOF file`). The
 * items keys are deleted as the fault starts, so the load keeps missing: every miss must
 * still be answered (computed, not stored), hits keep being served, and once the fault is
 * lifted the next misses are stored again.
 *
 * The OOM and AOF variants end with a probe: the fault starts again while a fill-lock
 * leader computes (its items SQL held by a table lock), so its fenced write and its
 * release meet the refusal; once writes are accepted, the next request for that key is
 * timed. Scripts that may write are refused under MISCONF (the release script included);
 * under OOM the release only deletes, which is allowed.
 *
 * @module
 */
import { withClient } from "../entries.ts";
import {
  dropItems,
  type Harness,
  holdResultsTable,
  itemsQueryWaiting,
  VIEWER_HEADERS,
} from "../harness.ts";
import { request, type Sample } from "../load.ts";
import { waitFor } from "../process.ts";
import type { ChaosRedis } from "../redis.ts";
import type { Row } from "../report.ts";
import { duration, type FaultContext, underLoad } from "./_under_load.ts";

/** How many commands Redis refused with the error `code` (INFO errorstats). */
async function refused(redis: ChaosRedis, code: string): Promise<number> {
  const stats = await redis.info("errorstats");
  return Number(/count=(\d+)/.exec(stats[`errorstat_${code}`] ?? "")?.[1] ?? 0);
}

interface Refusal {
  scenario: string;
  redisArgs?: string[];
  /** The error code Redis counts (`OOM`, `MISCONF`). */
  code: string;
  /**
   * Deletes the items keys and makes Redis refuse writes, in an order that leaves the load
   * no time to fill the keys again before the refusal starts; returns a phrase saying how.
   */
  inject(redis: ChaosRedis): Promise<string>;
  /** Makes it accept writes again. */
  lift(redis: ChaosRedis): Promise<void>;
  /**
   * After the load, inject the fault once more while a fill-lock leader computes (its
   * items SQL held by a table lock), and time the next request for that key. @default {false}
   */
  leaderProbe?: boolean;
}

/**
 * The documented bound for an orphaned fill lock: followers take over a leader that has not
 * extended its lease for 2.5 heartbeats (1 s each), plus a poll and slack.
 */
const PROBE_BOUND_MS = 4000;

/**
 * The refusal starts while a leader computes: its fenced write and its release meet the
 * refusal. Returns the two requests (the leader's, the next one).
 */
async function probeLeader(context: FaultContext, refusal: Refusal): Promise<Sample[]> {
  const { harness, redis, servers, notes, problems } = context;
  const target = harness.itemsTargets[1];
  await dropItems(redis);
  const table = await holdResultsTable(harness);
  let leader: Promise<Sample>;
  try {
    leader = request(servers.urls[0], target, harness.oracle, { headers: VIEWER_HEADERS });
    await waitFor("the leader to wait in Postgres", () => itemsQueryWaiting(harness));
    await refusal.inject(redis);
  } finally {
    await table.release();
  }
  const led = await leader;
  const locks = (await redis.cli("--scan", "--pattern", "{cache:po_items:*}:lock"))
    .split("\n").filter(Boolean);
  const leaseLeft = locks.length > 0 ? await redis.cli("PTTL", locks[0]) : "-";
  await refusal.lift(redis);
  const next = await request(servers.urls[0], target, harness.oracle, {
    headers: VIEWER_HEADERS,
  });
  const ms = (s: Sample) => duration(s.endedAt - s.startedAt);
  notes.push(
    `a leader computing as the refusal began: ${led.xCache} in ${ms(led)}; ` +
      `${locks.length} fill lock left (${leaseLeft} ms of lease); the next request once ` +
      `writes were accepted: ${next.xCache} in ${ms(next)}`,
  );
  if (next.endedAt - next.startedAt > PROBE_BOUND_MS) {
    problems.push(
      `the leader's release was refused and its fill lock outlived it: the next request ` +
        `for that key waited ${ms(next)}`,
    );
  }
  return [led, next];
}

function refusalScenario(harness: Harness, refusal: Refusal): Promise<Row> {
  let before = 0;
  return underLoad(harness, {
    scenario: refusal.scenario,
    redisArgs: refusal.redisArgs,
    durationMs: 10_000,
    async fault({ redis, at, notes, problems }: FaultContext) {
      await at(2000);
      before = await refused(redis, refusal.code);
      notes.push(await refusal.inject(redis));
      const probe = await redis.cli("SET", "chaos:probe", "1");
      if (!probe.startsWith(refusal.code)) problems.push(`a write was not refused: ${probe}`);
      await at(8000);
      await refusal.lift(redis);
      const after = await redis.cli("SET", "chaos:probe", "1");
      if (after !== "OK") {
        problems.push(`writes still refused after the fault was lifted: ${after}`);
      }
    },
    async check(context, load, final) {
      const { redis, notes, problems } = context;
      const count = (await refused(redis, refusal.code)) - before;
      notes.push(
        `${count} writes refused with ${refusal.code} over 6 s; ` +
          `${load.filter((s) => s.xCache === "MISS").length} misses answered`,
      );
      if (count === 0) problems.push(`Redis refused no write with ${refusal.code}`);
      if (refusal.leaderProbe) final.push(...await probeLeader(context, refusal));
    },
  });
}

/** `maxmemory` reached under `noeviction`: every write is `-OOM`. */
export function redisOom(harness: Harness): Promise<Row> {
  return refusalScenario(harness, {
    scenario: "Redis out of memory (noeviction)",
    redisArgs: ["--maxmemory-policy", "noeviction"],
    code: "OOM",
    leaderProbe: true,
    async inject(redis) {
      const used = (await redis.info("memory")).used_memory_human;
      await redis.cli("CONFIG", "SET", "maxmemory", "1");
      const dropped = await dropItems(redis); // DEL is allowed out of memory
      return `maxmemory set to 1 byte (used ${used}, policy noeviction), then ${dropped} items keys deleted`;
    },
    async lift(redis) {
      await redis.cli("CONFIG", "SET", "maxmemory", "256mb");
    },
  });
}

/** A background save fails (the disk refuses the RDB): every write is `-MISCONF`. */
export function redisMisconf(harness: Harness): Promise<Row> {
  return refusalScenario(harness, {
    scenario: "Redis MISCONF (failed BGSAVE)",
    // MISCONF needs save points (`save ""`, the profile's, never refuses writes) and no AOF
    // (its own write errors are the next scenario).
    redisArgs: ["--appendonly", "no", "--save", "3600 1", "--stop-writes-on-bgsave-error", "no"],
    code: "MISCONF",
    async inject(redis) {
      // The save fails first, while stop-writes-on-bgsave-error is still off; then one
      // transaction deletes the items keys and turns it on: from its EXEC on, every write
      // is refused, with no moment for the load to fill the keys again.
      await redis.limitFileSize(1);
      await redis.cli("BGSAVE");
      await waitFor(
        "a failed BGSAVE",
        async () => (await redis.info("persistence")).rdb_last_bgsave_status === "err",
      );
      const keys = [...await redis.cacheKeys()].filter((k) => k.startsWith("cache:po_items:"));
      await withClient(redis.url, async (client) => {
        await client.multi().del(keys).configSet("stop-writes-on-bgsave-error", "yes").exec();
      });
      return `BGSAVE failed (file size limit: EFBIG), then ${keys.length} items keys deleted ` +
        "and stop-writes-on-bgsave-error turned on in one transaction";
    },
    async lift(redis) {
      await redis.limitFileSize("unlimited");
      // MISCONF clears only after a save succeeds.
      await waitFor("a successful BGSAVE", async () => {
        const info = await redis.info("persistence");
        if (info.rdb_bgsave_in_progress === "0" && info.rdb_last_bgsave_status !== "ok") {
          await redis.cli("BGSAVE");
        }
        return info.rdb_last_bgsave_status === "ok";
      }, { everyMs: 100 });
    },
  });
}

/** The AOF cannot be written (a full disk): every write is `-MISCONF Errors writing to the AOF`. */
export function redisAofWriteError(harness: Harness): Promise<Row> {
  return refusalScenario(harness, {
    scenario: "Redis AOF write error",
    code: "MISCONF",
    leaderProbe: true,
    async inject(redis) {
      await redis.limitFileSize(1);
      // The DEL is the first write to reach the AOF (a SET follows, in case there was
      // nothing to delete): it fails, and Redis refuses writes from then on.
      const dropped = await dropItems(redis);
      await redis.cli("SET", "chaos:trigger", "1");
      await waitFor(
        "an AOF write error",
        async () => (await redis.info("persistence")).aof_last_write_status === "err",
        { everyMs: 5 },
      );
      return `${dropped} items keys deleted; their AOF write failed (file size limit: EFBIG)`;
    },
    async lift(redis) {
      await redis.limitFileSize("unlimited");
      // Redis retries the buffered AOF write by itself (serverCron) and clears the error.
      await waitFor(
        "the AOF write error to clear",
        async () => (await redis.info("persistence")).aof_last_write_status === "ok",
      );
    },
  });
}
