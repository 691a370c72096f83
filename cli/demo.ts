/**
 * `wb demo`: one native instance with the Kano facilities, cold vs warm vs after-restart
 * timings of every presentation object, and whether Redis kept the cache over a restart.
 *
 * @module
 */

import { join } from "node:path";
import { loadConfig } from "./config.ts";
import { type Instance, type RuntimeKind } from "./instance_schema.ts";
import type { WbContext } from "./context.ts";
import { CliError } from "./errors.ts";
import { runtimeFor, startInstance } from "./instances.ts";
import { loadInstance } from "./load.ts";
import { restartTargets, stopTargets } from "./lifecycle_targets.ts";
import { initInstance, pickPort } from "./init_instance.ts";
import { flushCache } from "./ops.ts";
import { checkPrerequisites, describeMissing } from "./prerequisites.ts";
import { appUrl } from "./runtime.ts";
import { readAdminToken } from "./secrets.ts";

/** Id of the demo instance. */
export const DEMO_ID = "demo";

/** Preferred port of the demo instance. */
export const DEMO_PORT = 8710;

/** File name of the Kano facilities in `<repo>/../shared/data/`. */
export const KANO_CSV = "grid3_nga_health_facilities_v2_kano.csv";

/**
 * Where the demo looks for the Kano CSV: `/work/shared/data/…` for a repo in
 * `/work/main`, i.e. `../shared/data/<file>` from the repo root.
 *
 * @param repoRoot The repository root.
 * @returns Absolute path (may not exist).
 * @example
 * ```ts
 * import { kanoCsvPath } from "./demo.ts";
 * kanoCsvPath("/work/main"); // "/work/shared/data/grid3_nga_health_facilities_v2_kano.csv"
 * ```
 */
export function kanoCsvPath(repoRoot: string): string {
  return join(repoRoot, "..", "shared", "data", KANO_CSV);
}

/**
 * The facilities `wb load` and `wb demo` use without `--facilities`: the Kano file of
 * {@linkcode kanoCsvPath} when it exists. Passing it explicitly makes docker instances load
 * it too (their loader container sees only mounted files).
 *
 * @param repoRoot The repository root.
 * @returns Its absolute path, or `undefined` when it is missing (the loader then generates a
 *   synthetic list).
 * @example
 * ```ts
 * import { defaultFacilitiesCsv } from "./demo.ts";
 * await defaultFacilitiesCsv("/work/main"); // "/work/shared/data/grid3_nga_…_kano.csv"
 * ```
 */
export async function defaultFacilitiesCsv(repoRoot: string): Promise<string | undefined> {
  const path = kanoCsvPath(repoRoot);
  return await Deno.stat(path).then((s) => s.isFile, () => false) ? path : undefined;
}

/** Options of {@linkcode runDemo}. */
export interface DemoOptions {
  /** Stop the instance after the table. @default {false} */
  once?: boolean;
  /** Facilities CSV. @default {kanoCsvPath(context.repoRoot)}; when missing, synthetic data */
  facilitiesCsv?: string;
  /** Reload data even when the database has some. @default {false} */
  reload?: boolean;
  /** Preferred port for a new demo instance. @default {8710} */
  port?: number;
}

/** One timed request. */
export interface TimedRequest {
  /** Round trip including the body, in milliseconds. */
  ms: number;
  /** HTTP status. */
  status: number;
  /** `X-Cache` header, or `-` when absent. */
  xCache: string;
  /** For a non-200 answer: the body's `message` (or the start of the body). */
  error?: string;
}

/** One row of the demo table. */
export interface DemoRow {
  /** Project id. */
  projectId: string;
  /** Presentation object id. */
  poId: string;
  /** Presentation object label. */
  label: string;
  /** First request (Postgres). */
  cold: TimedRequest;
  /** Second request (Redis). */
  warm: TimedRequest;
  /** First request after the restart (Redis, if the cache survived). */
  afterRestart: TimedRequest;
}

/** What the demo measured. */
export interface DemoReport {
  /** The instance used. */
  instance: Instance;
  /** Base URL of the app. */
  url: string;
  /** Whether the facilities came from a real CSV (else the loader made synthetic ones). */
  realData: boolean;
  /** The CSV used, when real. */
  facilitiesCsv?: string;
  /** Facilities in the database. */
  facilities: number;
  /** One row per presentation object. */
  rows: DemoRow[];
  /** Redis keys before the restart. */
  keysBefore?: number;
  /** Redis keys after the restart. */
  keysAfter?: number;
  /** How long `restart` took, in milliseconds. */
  restartMs: number;
  /** `true` when there were rows and every after-restart request was `X-Cache: HIT`. */
  allHitAfterRestart: boolean;
}

