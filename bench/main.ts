/**
 * `deno task bench`: every benchmark, in one run on this machine, printed as Markdown
 * (paste into docs/performance.md). Speed is reported as ratios within the run, because
 * the machine is shared and noisy. Each section starts its own redis-server on a free
 * loopback port; a section that fails prints its error and the run goes on (the exit code
 * tells).
 *
 * 1. `TimCacheC.get` hit against raw GET + JSON.parse of the same 50 KB value.
 * 2. L2 hits: this project's cache, BentoCache, cache-manager, async-cache-dedupe and raw
 *    node-redis on one redis-server, 1 and 64 callers, 1 KB and 50 KB.
 *    A diagnostic follows: the raw floor with each piece of the hit path added in turn.
 * 3. `getMany(100)` against one MGET and against 100 sequential gets.
 *    Then the same cache workload on a Redis Cluster (3 masters, 3 replicas) and on one node.
 * 4. The stampede: 4 processes x 250 callers on one cold key, against the peers.
 * 5. L1 hit throughput against BentoCache's two-tier cache.
 * 6. Request latency during a stale-while-revalidate window turn.
 * 7. `clearAll` over 1M keys with 1M keys of another prefix, and another client's GETs.
 * 8. The server on a cache hit against a bare Hono route (wrk), on the demo's full data.
 * 9. Redis memory per cached presentation object, with and without compression.
 * 10. The demo's presentation objects cold, warm and after `wb restart`.
 *
 * @module
 */
import { startRedis } from "../lib/testing/redis_server.ts";
import { startRedisCluster } from "../lib/testing/redis_cluster.ts";
import { benchCluster, formatCluster } from "./cluster_bench.ts";
import { connectPostgres } from "../server/db.ts";
import { TEST_PG_ADMIN_URL } from "../server/testing/pg.ts";
import { benchGetHit } from "./cache_get_bench.ts";
import { benchL2Hit, formatL2 } from "./l2_hit_bench.ts";
import { benchGetMany, formatGetMany } from "./get_many_bench.ts";
import { benchHitPath, formatHitPath } from "./hit_path_bench.ts";
import { benchStampede } from "./stampede_bench.ts";
import { benchL1 } from "./l1_bench.ts";
import { benchWindowTurn } from "./window_turn_bench.ts";
import { benchClearAll, formatClearAll } from "./clear_all_bench.ts";
import { benchServer } from "./server_bench.ts";
import { formatServer } from "./server_report.ts";
import { ensureWrk } from "./wrk.ts";
import { benchMemory, formatMemory } from "./memory_bench.ts";
import { createKanoDatabase } from "./kano_db.ts";
import { markdownTable, ms } from "./stats.ts";

async function commandLine(command: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
      .output();
    return new TextDecoder().decode(out.stdout).trim().split("\n")[0];
  } catch {
    return `${command}: not found`;
  }
}

async function describeMachine(): Promise<string> {
  const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
    .match(/model name\s*:\s*(.+)/)?.[1] ?? "unknown CPU";
  const memGiB = Math.round(Deno.systemMemoryInfo().total / 2 ** 30);
  const redis = (await commandLine("redis-server", ["--version"])).match(/v=(\S+)/)?.[1];
  const wrk = (await commandLine("wrk", ["--version"])).match(/wrk (\S+)/)?.[1];
  let postgres = "unavailable";
  try {
    const admin = connectPostgres(TEST_PG_ADMIN_URL, { max: 1, connectTimeoutS: 5 });
    const [{ v }] = await admin.query<{ v: string }>(
      "SELECT current_setting('server_version') AS v",
    );
    await admin.close();
    postgres = v;
  } catch { /* reported as unavailable */ }
  const load = Deno.loadavg().map((x) => x.toFixed(1)).join(" ");
  return `${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} cores (${cpu}), ` +
    `${memGiB} GiB, Deno ${Deno.version.deno}, redis-server ${redis ?? "?"}, ` +
    `PostgreSQL ${postgres}, wrk ${wrk ?? "not installed"}; load average at start ${load}`;
}

