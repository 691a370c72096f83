/**
 * `deno task bench`: every benchmark, in one run on this machine, printed as Markdown
 * tables (paste into docs/performance.md). Speed is reported as ratios within the run,
 * because the machine is shared and noisy.
 *
 * 1. `TimCacheC.get` hit against raw node-redis GET + JSON.parse of the same 50 KB value,
 *    on one redis-server (target: p50 ratio at most 1.15x).
 * 2. The stampede: 4 processes x 250 concurrent callers on one cold key, 200 ms producer,
 *    for this project's fleet fill lock and for BentoCache and cache-manager on the same
 *    redis-server (targets: exactly 1 producer run; p99 at most 1.3x the producer).
 * 3. The demo's presentation objects cold (Postgres), warm (Redis) and after
 *    `wb restart` (Redis from its AOF), on a native instance in a temporary WB_HOME.
 *
 * @module
 */
import { defaultRepoRoot, formatDemoReport, memoryReporter, runDemo } from "../cli/mod.ts";
import { startRedis } from "../lib/testing/redis_server.ts";
import { benchGetHit } from "./cache_get_bench.ts";
import { benchStampede } from "./stampede_bench.ts";
import { benchL1 } from "./l1_bench.ts";
import { benchWindowTurn } from "./window_turn_bench.ts";
import { markdownTable, ms } from "./stats.ts";

const machine =
  `${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}`;
console.log(`# wb cache benchmarks\n\n${new Date().toISOString()} · ${machine}\n`);

{
  await using redis = await startRedis();
  const [raw, cached] = await benchGetHit(redis.url);
  console.log("## TimCacheC.get hit vs raw GET + JSON.parse (50 KB value, same redis-server)\n");
  console.log(markdownTable([
    ["path", "p50", "p99", "mean", "p50 ratio"],
    [raw.name, ms(raw.p50Ms), ms(raw.p99Ms), ms(raw.meanMs), "1.00x"],
    [
      cached.name,
      ms(cached.p50Ms),
      ms(cached.p99Ms),
      ms(cached.meanMs),
      `${(cached.p50Ms / raw.p50Ms).toFixed(2)}x`,
    ],
  ]));
  console.log("\nTarget: at most 1.15x.\n");
}

{
  await using redis = await startRedis();
  const producerMs = 200;
  const rows = await benchStampede(redis.url, { processes: 4, callers: 250, producerMs });
  console.log(`## Stampede: 4 processes x 250 callers, one cold key, ${producerMs} ms producer\n`);
  console.log(markdownTable([
    ["library", "producer runs", "caller p50", "caller p99", "p99 / producer"],
    ...rows.map((
      r,
    ) => [r.library, r.runs, ms(r.p50Ms), ms(r.p99Ms), `${r.p99OverProducer.toFixed(2)}x`]),
  ]));
  console.log("\nTargets: 1 producer run for TimCacheC; p99 at most 1.3x the producer.\n");
}

{
  await using redis = await startRedis();
  const [ours, bento] = await benchL1(redis.url);
  console.log("## L1 hit throughput (1 KB value, sequential getOrSet hits, same redis-server)\n");
  console.log(markdownTable([
    ["path", "hits/s", "vs BentoCache"],
    [ours.name, Math.round(ours.opsPerS), `${(ours.opsPerS / bento.opsPerS).toFixed(2)}x`],
    [bento.name, Math.round(bento.opsPerS), "1.00x"],
  ]));
  console.log("\nTarget: at least 1.0x BentoCache's two-tier getOrSet.\n");
}

{
  await using redis = await startRedis();
  const turn = await benchWindowTurn(redis.url);
  console.log("## Request latency during a window turn (stale-while-revalidate memo)\n");
  console.log(markdownTable([
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
  ]));
  console.log(
    "\nTarget: no request waits for the producer (max well below the producer's time).\n",
  );
}

{
  const home = await Deno.makeTempDir({ prefix: "wb-bench-" });
  try {
    console.log("## Demo presentation objects: cold, warm, after `wb restart`\n");
    const report = await runDemo(
      { home, repoRoot: defaultRepoRoot(), reporter: memoryReporter() },
      { once: true, port: 8790 },
    );
    console.log(formatDemoReport(report));
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
}
