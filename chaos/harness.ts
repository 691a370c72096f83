/**
 * What every scenario shares: the suite's own Postgres loaded with the demo project, the
 * routes the load requests, the oracle (each route's body as Postgres gives it, taken from
 * a server with Redis disabled), and helpers to start servers and read counters.
 *
 * @module
 */
import { connectPostgres } from "../server/db.ts";
import { loadInstance } from "../server/load/mod.ts";
import { type ServerProcess, startServer } from "../server/testing/server_process.ts";
import { canonicalBody, type Oracle, sweep, type Target } from "./load.ts";
import { type ChaosPostgres, startPostgres } from "./postgres.ts";
import type { ChaosRedis } from "./redis.ts";
import { onCleanUp } from "./process.ts";

/** The shared state of one run of the suite. */
export interface Harness extends AsyncDisposable {
  pg: ChaosPostgres;
  /** Every cached route of the demo project. */
  targets: Target[];
  /** The items routes only (the presentation objects). */
  itemsTargets: Target[];
  oracle: Oracle;
  /** A progress line on stderr. */
  progress(line: string): void;
}

/** The admin token the suite's servers get. */
export const ADMIN_TOKEN = "chaos-admin-token-0e8c6a4f2d1b3579";
/** The viewer token the suite's servers get; every request of the load carries it. */
export const VIEWER_TOKEN = "chaos-viewer-token-5b3d1f9e7c0a2468";
/** The headers of every request: reads need a viewer. */
export const VIEWER_HEADERS: Record<string, string> = {
  authorization: `Bearer ${VIEWER_TOKEN}`,
};

/** A route whose body is the same for every unknown indicator id. */
export const UNKNOWN_INDICATOR_PATH = "/api/datasets/hmis/summary?indicatorId=chaos-unknown";

/** The batch route's body carries each entry's `xCache`: not part of the answer. */
function withoutXCache(body: unknown): unknown {
  const items = (body as { items?: { xCache?: string }[] })?.items;
  if (!Array.isArray(items)) return body;
  return { ...body as object, items: items.map(({ xCache: _, ...rest }) => rest) };
}

/**
 * Starts the suite's Postgres, loads the demo project (400 real Kano facilities, 24
 * months), and takes the oracle from a server without Redis.
 *
 * @throws {Error} If a route does not answer 200 without Redis.
 */
export async function createHarness(progress: (line: string) => void): Promise<Harness> {
  const pg = await startPostgres();
  try {
    const db = connectPostgres(pg.url, { max: 4 });
    try {
      const summary = await loadInstance(db, { facilityLimit: 400, months: 24, seed: 1 });
      progress(
        `Postgres on 127.0.0.1:${pg.port}: ${summary.facilities} facilities, ` +
          `${summary.hmisRows} HMIS rows, ${summary.presentationObjects} presentation objects`,
      );
    } finally {
      await db.close();
    }
    await using oracleServer = await startServer({
      DATABASE_URL: pg.url,
      REDIS_ENABLED: "false",
      REDIS_LOG_LEVEL: "warn",
      VIEWER_TOKEN,
      WB_INSTANCE: "chaos-oracle",
    });
    const listed = await fetch(`${oracleServer.url}/api/projects/demo/presentation_objects`, {
      headers: VIEWER_HEADERS,
    });
    const list = await listed.json() as { items?: { poId: string }[] };
    if (!list.items) throw new Error(`oracle: the list of presentation objects: ${listed.status}`);
    const poIds = list.items.map((po) => po.poId);
    const itemsTargets = poIds.map((poId) => ({
      path: `/api/projects/demo/presentation_objects/${poId}/items`,
    }));
    const targets: Target[] = [
      ...itemsTargets,
      ...poIds.map((poId) => ({ path: `/api/projects/demo/presentation_objects/${poId}` })),
      { path: `/api/projects/demo/items?poIds=${poIds.join(",")}`, normalize: withoutXCache },
      { path: "/api/projects/demo/metrics/met_counts/info" },
      { path: "/api/projects/demo/metrics/met_outliers/info" },
      { path: "/api/projects/demo/metrics/met_counts/replicant_options?replicateBy=indicator_id" },
      { path: "/api/projects/demo/metrics/met_counts/replicant_options?replicateBy=admin_area_3" },
      { path: "/api/datasets/hmis/summary" },
      { path: "/api/datasets/hmis/summary?level=2" },
      { path: "/api/datasets/hfa/summary" },
    ];
    const oracle: Oracle = new Map();
    for (const target of targets) {
      const response = await fetch(oracleServer.url + target.path, { headers: VIEWER_HEADERS });
      const text = await response.text();
      if (response.status !== 200) {
        throw new Error(`oracle: ${target.path} answered ${response.status}: ${text}`);
      }
      oracle.set(target.path, canonicalBody(target, text));
    }
    // The HMIS summary of an indicator that does not exist (the write burst's body).
    const unknown = { path: UNKNOWN_INDICATOR_PATH };
    const response = await fetch(oracleServer.url + unknown.path, { headers: VIEWER_HEADERS });
    oracle.set(unknown.path, canonicalBody(unknown, await response.text()));
    progress(`oracle: ${oracle.size} routes answered by a server with Redis disabled`);
    return {
      pg,
      targets,
      itemsTargets,
      oracle,
      progress,
      [Symbol.asyncDispose]: () => pg.destroy(),
    };
  } catch (error) {
    await pg.destroy();
    throw error;
  }
}