let failures = 0;

/** Runs one section; prints its error instead of stopping the run. */
async function section(title: string, run: () => Promise<string>): Promise<void> {
  console.log(`## ${title}\n`);
  const started = performance.now();
  try {
    console.log(await run());
  } catch (error) {
    failures++;
    console.log(`**This section failed:**\n\n\`\`\`\n${(error as Error)?.stack ?? error}\n\`\`\``);
  }
  console.log(`\n_(section took ${((performance.now() - started) / 1000).toFixed(0)} s)_\n`);
}

// No options: `--help` (or anything else) prints this instead of starting a 6-minute run.
const forwarded = Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args; // deno task passes `--`
if (forwarded.length > 0) {
  const help = forwarded.every((arg) => arg === "-h" || arg === "--help");
  (help ? console.log : console.error)(
    `${help ? "" : `Unexpected argument '${forwarded[0]}'\n\n`}Usage: deno task bench\n\n` +
      "Runs every benchmark section (about 6 minutes, on its own redis-servers and a\n" +
      "throwaway database) and prints Markdown tables for docs/performance.md. No options.",
  );
  Deno.exit(help ? 0 : 2);
}

const runStarted = performance.now();
console.log(`# wb cache benchmarks\n\n${new Date().toISOString()} · ${await describeMachine()}\n`);

await section(
  "TimCacheC.get hit vs raw GET + JSON.parse (50 KB value, same redis-server)",
  async () => {
    await using redis = await startRedis();
    const [raw, ...cached] = await benchGetHit(redis.url);
    return markdownTable([
      ["path", "p50", "p99", "mean", "p50 ratio"],
      ...[raw, ...cached].map((r) => [
        r.name,
        ms(r.p50Ms),
        ms(r.p99Ms),
        ms(r.meanMs),
        `${(r.p50Ms / raw.p50Ms).toFixed(2)}x`,
      ]),
    ]) + "\n\nTarget: at most 1.15x.";
  },
);

{
  await using redis = await startRedis();
  await section(
    "L2 hits: latency and throughput against the peers (same redis-server)",
    async () =>
      formatL2(await benchL2Hit(redis.url)) +
      "\nTargets: p50 at most 1.15x raw GET + JSON.parse; hits/s at least the best peer's.",
  );
  await section(
    "Where an L2 hit's time goes (diagnostic: the floor plus each piece)",
    async () => formatHitPath(await benchHitPath(redis.url)),
  );
  await section(
    "getMany(100) vs one MGET vs 100 sequential gets (1 KB values, L1 off)",
    async () =>
      formatGetMany(await benchGetMany(redis.url)) +
      "\n\nTargets: at most 1.2x MGET; at least 10x faster than sequential gets.",
  );
}

await section(
  "Redis Cluster vs one node: 64 concurrent getOrSet hits over 1,000 keys (L1 off, same run)",
  async () => {
    await using redis = await startRedis();
    await using cluster = await startRedisCluster();
    return formatCluster(await benchCluster(redis.url, cluster.target)) +
      "\n\nAll 7 redis-servers share this machine's cores with the client, so the cluster " +
      "shows its routing cost, not its capacity; getMany costs one MGET per hash slot " +
      "(a shared hash tag keeps a batch in one slot).";
  },
);

await section("Stampede: 4 processes x 250 callers, one cold key, 200 ms producer", async () => {
  await using redis = await startRedis();
  const producerMs = 200;
  const rows = await benchStampede(redis.url, { processes: 4, callers: 250, producerMs });
  return markdownTable([
    ["library", "producer runs", "caller p50", "caller p99", "p99 / producer"],
    ...rows.map((
      r,
    ) => [r.library, r.runs, ms(r.p50Ms), ms(r.p99Ms), `${r.p99OverProducer.toFixed(2)}x`]),
  ]) + "\n\nTargets: 1 producer run for TimCacheC; p99 at most 1.3x the producer.";
});

