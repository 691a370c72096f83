/**
 * `wb restart` of a native instance whose Redis holds a large AOF (issue 16): does `wb restart`
 * return while Redis still loads the AOF, and does the app answer correctly meanwhile?
 *
 * One native `wb` instance in a temporary `WB_HOME` (the real app `server/main.ts`, Postgres,
 * `redis-server` with the AOF on, all started by the `cli/` functions), loaded with the Kano
 * facilities (the demo's data: 60 months, or `--months`) and warmed: every presentation
 * object of every project read until it is a HIT, its body kept. Then, per target size, its Redis is filled
 * with cache-shaped filler entries up to that `used_memory` (`fillToUsedMemory` of
 * `bench/aof_bench.ts`, over the instance's Unix socket), the AOF rewritten
 * (`BGREWRITEAOF`), and the instance restarted with `restartTargets` (what `wb restart <id>`
 * runs). From the moment it returns:
 *
 * - Redis is asked `PING` once (`LOADING` or `PONG` at return), then polled until `PONG`;
 * - one client per presentation object requests it back to back, and one asks `/healthz`
 *   every 100 ms (a request counts as hung after `--hung-ms`, default 10 s), until Redis
 *   answers `PONG` and every object has answered a HIT.
 *
 * A correct answer is a 200 with `X-Cache: HIT` or `BYPASS` and the body read before the
 * restart. Printed: one row per size (AOF bytes, restart time, Redis at return, the first
 * correct answer after return and its `X-Cache`, 5xx, hung and failed requests, wrong
 * bodies, the first HIT and when every object was a HIT again).
 *
 * Usage: `deno run -A bench/restart_bench.ts [--months N] [--hung-ms MS] [targetMiB ...]`
 * (default 256 1024). A benchmark, not part of `deno task test`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { defaultRepoRoot, type WbContext } from "../cli/context.ts";
import { defaultFacilitiesCsv } from "../cli/demo.ts";
import { initInstance } from "../cli/init_instance.ts";
import type { Instance } from "../cli/instance_schema.ts";
import { restartTargets, runTargets, stopTargets } from "../cli/lifecycle_targets.ts";
import { loadInstance } from "../cli/load.ts";
import { nativePaths } from "../cli/native_plan.ts";
import { freePort } from "../cli/process.ts";
import type { Reporter } from "../cli/reporter.ts";
import { appUrl } from "../cli/runtime.ts";
import { readAdminToken, readSecrets } from "../cli/secrets.ts";
import {
  dirBytes,
  fillToUsedMemory,
  infoField,
  randomPool,
  redisCli,
  type RedisCliTarget,
  rewriteAof,
} from "./aof_bench.ts";
import { markdownTable } from "./stats.ts";

/** One answer seen while polling. */
export interface PolledAnswer {
  /** What was asked: a presentation object's id, or `/healthz`. */
  what: string;
  /** Sent and answered, in milliseconds after `wb restart` returned. */
  sentMs: number;
  doneMs: number;
  /** HTTP status; 0 when there was none (see `error`). */
  status: number;
  /** No answer within the hung limit, or the request failed (e.g. connection refused). */
  error?: "hung" | "failed";
  /** `X-Cache`, or `-`. */
  xCache: string;
  /** The body equals the one read before the restart (always `true` for `/healthz` 200s). */
  sameBody: boolean;
}

/** One target size. */
export interface RestartRow {
  targetMiB: number;
  /** `used_memory` before the restart, in bytes. */
  usedMemoryBytes: number;
  keys: number;
  /** The AOF directory's base and incremental files, in bytes. */
  aofBytes: number;
  rewriteS: number;
  /** `restartTargets` (what `wb restart <id>` runs), start to return, in milliseconds. */
  restartMs: number;
  /** The first line Redis answered `PING` with when the restart returned. */
  redisAtReturn: string;
  /** Redis's first `PONG`, in milliseconds after the restart returned (0 when already). */
  pongAfterMs: number;
  /** What Redis logged: `DB loaded from append only file: <s> seconds`. */
  loggedLoadS: number;
  /** The first correct answer (200, HIT or BYPASS, same body) of a presentation object. */
  firstCorrect?: PolledAnswer;
  /** Object requests sent before Redis answered `PONG`, and their X-Cache counts. */
  duringLoad: number;
  duringLoadXCache: Record<string, number>;
  /** Slowest answer to a request (object or `/healthz`) sent during the load, in ms. */
  slowestDuringLoadMs: number;
  /** All requests (objects and `/healthz`), 5xx answers, hung and failed requests, 200s with another body. */
  requests: number;
  status5xx: number;
  hung: number;
  failed: number;
  wrongBody: number;
  /** The first HIT, and the moment every object had answered a HIT, after the return (ms). */
  firstHitMs?: number;
  allHitMs?: number;
}

