/**
 * The shape most scenarios share: a fresh Redis (the instance profile plus overrides) and
 * server(s), a warm cache, then a bounded load during which the fault is injected, then a
 * final sweep of every route, and the row.
 *
 * @module
 */
import {
  type Harness,
  itemsProducerRuns,
  missingKeys,
  resetProducerRuns,
  type Servers,
  startServers,
  VIEWER_HEADERS,
  warm,
} from "../harness.ts";
import { type Sample, startLoad, sweep } from "../load.ts";
import { sleep } from "../process.ts";
import { type ChaosRedis, startChaosRedis } from "../redis.ts";
import { type Row, tally } from "../report.ts";

/** What the fault and the checks of a scenario get. */
export interface FaultContext {
  harness: Harness;
  redis: ChaosRedis;
  servers: Servers;
  /** When the load started (`performance.now()`). */
  loadStartedAt: number;
  /** Sleeps until `ms` after the load started. */
  at(ms: number): Promise<void>;
  /** Phrases for the row's notes. */
  notes: string[];
  /** Checks that did not hold. */
  problems: string[];
}

/** Options of {@linkcode underLoad}. */
export interface UnderLoadOptions {
  scenario: string;
  /** Overrides of the instance profile, e.g. `["--maxmemory-policy", "noeviction"]`. */
  redisArgs?: string[];
  /** How long the load runs, in ms. */
  durationMs: number;
  /** Injects the fault (and undoes it) while the load runs. */
  fault(context: FaultContext): Promise<void>;
  /** Which 503s are the documented window. @default {none} */
  allow503?: (sample: Sample) => boolean;
  /**
   * Extra checks once the load and the final sweep are done; samples it pushes onto
   * `final` count in the row (not in the `slowMs` check: it bounds its own).
   */
  check?(context: FaultContext, load: Sample[], final: Sample[]): Promise<void>;
  /** The final sweep must be all HIT (the cache kept or regained every key). @default {true} */
  finalAllHit?: boolean;
  /**
   * A request slower than this is a problem (scenarios with a tighter bound of their own
   * pass `Infinity`), in ms. @default {5000}
   */
  slowMs?: number;
}

/** Runs one fault under load and returns its row. */
export async function underLoad(harness: Harness, options: UnderLoadOptions): Promise<Row> {
  const started = performance.now();
  await using redis = await startChaosRedis(options.redisArgs);
  await using servers = await startServers(harness, redis);
  const problems = await warm(harness, servers.urls[0]);
  const notes: string[] = [];
  const keysBefore = await redis.cacheKeys();
  await resetProducerRuns(harness);
  const loadStartedAt = performance.now();
  const context: FaultContext = {
    harness,
    redis,
    servers,
    loadStartedAt,
    at: (ms) => sleep(Math.max(0, loadStartedAt + ms - performance.now())),
    notes,
    problems,
  };
  const load = startLoad({
    servers: servers.urls,
    targets: harness.targets,
    oracle: harness.oracle,
    durationMs: options.durationMs,
    headers: VIEWER_HEADERS,
  });
  try {
    await options.fault(context);
  } catch (error) {
    load.stop();
    await load.done;
    throw error;
  }
  const samples = await load.done;
  // Let background writes of the last fills land, then check every route once more.
  await sleep(200);
  const final = await sweep(servers.urls[0], harness.targets, harness.oracle, VIEWER_HEADERS);
  const keysAfter = await redis.cacheKeys();
  const producerRuns = await itemsProducerRuns(harness);
  if (options.finalAllHit ?? true) {
    const notHit = final.filter((s) => s.xCache !== "HIT").map((s) => `${s.xCache} ${s.path}`);
    if (notHit.length > 0) {
      problems.push(`final sweep not all HIT (${notHit.length}): ${notHit.slice(0, 3).join(", ")}`);
    }
  }
  const slowMs = options.slowMs ?? 5000;
  const slow = [...samples, ...final].filter((s) => s.endedAt - s.startedAt > slowMs);
  if (slow.length > 0) {
    const paths = [...new Set(slow.map((s) => s.path.replace(/^\/api\/projects\/demo\//, "")))];
    problems.push(
      `${slow.length} requests took more than ${duration(slowMs)} (up to ${
        duration(Math.max(...slow.map((s) => s.endedAt - s.startedAt)))
      }): ${paths.slice(0, 3).join(", ")}`,
    );
  }
  await options.check?.(context, samples, final);
  const all = tally([...samples, ...final], options.allow503);
  if (all.examples.length > 0) notes.push(`failures: ${all.examples.join(" | ")}`);
  const lost = missingKeys(keysBefore, keysAfter);
  if (lost.length > 0) notes.push(`lost: ${lost.slice(0, 3).join(", ")}`);
  return {
    scenario: options.scenario,
    requests: all.requests,
    failed: all.failed,
    windowed503: all.windowed503,
    p50Ms: all.p50Ms,
    p99Ms: all.p99Ms,
    maxMs: all.maxMs,
    hit: all.hit,
    miss: all.miss,
    bypass: all.bypass,
    producerRuns,
    keysBefore: keysBefore.size,
    keysAfter: keysAfter.size,
    keysLost: lost.length,
    seconds: (performance.now() - started) / 1000,
    problems,
    notes,
  };
}

/** The first sample at or after `at` answered with `X-Cache: HIT`, or `undefined`. */
export function firstHitAfter(samples: Sample[], at: number): Sample | undefined {
  return samples.find((s) => s.startedAt >= at && s.xCache === "HIT");
}

/** Milliseconds as a short phrase (`850 ms`, `2.4 s`). */
export function duration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