/**
 * Times `GET url`, reading the whole body.
 *
 * @param url The URL.
 * @param headers Request headers (reads need a viewer: the demo sends the admin token).
 * @returns Milliseconds, status, `X-Cache`, and the parsed JSON body (or `undefined`).
 * @example
 * ```ts
 * import { timedGet } from "./demo.ts";
 * const { ms, xCache } = await timedGet("http://127.0.0.1:8710/healthz");
 * ```
 */
export async function timedGet(
  url: string,
  headers: Record<string, string> = {},
): Promise<TimedRequest & { body: unknown }> {
  const started = performance.now();
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(60_000) });
  const text = await response.text();
  const ms = performance.now() - started;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const xCache = response.headers.get("x-cache") ?? "-";
  if (response.status === 200) return { ms, status: response.status, xCache, body };
  const message = (body as { message?: unknown })?.message;
  const error = typeof message === "string" ? message : text.slice(0, 200);
  return { ms, status: response.status, xCache, error, body };
}

/** `{ items: [...] }` or `[...]`. */
function itemsOf(body: unknown): Record<string, unknown>[] {
  const list = Array.isArray(body) ? body : (body as { items?: unknown })?.items;
  return Array.isArray(list) ? list : [];
}

async function getList(
  url: string,
  headers: Record<string, string>,
): Promise<Record<string, unknown>[]> {
  const response = await timedGet(url, headers);
  if (response.status !== 200) {
    throw new CliError("demo_failed", `GET ${url} answered HTTP ${response.status}`);
  }
  return itemsOf(response.body);
}

/**
 * Runs the demo: prerequisites, instance (created or reused), start, load (skipped when
 * loaded), cold/warm pass, Redis key count, `restart` (the same code as `wb restart`),
 * key count, after-restart pass. With `once`, stops the instance at the end (also on
 * failure).
 *
 * @param context The context.
 * @param options Once, CSV, reload, port.
 * @returns The measurements; print them with {@linkcode formatDemoReport}.
 * @throws {CliError} Code `prerequisites` when neither runtime can run; `demo_failed`
 *   when the app's API does not answer as expected.
 * @example
 * ```ts
 * import { formatDemoReport, runDemo } from "./demo.ts";
 * import { consoleReporter } from "./reporter.ts";
 * const report = await runDemo({ home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() }, { once: true });
 * console.log(formatDemoReport(report));
 * ```
 */
export async function runDemo(context: WbContext, options: DemoOptions = {}): Promise<DemoReport> {
  const { reporter } = context;
  const found = await checkPrerequisites(context);
  const missing = describeMissing(found);
  if (missing) throw new CliError("prerequisites", missing);

  const config = await loadConfig(context.home);
  let instance = config.instances.find((i) => i.id === DEMO_ID);
  if (instance) {
    reporter.info(`Reusing instance '${DEMO_ID}' (${instance.runtime}, port ${instance.port})`);
  } else {
    const runtime: RuntimeKind = found.nativeMissing.length === 0 ? "native" : "docker";
    instance = await initInstance(context, DEMO_ID, {
      port: pickPort(config, options.port ?? DEMO_PORT, runtime),
      runtime,
      label: "Demo (Kano)",
      tags: ["demo"],
    });
  }
  if (instance.runtime === "native" && found.nativeMissing.length > 0) {
    throw new CliError(
      "prerequisites",
      `Instance '${DEMO_ID}' is native, but ${found.nativeMissing.join(", ")} are missing`,
    );
  }
  if (instance.runtime === "docker" && !found.dockerEngine) {
    throw new CliError(
      "prerequisites",
      `Instance '${DEMO_ID}' uses docker, but no docker engine answers \`docker info\``,
    );
  }

  const csv = options.facilitiesCsv ?? kanoCsvPath(context.repoRoot);
  const realData = await Deno.stat(csv).then((s) => s.isFile, () => false);
  if (realData) {
    reporter.info(`Facilities: ${csv}`);
  } else {
    reporter.warn(
      `${csv} not found: the loader generates a SYNTHETIC facility list; the data below is synthetic.`,
    );
  }

  const url = appUrl(instance);
  try {
    await startInstance(context, instance);
    const loaded = await loadInstance(context, DEMO_ID, {
      ...(realData ? { facilitiesCsv: csv } : {}),
      reload: options.reload,
    });
    const runtime = runtimeFor(context, instance);
    if (await runtime.redisKeyCount(instance) !== undefined) {
      // Through the app (its in-process caches too; the flush and the cache format are
      // recorded, so the key counts below compare like with like).
      await flushCache(context, DEMO_ID);
      reporter.info("Emptied the demo's caches so the first pass is cold");
    }

    // Reads need a viewer; the demo reads as the instance's administrator.
    const auth = { authorization: `Bearer ${await readAdminToken(instance)}` };
    const targets: Omit<DemoRow, "cold" | "warm" | "afterRestart">[] = [];
    for (const project of await getList(`${url}/api/projects`, auth)) {
      const projectId = String(project.projectId);
      const pos = await getList(
        `${url}/api/projects/${encodeURIComponent(projectId)}/presentation_objects`,
        auth,
      );
      for (const po of pos) {
        targets.push({ projectId, poId: String(po.poId), label: String(po.label ?? po.poId) });
      }
    }
    const itemsUrl = (t: { projectId: string; poId: string }) =>
      `${url}/api/projects/${encodeURIComponent(t.projectId)}/presentation_objects/${
        encodeURIComponent(t.poId)
      }/items`;
    const strip = ({ ms, status, xCache, error }: TimedRequest): TimedRequest => ({
      ms,
      status,
      xCache,
      ...(error === undefined ? {} : { error }),
    });

    const cold: TimedRequest[] = [];
    const warm: TimedRequest[] = [];
    for (const target of targets) {
      cold.push(strip(await timedGet(itemsUrl(target), auth)));
      warm.push(strip(await timedGet(itemsUrl(target), auth)));
    }
    const keysBefore = await runtime.redisKeyCount(instance);

    reporter.info(`Restarting '${DEMO_ID}' (same code as \`wb restart ${DEMO_ID}\`)`);
    const restartStarted = performance.now();
    await restartTargets(context, [DEMO_ID]);
    const restartMs = performance.now() - restartStarted;

    const keysAfter = await runtime.redisKeyCount(instance);
    const after: TimedRequest[] = [];
    for (const target of targets) after.push(strip(await timedGet(itemsUrl(target), auth)));

    const rows = targets.map((t, i) => ({
      ...t,
      cold: cold[i],
      warm: warm[i],
      afterRestart: after[i],
    }));
    return {
      instance,
      url,
      realData,
      ...(realData ? { facilitiesCsv: csv } : {}),
      facilities: loaded.facilities,
      rows,
      keysBefore,
      keysAfter,
      restartMs,
      allHitAfterRestart: rows.length > 0 && rows.every((r) => r.afterRestart.xCache === "HIT"),
    };
  } finally {
    if (options.once) await stopTargets(context, [DEMO_ID]);
  }
}

