/**
 * `deno task chaos [--only id,id] [--help]`: bounded fault scenarios against the real server on
 * loopback, each printing one Markdown row (requests sent, failed, p50/p99 latency,
 * producer runs, keys lost), then the whole table and what happened in each.
 *
 * It starts its own Postgres (a cluster on a free port), its own `redis-server`s and
 * server processes, and stops every one of them; the machine's Postgres and Redis are
 * never touched. Exit code 1 when a row fails, 2 for a usage error.
 *
 * @module
 */
import { chaosUsage, parseChaosArgs } from "./args.ts";
import { createHarness } from "./harness.ts";
import { cleanUp, cleanUpMark } from "./process.ts";
import {
  HEADER,
  markdownNotes,
  markdownRow,
  markdownTable,
  passes,
  type Row,
  RULE,
} from "./report.ts";
import { SCENARIOS } from "./scenarios/mod.ts";

const progress = (line: string) => console.error(`chaos: ${line}`);

const ids = SCENARIOS.map((s) => s.id);
let only: string[] | undefined;
try {
  const parsed = parseChaosArgs(Deno.args, ids);
  if (parsed.help) {
    console.log(chaosUsage(ids));
    Deno.exit(0);
  }
  only = parsed.only;
} catch (error) {
  console.error(`${(error as Error).message}\n\n${chaosUsage(ids)}`);
  Deno.exit(2);
}
const chosen = SCENARIOS.filter((s) => !only || only.includes(s.id));

Deno.addSignalListener("SIGINT", () => {
  cleanUp().finally(() => Deno.exit(130));
});

const started = performance.now();
const rows: Row[] = [];
try {
  await using harness = await createHarness(progress);
  console.log(`\n${HEADER}\n${RULE}`);
  for (const scenario of chosen) {
    progress(`${scenario.id} ...`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const scenarioStarted = performance.now();
    const mark = cleanUpMark();
    let row: Row;
    try {
      row = await Promise.race([
        scenario.run(harness),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`did not finish within ${scenario.timeoutMs / 1000} s`)),
            scenario.timeoutMs,
          );
        }),
      ]);
    } catch (error) {
      await cleanUp(mark);
      row = {
        scenario: scenario.id,
        requests: 0,
        failed: 0,
        windowed503: 0,
        p50Ms: 0,
        p99Ms: 0,
        maxMs: 0,
        hit: 0,
        miss: 0,
        bypass: 0,
        producerRuns: 0,
        keysBefore: 0,
        keysAfter: 0,
        keysLost: 0,
        seconds: (performance.now() - scenarioStarted) / 1000,
        problems: [`the scenario threw: ${String((error as Error)?.message ?? error)}`],
        notes: [],
      };
    } finally {
      clearTimeout(timer);
    }
    rows.push(row);
    console.log(markdownRow(row));
  }
} finally {
  await cleanUp();
}

const totalS = (performance.now() - started) / 1000;
console.log(`\n## Chaos results (${totalS.toFixed(0)} s in total)\n`);
console.log(markdownTable(rows));
console.log(`\n${markdownNotes(rows)}`);
const failing = rows.filter((row) => !passes(row));
console.log(
  failing.length === 0
    ? `\nOK: ${rows.length} scenarios, none failed.`
    : `\nFAILED: ${failing.map((row) => row.scenario).join("; ")}`,
);
Deno.exit(failing.length === 0 ? 0 : 1);
