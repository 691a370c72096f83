/**
 * The fleet fill on real data (issue 21): `--workers` server processes (default 4) share one
 * Redis and one Postgres; `--requests` concurrent cold requests (default 40, spread over the
 * workers) ask for the HMIS summary. The fleet-wide fill lock must leave one computation in
 * Postgres. Counted three ways, independently:
 *
 * - Postgres: the HMIS table's scans (`pg_stat_user_tables`: `seq_scan + idx_scan` of
 *   `dataset_hmis`) during the burst, over the scans of one computation measured alone;
 * - the workers' fill log (`cache_fill` lines: `leader` ran the producer under the lock,
 *   `lock_error`/`no_policy` ran it without; followers log `follower_hit` or `recheck_hit`);
 * - the answers (`X-Cache: MISS` only for the request that ran the computation).
 *
 * Usage (the national data comes from `deno task bench:national`, which prints its URL):
 *
 *   deno run -A bench/fleet_fill_bench.ts --database-url postgres://postgres@127.0.0.1:5432/<db>
 *   deno run -A bench/fleet_fill_bench.ts            # a throwaway Kano database
 *
 * Prints one table. Not part of the test command (the fleet tests in lib/fleet_test.ts
 * prove the protocol on a synthetic producer).
 *
 * @module
 */
import { parseArgs } from "node:util";
import postgres from "postgres";
import { freePort, startRedis } from "../lib/testing/redis_server.ts";
import { stopChild } from "./child.ts";
import { createKanoDatabase } from "./kano_db.ts";
import { quantile } from "./stats.ts";

const { values: args } = parseArgs({
  options: {
    "database-url": { type: "string" },
    workers: { type: "string", default: "4" },
    requests: { type: "string", default: "40" },
    path: { type: "string", default: "/api/datasets/hmis/summary" },
  },
});
const workers = Number(args.workers);
const requests = Number(args.requests);
if (!(workers >= 1 && requests >= workers)) {
  throw new RangeError("--workers must be at least 1 and --requests at least --workers");
}

const ADMIN_TOKEN = "fleet-fill-bench-admin-token-0123456789abcdef";
await using kano = args["database-url"] ? undefined : await createKanoDatabase();
const databaseUrl = args["database-url"] ?? kano!.url;
await using redis = await startRedis();
const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });

/** `seq_scan + idx_scan` of the HMIS table: how many times a query read it. */
async function hmisScans(): Promise<number> {
  // The statistics collector reports with a delay: ask for a fresh snapshot.
  await sql`SELECT pg_stat_clear_snapshot()`;
  const [row] = await sql<{ scans: string }[]>`
    SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) AS scans
      FROM pg_stat_user_tables WHERE relname = 'dataset_hmis'`;
  return Number(row?.scans ?? 0);
}

/**
 * Waits until the scan count has stopped moving for 11 s: PostgreSQL 15's backends report
 * their table statistics when they go idle, at most 10 s late (PGSTAT_IDLE_INTERVAL).
 */
async function settledScans(): Promise<number> {
  let last = await hmisScans();
  let stableSince = performance.now();
  while (performance.now() - stableSince < 11_000) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = await hmisScans();
    if (now !== last) {
      last = now;
      stableSince = performance.now();
    }
  }
  return last;
}

interface Worker {
  port: number;
  child: Deno.ChildProcess;
  log: string[];
}

function spawnWorker(): Worker {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../server/main.ts", import.meta.url).pathname],
    env: {
      PORT: String(port),
      HOST: "127.0.0.1",
      DATABASE_URL: databaseUrl,
      REDIS_URL: redis.url,
      ADMIN_TOKEN,
      WB_INSTANCE: "fleet-bench",
      DENO_NO_UPDATE_CHECK: "1",
    },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const log: string[] = [];
  (async () => {
    let rest = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop() ?? "";
      log.push(...lines);
    }
  })().catch(() => {});
  return { port, child, log };
}

async function waitHealthy(worker: Worker): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const ok = await fetch(`http://127.0.0.1:${worker.port}/healthz`)
      .then(async (r) => (await r.body?.cancel(), r.ok), () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`worker on ${worker.port} never answered:\n${worker.log.slice(-20).join("\n")}`);
}