await section(
  "L1 hit throughput (1 KB value, sequential getOrSet hits, same redis-server)",
  async () => {
    await using redis = await startRedis();
    const [ours, bento] = await benchL1(redis.url);
    return markdownTable([
      ["path", "hits/s", "vs BentoCache"],
      [ours.name, Math.round(ours.opsPerS), `${(ours.opsPerS / bento.opsPerS).toFixed(2)}x`],
      [bento.name, Math.round(bento.opsPerS), "1.00x"],
    ]) + "\n\nTarget: at least 1.0x BentoCache's two-tier getOrSet.";
  },
);

await section("Request latency during a window turn (stale-while-revalidate memo)", async () => {
  await using redis = await startRedis();
  const turn = await benchWindowTurn(redis.url);
  return markdownTable([
    ["calls after the turn", "served stale", "p50", "p99", "max", "producer", "producer runs"],
    [
      turn.calls,
      turn.staleServed,
      ms(turn.p50Ms),
      ms(turn.p99Ms),
      ms(turn.maxMs),
      ms(turn.producerMs),
      turn.producerRuns,
    ],
  ]) + "\n\nTarget: no request waits for the producer (max well below the producer's time).";
});

await section(
  "clearAll of 300k keys among 1.8M (national size), another client GETting",
  async () => {
    await using redis = await startRedis();
    return formatClearAll(await benchClearAll(redis.url, redis.port, { rounds: 3 })) +
      "\n\nTargets: at least 150k keys/s; the other client's p99 at most 2x its baseline. " +
      "Medians of 3 rounds. `clearCommandUs`: server time each index drain call aims at " +
      "(default 75 µs); `clearBatchSize`: keys per drain call at most, or the SCAN COUNT " +
      "(default 100).";
  },
);

{
  let kano: Awaited<ReturnType<typeof createKanoDatabase>> | undefined;
  const loadStarted = performance.now();
  let loadError: unknown;
  try {
    kano = await createKanoDatabase();
  } catch (error) {
    loadError = error;
  }
  const loaded = () => {
    if (!kano) throw loadError;
    return kano;
  };
  try {
    const loadS = ((performance.now() - loadStarted) / 1000).toFixed(1);
    await section(
      "Server throughput on a cache hit vs a bare Hono route (wrk, loopback)",
      async () => {
        const db = loaded();
        const missing = await ensureWrk();
        if (missing) throw new Error(missing);
        await using redis = await startRedis();
        return `Data: ${db.summary.facilities} facilities (${db.summary.source}), ` +
          `${db.summary.hmisRows.toLocaleString("en-US")} HMIS rows, loaded in ${loadS} s.\n\n` +
          formatServer(await benchServer(redis.url, db.url, { redisPid: redis.pid() })) +
          "\nTarget: the server at least 0.8x the bare route's requests/s.";
      },
    );
    await section("Redis memory per cached presentation object (po_items entries)", async () => {
      const db = loaded();
      await using redis = await startRedis();
      return formatMemory(await benchMemory(redis.url, db.db)) +
        "\n\n`MEMORY USAGE <key> SAMPLES 0` of each entry; default: deflate-raw above 4 KiB.";
    });
  } finally {
    await kano?.[Symbol.asyncDispose]();
  }
}

await section("Demo presentation objects: cold, warm, after `wb restart`", async () => {
  // Imported here: the CLI is another team's moving target; its failure is this section's.
  const { defaultRepoRoot, formatDemoReport, memoryReporter, runDemo } = await import(
    "../cli/mod.ts"
  );
  const home = await Deno.makeTempDir({ prefix: "wb-bench-" });
  try {
    const report = await runDemo(
      { home, repoRoot: defaultRepoRoot(), reporter: memoryReporter() },
      { once: true, port: 8790 },
    );
    return formatDemoReport(report);
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

console.log(
  `Total: ${((performance.now() - runStarted) / 60_000).toFixed(1)} min, load average at the end ` +
    Deno.loadavg().map((x) => x.toFixed(1)).join(" ") +
    (failures ? `; ${failures} section(s) failed` : ""),
);
if (failures) Deno.exitCode = 1;
