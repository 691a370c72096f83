/**
 * `kill -9` of Redis right after a write burst. The server fills a new key per request
 * (`/api/datasets/hmis/summary?indicatorId=burst-<n>`: one `ds_hmis` entry each, written
 * before the response is sent), Redis is SIGKILLed while the burst runs, and restarted on
 * its AOF (`appendfsync everysec`). Every key whose response ended more than 1 s before
 * the kill must be back; keys of the last second are counted apart (a killed process loses
 * nothing that reached the kernel; a machine crash could lose up to about 1 s).
 *
 * @module
 */
import { uniquenessHashOf } from "../../server/caches.ts";
import {
  type Harness,
  hmisSummaryRuns,
  resetProducerRuns,
  startServers,
  UNKNOWN_INDICATOR_PATH,
  VIEWER_HEADERS,
} from "../harness.ts";
import { request, type Sample } from "../load.ts";
import { sleep } from "../process.ts";
import { startChaosRedis } from "../redis.ts";
import { type Row, tally } from "../report.ts";
import { duration } from "./_under_load.ts";

const FETCHERS = 8;
const KILL_AFTER_MS = 3000;
/** The AOF's bound: `appendfsync everysec`. */
const AOF_BOUND_MS = 1000;

/** The Redis key the server fills for `indicatorId` (the route's uniqueness params). */
function keyOf(indicatorId: string): string {
  return `cache:ds_hmis:${uniquenessHashOf({ indicatorId, level: undefined })}`;
}

/** Runs the scenario. */
export async function aofKillAfterBurst(harness: Harness): Promise<Row> {
  const started = performance.now();
  const notes: string[] = [];
  const problems: string[] = [];
  await using redis = await startChaosRedis();
  await using servers = await startServers(harness, redis);
  const server = servers.urls[0];
  const expected = harness.oracle.get(UNKNOWN_INDICATOR_PATH)!;
  const ask = (n: number) => {
    const path = `/api/datasets/hmis/summary?indicatorId=burst-${n}`;
    return request(server, { path }, new Map([[path, expected]]), { headers: VIEWER_HEADERS });
  };

  // The key mapping must hold, or every key would look lost.
  const probe = await ask(0);
  if (await redis.cli("EXISTS", keyOf("burst-0")) !== "1") {
    throw new Error(`the key of burst-0 is not ${keyOf("burst-0")} (status ${probe.status})`);
  }
  await resetProducerRuns(harness);

  const samples: (Sample & { n: number })[] = [];
  let next = 1;
  let stop = false;
  const burstStarted = performance.now();
  const fetchers = Array.from({ length: FETCHERS }, async () => {
    while (!stop) {
      const n = next++;
      samples.push({ ...await ask(n), n });
    }
  });
  await sleep(KILL_AFTER_MS);
  await redis.kill();
  const killedAt = performance.now();
  await sleep(500); // the burst goes on (BYPASS) for a moment
  stop = true;
  await Promise.all(fetchers);
  const restarting = performance.now();
  await redis.restart();
  notes.push(`restart answered PONG in ${duration(performance.now() - restarting)}`);
  if (!/DB loaded from (append only file|base file)/.test(await redis.log())) {
    problems.push("the restart did not load the AOF");
  }

  const present = await redis.cacheKeys();
  const acked = samples.filter((s) =>
    s.status === 200 && s.xCache === "MISS" && s.endedAt < killedAt
  );
  const old = acked.filter((s) => s.endedAt < killedAt - AOF_BOUND_MS);
  const recent = acked.filter((s) => s.endedAt >= killedAt - AOF_BOUND_MS);
  const lostOld = old.filter((s) => !present.has(keyOf(`burst-${s.n}`)));
  const lostRecent = recent.filter((s) => !present.has(keyOf(`burst-${s.n}`)));
  const rate = acked.length / ((killedAt - burstStarted) / 1000);
  notes.push(
    `${acked.length} keys written in ${duration(killedAt - burstStarted)} (${rate.toFixed(0)}/s) ` +
      `before the kill: ${old.length} more than 1 s before (${lostOld.length} lost), ` +
      `${recent.length} in the last second (${lostRecent.length} lost)`,
  );
  notes.push(
    `${samples.filter((s) => s.xCache === "BYPASS").length} BYPASS answers after the kill`,
  );
  const all = tally(samples);
  if (all.examples.length > 0) notes.push(`failures: ${all.examples.join(" | ")}`);
  return {
    scenario: "kill -9 of Redis after a write burst (AOF everysec)",
    requests: all.requests,
    failed: all.failed,
    windowed503: 0,
    p50Ms: all.p50Ms,
    p99Ms: all.p99Ms,
    maxMs: all.maxMs,
    hit: all.hit,
    miss: all.miss,
    bypass: all.bypass,
    producerRuns: await hmisSummaryRuns(harness),
    keysBefore: acked.length,
    keysAfter: acked.length - lostOld.length - lostRecent.length,
    keysLost: lostOld.length,
    seconds: (performance.now() - started) / 1000,
    problems,
    notes,
  };
}