async function ask(worker: Worker): Promise<{ ms: number; xCache: string; status: number }> {
  const started = performance.now();
  const response = await fetch(`http://127.0.0.1:${worker.port}${args.path}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  await response.arrayBuffer();
  return {
    ms: performance.now() - started,
    xCache: response.headers.get("x-cache") ?? "none",
    status: response.status,
  };
}

/** Outcomes that ran the producer (see lib/_fleet_fill.ts). */
const COMPUTED = new Set(["leader", "lock_error", "no_policy"]);

/** Counts of the HMIS summary cache's `cache_fill` outcomes, over all workers. */
function fillOutcomes(fleet: Worker[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { log } of fleet) {
    for (const line of log) {
      if (!line.includes('"cache_fill"')) continue;
      try {
        const event = JSON.parse(line);
        if (event.cache === "ds_hmis") {
          counts.set(event.outcome, (counts.get(event.outcome) ?? 0) + 1);
        }
      } catch { /* not JSON */ }
    }
  }
  return counts;
}

/** `after - before`, per outcome, as `outcome n, ...`, and the computations among them. */
function outcomeDelta(before: Map<string, number>, after: Map<string, number>) {
  let computed = 0;
  const parts: string[] = [];
  for (const [outcome, n] of after) {
    const delta = n - (before.get(outcome) ?? 0);
    if (delta === 0) continue;
    parts.push(`${outcome} ${delta}`);
    if (COMPUTED.has(outcome)) computed += delta;
  }
  return { computed, text: parts.join(", ") || "none logged" };
}

const fleet = Array.from({ length: workers }, spawnWorker);
try {
  await Promise.all(fleet.map(waitHealthy));

  // One computation alone: its time and its scans of the HMIS table.
  await redis.cli("FLUSHDB");
  let before = await settledScans();
  const solo = await ask(fleet[0]);
  const soloScans = (await settledScans()) - before;
  if (solo.status !== 200 || solo.xCache !== "MISS") {
    throw new Error(`the solo request answered ${solo.status} ${solo.xCache}`);
  }
  const soloFills = fillOutcomes(fleet);

  // The burst: every request cold, at once, spread over the workers.
  await redis.cli("FLUSHDB");
  before = await settledScans();
  const burst = await Promise.all(
    Array.from({ length: requests }, (_, i) => ask(fleet[i % workers])),
  );
  const burstScans = (await settledScans()) - before;
  const burstFills = outcomeDelta(soloFills, fillOutcomes(fleet));
  const statuses = new Set(burst.map((r) => r.status));
  const misses = burst.filter((r) => r.xCache === "MISS").length;
  const times = burst.map((r) => r.ms);
  const computations = soloScans > 0 ? burstScans / soloScans : NaN;

  const where = args["database-url"] ? "given database" : "throwaway Kano database";
  const facilities = (await sql<{ n: string }[]>`SELECT count(*) AS n FROM facilities`)[0].n;
  const rows: [string, string][] = [
    ["data", `${where}, ${facilities} facilities`],
    ["fleet", `${workers} server processes, one Redis, one Postgres`],
    ["one computation alone", `${solo.ms.toFixed(0)} ms, ${soloScans} scans of dataset_hmis`],
    [
      `${requests} concurrent cold requests`,
      `statuses ${[...statuses].join(",")}; p50 ${quantile(times, 0.5).toFixed(0)} ms, max ${
        Math.max(...times).toFixed(0)
      } ms`,
    ],
    [
      "computations in Postgres (scans / scans of one)",
      `${computations.toFixed(2)} (${burstScans} / ${soloScans})`,
    ],
    [
      "computations in the fill log (cache_fill)",
      `${burstFills.computed} (${burstFills.text})`,
    ],
    ["answers with X-Cache: MISS", String(misses)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\nFleet fill on real data (${args.path})\n`);
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  console.log(
    `\ncommand: deno run -A bench/fleet_fill_bench.ts${
      args["database-url"] ? " --database-url <url>" : ""
    } --workers ${workers} --requests ${requests}`,
  );
} finally {
  await Promise.all(fleet.map(({ child }) => stopChild(child)));
  await sql.end();
}