/**
 * Formats the demo table and summary.
 *
 * @param report From {@linkcode runDemo}.
 * @returns Text for the terminal; the last line says whether every after-restart request
 *   was a HIT.
 * @example
 * ```ts
 * import { formatDemoReport, runDemo } from "./demo.ts";
 * import { consoleReporter } from "./reporter.ts";
 * const report = await runDemo({ home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() });
 * console.log(formatDemoReport(report));
 * ```
 */
export function formatDemoReport(report: DemoReport): string {
  const ms = (r: TimedRequest) => (r.status === 200 ? r.ms.toFixed(1) : `HTTP ${r.status}`);
  const header = [
    "Presentation object",
    "cold ms",
    "warm ms",
    "after-restart ms",
    "X-Cache (cold/warm/after)",
  ];
  const body = report.rows.map((r) => [
    r.label,
    ms(r.cold),
    ms(r.warm),
    ms(r.afterRestart),
    `${r.cold.xCache}/${r.warm.xCache}/${r.afterRestart.xCache}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i >= 1 && i <= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(
      " | ",
    )
      .trimEnd();
  const hits = report.rows.filter((r) => r.afterRestart.xCache === "HIT").length;
  const errors = new Map<string, string>();
  for (const row of report.rows) {
    for (
      const [pass, r] of [["cold", row.cold], ["warm", row.warm], [
        "after",
        row.afterRestart,
      ]] as const
    ) {
      if (r.status !== 200) {
        const key = `HTTP ${r.status}: ${r.error ?? ""}`;
        if (!errors.has(key)) errors.set(key, `${row.label} (${pass})`);
      }
    }
  }
  const data = report.realData
    ? `${report.facilities} facilities from ${report.facilitiesCsv}`
    : `${report.facilities} SYNTHETIC facilities (Kano CSV not found)`;
  return [
    `Data: ${data}`,
    "",
    line(header),
    widths.map((w) => "-".repeat(w)).join("-|-"),
    ...body.map(line),
    ...(errors.size > 0
      ? [
        "",
        "Errors from the app:",
        ...[...errors].map(([error, where]) => `  ${error} (first: ${where})`),
      ]
      : []),
    "",
    `Redis keys: ${report.keysBefore ?? "n/a"} before restart, ${
      report.keysAfter ?? "n/a"
    } after restart`,
    `Restart took ${(report.restartMs / 1000).toFixed(1)} s`,
    report.rows.length === 0
      ? "FAIL: the app listed no presentation objects, nothing was measured"
      : report.allHitAfterRestart
      ? `OK: every after-restart request (${hits} of ${report.rows.length}) was X-Cache: HIT`
      : `FAIL: only ${hits} of ${report.rows.length} after-restart requests were X-Cache: HIT`,
  ].join("\n");
}