/** `/healthz` is polled this often (and a failed request retried after it), in ms. */
const HEALTHZ_EVERY_MS = 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Progress on stderr, so stdout holds only the table. */
function stderrReporter(): Reporter {
  const t0 = performance.now();
  const write = (text: string) =>
    console.error(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${text}`);
  return { step: (t) => write(`  ${t}`), info: write, warn: (m) => write(`warning: ${m}`) };
}

interface Target {
  poId: string;
  url: string;
  body: string;
}

/** Reads every presentation object of every project until each is a HIT; keeps its body. */
async function warm(base: string, auth: Record<string, string>): Promise<Target[]> {
  const json = async (path: string) => {
    const response = await fetch(`${base}${path}`, { headers: auth });
    if (response.status !== 200) throw new Error(`GET ${path}: HTTP ${response.status}`);
    return await response.json();
  };
  const targets: Target[] = [];
  for (const project of (await json("/api/projects")).items) {
    const pid = encodeURIComponent(project.projectId);
    for (const po of (await json(`/api/projects/${pid}/presentation_objects`)).items) {
      const url = `${base}/api/projects/${pid}/presentation_objects/${
        encodeURIComponent(po.poId)
      }/items`;
      targets.push({ poId: String(po.poId), url, body: "" });
    }
  }
  if (targets.length === 0) throw new Error("the instance lists no presentation objects");
  for (const target of targets) {
    for (let attempt = 0;; attempt++) {
      const response = await fetch(target.url, { headers: auth });
      const body = await response.text();
      if (response.status !== 200) throw new Error(`GET ${target.url}: HTTP ${response.status}`);
      if (response.headers.get("x-cache") === "HIT") {
        target.body = body;
        break;
      }
      if (attempt > 20) throw new Error(`${target.poId} is not a HIT after 20 reads`);
    }
  }
  return targets;
}

/**
 * Restarts the instance and watches Redis and the app from the moment the restart returns.
 */
async function restartAndWatch(
  context: WbContext,
  instance: Instance,
  redis: RedisCliTarget,
  targets: Target[],
  auth: Record<string, string>,
  hungMs: number,
): Promise<Omit<RestartRow, "targetMiB" | "usedMemoryBytes" | "keys" | "aofBytes" | "rewriteS">> {
  const base = appUrl(instance);
  const redisLog = nativePaths(instance.instanceDir).redisLog;
  const logBefore = (await Deno.readTextFile(redisLog).catch(() => "")).length;
  const started = performance.now();
  await restartTargets(context, [instance.id]);
  const returned = performance.now();
  const since = () => performance.now() - returned;

  let pongAt: number | undefined;
  const answers: PolledAnswer[] = [];
  const hitSeen = new Set<string>();
  let stop = false;
  const deadline = 300_000;

  const redisWatch = (async () => {
    const first = (await redisCli(redis, "PING")).split("\n")[0];
    if (first === "PONG") pongAt = 0;
    while (pongAt === undefined && since() < deadline) {
      if (await redisCli(redis, "PING") === "PONG") pongAt = since();
      else await sleep(20);
    }
    return first;
  })();

  const poll = async (what: string, url: string, expected?: string) => {
    while (!stop && since() < deadline) {
      const sentMs = since();
      let status = 0;
      let xCache = "-";
      let sameBody = false;
      let error: PolledAnswer["error"];
      try {
        const response = await fetch(url, { headers: auth, signal: AbortSignal.timeout(hungMs) });
        const body = await response.text();
        status = response.status;
        xCache = response.headers.get("x-cache") ?? "-";
        sameBody = expected === undefined ? status === 200 : body === expected;
      } catch (e) {
        error = e instanceof DOMException && e.name === "TimeoutError" ? "hung" : "failed";
      }
      answers.push({ what, sentMs, doneMs: since(), status, xCache, sameBody, error });
      if (xCache === "HIT") hitSeen.add(what);
      if (status === 0 || expected === undefined) await sleep(HEALTHZ_EVERY_MS);
    }
  };
  const pollers = [
    ...targets.map((t) => poll(t.poId, t.url, t.body)),
    poll("/healthz", `${base}/healthz`),
  ];
  while (since() < deadline) {
    if (pongAt !== undefined && targets.every((t) => hitSeen.has(t.poId))) break;
    await sleep(20);
  }
  stop = true;
  await Promise.all(pollers);
  const redisAtReturn = await redisWatch;
  const logged = [
    ...(await Deno.readTextFile(redisLog)).slice(logBefore)
      .matchAll(/DB loaded from append only file: ([0-9.]+) seconds/g),
  ].at(-1);

  const items = answers.filter((a) => a.what !== "/healthz");
  const correct = items
    .filter((a) => a.status === 200 && (a.xCache === "HIT" || a.xCache === "BYPASS") && a.sameBody)
    .sort((a, b) => a.doneMs - b.doneMs);
  const hits = items.filter((a) => a.xCache === "HIT").sort((a, b) => a.doneMs - b.doneMs);
  const lastFirstHit = targets.map((t) => hits.find((h) => h.what === t.poId)?.doneMs);
  const load = answers.filter((a) => pongAt === undefined || a.sentMs < pongAt);
  const itemsDuringLoad = load.filter((a) => a.what !== "/healthz");
  const duringLoadXCache: Record<string, number> = {};
  for (const a of itemsDuringLoad) {
    const key = a.status === 200 ? a.xCache : `HTTP ${a.status}`;
    duringLoadXCache[key] = (duringLoadXCache[key] ?? 0) + 1;
  }
  return {
    restartMs: returned - started,
    redisAtReturn,
    pongAfterMs: pongAt ?? NaN,
    loggedLoadS: Number(logged?.[1] ?? NaN),
    firstCorrect: correct[0],
    duringLoad: itemsDuringLoad.length,
    duringLoadXCache,
    slowestDuringLoadMs: Math.max(0, ...load.map((a) => a.doneMs - a.sentMs)),
    requests: answers.length,
    status5xx: answers.filter((a) => a.status >= 500).length,
    hung: answers.filter((a) => a.error === "hung").length,
    failed: answers.filter((a) => a.error === "failed").length,
    wrongBody: items.filter((a) => a.status === 200 && !a.sameBody).length,
    firstHitMs: hits[0]?.doneMs,
    allHitMs: lastFirstHit.every((t) => t !== undefined) ? Math.max(...lastFirstHit) : undefined,
  };
}

/** Options of {@linkcode benchRestart}. */
export interface RestartBenchOptions {
  /** `used_memory` targets, in MiB, in increasing order. */
  targetsMiB: number[];
  /** Months of HMIS data to load. @default {the loader's: 60, the demo's data} */
  months?: number;
  /** An answer later than this counts as hung, in milliseconds. @default {10_000} */
  hungMs?: number;
}

/**
 * Runs the benchmark: one instance, one row per target size (the Redis keeps growing from one
 * size to the next).
 *
 * @returns The rows, and how long loading and warming took (seconds).
 */
export async function benchRestart(
  options: RestartBenchOptions,
): Promise<{ rows: RestartRow[]; facilities: number; objects: number; loadS: number }> {
  const { targetsMiB, months, hungMs = 10_000 } = options;
  const home = await Deno.makeTempDir({ prefix: "wb-restart-bench-" });
  await Deno.chmod(home, 0o755); // the postgres user must reach the instance's directory
  const repoRoot = defaultRepoRoot();
  const context: WbContext = {
    home,
    repoRoot,
    reporter: stderrReporter(),
    buildClient: false,
    healthTimeoutMs: 120_000,
  };
  const taken = new Set<number>();
  const maxTarget = Math.max(...targetsMiB);
  const instance = await initInstance(context, "rb", {
    port: freePort(taken),
    postgresPort: freePort(taken),
    redisPort: freePort(taken),
    // Room for the largest target, so nothing is evicted.
    redisMaxmemory: `${Math.ceil(maxTarget * 1.5) + 64}mb`,
  });
  try {
    await runTargets(context, [instance.id]);
    const csv = await defaultFacilitiesCsv(repoRoot);
    const loadStarted = performance.now();
    const loaded = await loadInstance(context, instance.id, {
      ...(csv ? { facilitiesCsv: csv } : {}),
      ...(months === undefined ? {} : { months }),
    });
    const loadS = (performance.now() - loadStarted) / 1000;
    const auth = { authorization: `Bearer ${await readAdminToken(instance)}` };
    const targets = await warm(appUrl(instance), auth);
    console.error(
      `loaded ${loaded.facilities} facilities in ${loadS.toFixed(1)} s; ` +
        `${targets.length} objects warm`,
    );

    const paths = nativePaths(instance.instanceDir);
    const redis: RedisCliTarget = {
      args: ["-s", paths.redisSocket],
      password: (await readSecrets(instance.instanceDir)).redisPassword,
    };
    const pool = randomPool(4 * 1024 * 1024);
    const rows: RestartRow[] = [];
    let keysWritten = 0;
    for (const targetMiB of targetsMiB) {
      keysWritten += await fillToUsedMemory(redis, targetMiB * 1024 * 1024, pool, keysWritten);
      const usedMemoryBytes = infoField(await redisCli(redis, "INFO", "memory"), "used_memory");
      const keys = Number(await redisCli(redis, "DBSIZE"));
      const rewriteS = await rewriteAof(redis);
      const aofDir = `${paths.redisDir}/appendonlydir`;
      const aofBytes = await dirBytes(aofDir, ".rdb") + await dirBytes(aofDir, ".aof");
      // Every object is a HIT with its body before the restart.
      await warm(appUrl(instance), auth).then((again) => {
        for (const [i, t] of again.entries()) {
          if (t.body !== targets[i].body) throw new Error(`${t.poId}: body changed`);
        }
      });
      console.error(`${targetMiB} MiB: ${keys} keys, AOF ${aofBytes} bytes; restarting`);
      const watched = await restartAndWatch(context, instance, redis, targets, auth, hungMs);
      const row = { targetMiB, usedMemoryBytes, keys, aofBytes, rewriteS, ...watched };
      console.error(formatRestart([row]));
      rows.push(row);
    }
    return { rows, facilities: loaded.facilities, objects: targets.length, loadS };
  } finally {
    await stopTargets(context, [instance.id]).catch((e) => console.error(`stop: ${e}`));
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
const msText = (ms: number | undefined) => (ms === undefined ? "never" : `${ms.toFixed(0)} ms`);

/** Renders the rows as one Markdown table. */
export function formatRestart(rows: RestartRow[]): string {
  return markdownTable([
    [
      "used_memory (keys)",
      "AOF on disk",
      "`wb restart`",
      "Redis at return",
      "Redis PONG after return (its AOF load)",
      "first correct answer after return",
      "its X-Cache",
      "object requests during the load",
      "slowest request during the load",
      "5xx / hung / failed / wrong body",
      "first HIT after return",
      "every object HIT after return",
    ],
    ...rows.map((r) => [
      `${mib(r.usedMemoryBytes)} (${r.keys.toLocaleString("en-US")})`,
      mib(r.aofBytes),
      `${(r.restartMs / 1000).toFixed(1)} s`,
      r.redisAtReturn.split(" ")[0],
      `${msText(r.pongAfterMs)} (${r.loggedLoadS.toFixed(1)} s)`,
      msText(r.firstCorrect?.doneMs),
      r.firstCorrect?.xCache ?? "-",
      `${r.duringLoad}${
        r.duringLoad === 0
          ? ""
          : `: ${Object.entries(r.duringLoadXCache).map(([k, n]) => `${n} ${k}`).join(", ")}`
      }`,
      r.duringLoad === 0 ? "-" : msText(r.slowestDuringLoadMs),
      `${r.status5xx} / ${r.hung} / ${r.failed} / ${r.wrongBody} of ${r.requests}`,
      msText(r.firstHitMs),
      msText(r.allHitMs),
    ]),
  ]);
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { months: { type: "string" }, "hung-ms": { type: "string" } },
    allowPositionals: true,
  });
  const targetsMiB = positionals.length > 0 ? positionals.map(Number) : [256, 1024];
  if (targetsMiB.some((t) => !(t > 0))) throw new RangeError("targets are sizes in MiB");
  const started = performance.now();
  const result = await benchRestart({
    targetsMiB: [...targetsMiB].sort((a, b) => a - b),
    ...(values.months ? { months: Number(values.months) } : {}),
    ...(values["hung-ms"] ? { hungMs: Number(values["hung-ms"]) } : {}),
  });
  console.log(`deno run -A bench/restart_bench.ts ${Deno.args.join(" ")}`.trim());
  console.log();
  console.log(formatRestart(result.rows));
  console.log();
  console.log(
    `${result.facilities} facilities, ${result.objects} presentation objects warm; ` +
      `load ${result.loadS.toFixed(1)} s; whole run ${
        ((performance.now() - started) / 1000).toFixed(0)
      } s`,
  );
}
