/**
 * The fill-lock leader SIGKILLed mid-computation. Three server processes share one Redis;
 * one presentation object's items key is cold. Its producer is made slow the way a real
 * one is: another session holds `LOCK TABLE results_hmis IN ACCESS EXCLUSIVE MODE` (a
 * migration, a `VACUUM FULL`), so the items SQL waits in Postgres. Server A takes the fill
 * lock and blocks in that SQL; B and C follow it; A is SIGKILLed; the table is released.
 * B and C must answer every request right, the fleet must run the producer at most twice,
 * and the key must end up filled. The followers take the dead leader over once its lease
 * stops growing (the liveness window, 2.5 s for the server's `po_items` policy).
 *
 * @module
 */
import { SERVER_CACHES } from "../../server/cache_registry.ts";
import { entryProblem, withClient } from "../entries.ts";
import {
  type Harness,
  holdResultsTable,
  itemsProducerRuns,
  itemsQueryWaiting,
  missingKeys,
  resetProducerRuns,
  startServers,
  VIEWER_HEADERS,
  warm,
} from "../harness.ts";
import { request, type Sample, startLoad } from "../load.ts";
import { sleep, waitFor } from "../process.ts";
import { startChaosRedis } from "../redis.ts";
import { type Row, tally } from "../report.ts";
import { duration } from "./_under_load.ts";

const COLD_PO = "po_outliers_by_lga";
const FOLLOWERS_PER_SERVER = 8;

/** Runs the scenario. */
export async function leaderSigkill(harness: Harness): Promise<Row> {
  const started = performance.now();
  const notes: string[] = [];
  const problems: string[] = [];
  const policy = SERVER_CACHES.get("po_items")?.fill;
  await using redis = await startChaosRedis();
  await using servers = await startServers(harness, redis, 3);
  const [a, b, c] = servers.list;
  const cold = harness.itemsTargets.find((t) => t.path.includes(`/${COLD_PO}/`))!;
  const warmTargets = harness.targets.filter((t) => t !== cold && !t.path.includes("poIds="));

  // Warm everything but the cold items, then find the cold items' key by filling it once.
  problems.push(...await warm(harness, a.url, warmTargets));
  const withoutCold = await redis.cacheKeys();
  await request(a.url, cold, harness.oracle, { headers: VIEWER_HEADERS });
  const coldKey = missingKeys(await redis.cacheKeys(), withoutCold)[0];
  if (!coldKey) throw new Error(`no key appeared for ${cold.path}`);
  await redis.cli("DEL", coldKey);
  const keysBefore = await redis.cacheKeys();
  await resetProducerRuns(harness);

  // Another session holds the table the items SQL reads.
  await using table = await holdResultsTable(harness);
  const leaderRequest = request(a.url, cold, harness.oracle, {
    headers: VIEWER_HEADERS,
    timeoutMs: 90_000,
  });
  await waitFor(
    "server A to take the fill lock and wait in Postgres",
    async () => (await redis.cli("GET", `{${coldKey}}:lock`)) !== "" && itemsQueryWaiting(harness),
  );
  const followersStarted = performance.now();
  const followers = Promise.all(
    [b, c].flatMap((server) =>
      Array.from(
        { length: FOLLOWERS_PER_SERVER },
        () =>
          request(server.url, cold, harness.oracle, {
            headers: VIEWER_HEADERS,
            timeoutMs: 90_000,
          }),
      )
    ),
  );
  const background = startLoad({
    servers: [b.url, c.url],
    targets: warmTargets,
    oracle: harness.oracle,
    durationMs: 8000,
    headers: VIEWER_HEADERS,
  });
  await sleep(1000);
  Deno.kill(a.pid, "SIGKILL");
  const killedAt = performance.now();
  await sleep(1000);
  await table.release();
  notes.push("A SIGKILLed 1 s after B and C began to follow it; the table released 1 s later");

  const followed = await followers;
  const load = await background.done;
  const killed = await leaderRequest;
  notes.push(`A's own request: ${killed.status === 0 ? "lost with the process" : killed.status}`);
  const slowest = Math.max(...followed.map((s: Sample) => s.endedAt - followersStarted));
  notes.push(
    `${followed.length} follower requests on B and C answered within ${duration(slowest)} ` +
      `(${duration(Math.max(...followed.map((s) => s.endedAt)) - killedAt)} after the kill; ` +
      `policy maxWaitMs ${policy?.maxWaitMs} ms, leaseMs ${policy?.leaseMs} ms)`,
  );
  const fills = [b, c].flatMap((server) =>
    server.logLines().filter((l) => l.event === "cache_fill" && l.cache === "po_items")
  );
  notes.push(
    `fill outcomes on B and C: ${
      fills.map((l) => `${l.outcome} (waited ${duration(Number(l.waitedMs))})`).join(", ") ||
      "none"
    }`,
  );
  // A follower took the dead leader's lock over (once the lease stopped being extended).
  const tookOver = fills.some((l) => l.outcome === "leader" && l.tookOver === true);
  if (!tookOver) problems.push("no follower took the dead leader's lock over");
  const producerRuns = await itemsProducerRuns(harness);
  if (producerRuns > 2) problems.push(`the fleet ran the producer ${producerRuns} times (> 2)`);
  const filled = await withClient(redis.url, (client) => entryProblem(client, coldKey));
  if (filled) problems.push(filled);
  const keysAfter = await redis.cacheKeys();
  const all = tally([...followed, ...load]);
  if (all.examples.length > 0) notes.push(`failures: ${all.examples.join(" | ")}`);
  return {
    scenario: "fill-lock leader SIGKILLed mid-computation (3 servers)",
    requests: all.requests,
    failed: all.failed,
    windowed503: 0,
    p50Ms: all.p50Ms,
    p99Ms: all.p99Ms,
    maxMs: all.maxMs,
    hit: all.hit,
    miss: all.miss,
    bypass: all.bypass,
    producerRuns,
    keysBefore: keysBefore.size,
    keysAfter: keysAfter.size,
    keysLost: missingKeys(keysBefore, keysAfter).length,
    seconds: (performance.now() - started) / 1000,
    problems,
    notes,
  };
}