/** A group of server processes, stopped together. */
export interface Servers extends AsyncDisposable {
  list: ServerProcess[];
  urls: string[];
}

/** Starts `count` servers on `redis` and the harness's Postgres. */
export async function startServers(
  harness: Harness,
  redis: ChaosRedis,
  count = 1,
): Promise<Servers> {
  const list = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      startServer({
        DATABASE_URL: harness.pg.url,
        REDIS_URL: redis.url,
        ADMIN_TOKEN,
        VIEWER_TOKEN,
        REDIS_LOG_LEVEL: "warn",
        WB_INSTANCE: `chaos-${i}`,
      })),
  );
  const stopAll = async () => {
    unregister();
    await Promise.all(list.map((s) => s.stop()));
  };
  const unregister = onCleanUp(stopAll);
  return { list, urls: list.map((s) => s.url), [Symbol.asyncDispose]: stopAll };
}

/**
 * Warms every target on `server` (one sweep) and checks a second sweep is all HIT.
 *
 * @returns The problems seen (empty when the cache is warm and every body right).
 */
export async function warm(harness: Harness, server: string, targets = harness.targets) {
  const first = await sweep(server, targets, harness.oracle, VIEWER_HEADERS);
  const second = await sweep(server, targets, harness.oracle, VIEWER_HEADERS);
  const problems = [...first, ...second]
    .filter((s) => s.status !== 200 || !s.bodyOk)
    .map((s) => `warm-up ${s.status} ${s.path}`);
  const cold = second.filter((s) => s.xCache !== "HIT").map((s) => s.path);
  if (cold.length > 0) problems.push(`not HIT after warm-up: ${cold.join(", ")}`);
  return problems;
}

/** Zeroes `pg_stat_statements` (the producer-run counter). */
export async function resetProducerRuns(harness: Harness): Promise<void> {
  await harness.pg.psql("SELECT pg_stat_statements_reset()");
}

/**
 * Executions of the items producer's SQL since the last reset: the statements built from a
 * presentation object's fetch config (`SELECT r.… FROM results_hmis r …`).
 */
export async function itemsProducerRuns(harness: Harness): Promise<number> {
  const out = await harness.pg.psql(
    `SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
      WHERE query ~ '^SELECT [rf]\\.' AND query ~ 'FROM results_hmis r\\s'`,
  );
  return Number(out);
}

/**
 * Executions of the HMIS dataset summary's SQL since the last reset (its first statement,
 * `SELECT count(*)::int AS rows … FROM dataset_hmis`).
 */
export async function hmisSummaryRuns(harness: Harness): Promise<number> {
  const out = await harness.pg.psql(
    `SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
      WHERE query LIKE 'SELECT count(*)::int AS rows%FROM dataset_hmis%'`,
  );
  return Number(out);
}

/** Keys of `before` missing from `after`. */
export function missingKeys(before: Set<string>, after: Set<string>): string[] {
  return [...before].filter((key) => !after.has(key));
}

/** Seconds since `start` (a `performance.now()` reading), for notes. */
export function secondsSince(start: number, at = performance.now()): string {
  return `${((at - start) / 1000).toFixed(1)} s`;
}

/** Deletes every `po_items` key (the servers' L1 copies go with them): the next items requests miss. */
export async function dropItems(redis: ChaosRedis): Promise<number> {
  const keys = [...await redis.cacheKeys()].filter((k) => k.startsWith("cache:po_items:"));
  if (keys.length > 0) await redis.cli("DEL", ...keys);
  return keys.length;
}

/** A session holding `LOCK TABLE results_hmis IN ACCESS EXCLUSIVE MODE`. */
export interface TableHold extends AsyncDisposable {
  /** Commits: the items SQL waiting on the table runs. Safe to call twice. */
  release(): Promise<void>;
}

/**
 * Makes the items producer slow the way a real one gets slow: another session holds the
 * table its SQL reads (a migration, a `VACUUM FULL`), so the SQL waits in Postgres.
 */
export async function holdResultsTable(harness: Harness): Promise<TableHold> {
  const locker = connectPostgres(harness.pg.url, { max: 1 });
  let commit!: () => void;
  const committed = new Promise<void>((resolve) => (commit = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const holding = locker.transaction(async (tx) => {
    await tx.exec("LOCK TABLE results_hmis IN ACCESS EXCLUSIVE MODE");
    locked();
    await committed;
  });
  await Promise.race([isLocked, holding]);
  let done: Promise<void> | undefined;
  const release = () =>
    done ??= (async () => {
      commit();
      await holding.catch(() => {});
      await locker.close();
    })();
  return { release, [Symbol.asyncDispose]: release };
}

/** Whether one items SQL is waiting for a lock in Postgres (its producer is held). */
export async function itemsQueryWaiting(harness: Harness): Promise<boolean> {
  const waiting = await harness.pg.psql(
    `SELECT count(*) FROM pg_stat_activity
      WHERE wait_event_type = 'Lock' AND query ~ 'FROM results_hmis r\\s'`,
  );
  return Number(waiting) === 1;
}
