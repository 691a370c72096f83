/**
 * Runs one action (run, stop, restart) over several instances: one after the other (a
 * rolling restart) or `parallel` at a time, each with its own reporter that collects its
 * warnings, and summarises the outcome per instance.
 *
 * @module
 */

import type { Instance } from "./instance_schema.ts";
import type { WbContext } from "./context.ts";
import { BatchFailedError } from "./errors.ts";
import type { Reporter } from "./reporter.ts";
import { appUrl } from "./runtime.ts";
import { renderTable } from "./table.ts";

/** What a batch does to each instance. */
export type BatchAction = "run" | "stop" | "restart";

/** How one instance fared. */
export interface InstanceResult {
  /** Instance id. */
  id: string;
  /** The action. */
  action: BatchAction;
  /** `ok`; `warned` (done, with warnings); `failed`; `skipped` (not touched after a failure). */
  outcome: "ok" | "warned" | "failed" | "skipped";
  /** How long the action took for this instance, in milliseconds. */
  ms: number;
  /** Warnings reported while it ran. */
  warnings: string[];
  /** The error, when it failed. */
  error?: unknown;
  /** The app's URL. */
  url: string;
}

/** Options of {@linkcode runBatch}. */
export interface BatchOptions {
  /** How many instances are worked on at once. @default {1} */
  parallel?: number;
  /** After a failure, start no further instance (they are `skipped`). */
  haltOnFailure?: boolean;
  /**
   * Called when an instance is done, before the next one is started in its slot (so a
   * rolling restart can be checked between steps).
   */
  onResult?: (result: InstanceResult) => void | Promise<void>;
  /** Called once with every result, in the order given (skipped ones included). */
  onDone?: (results: InstanceResult[]) => void;
  /**
   * Decides, just before an instance's turn, to leave it alone: a reason (shown in the
   * summary) makes it `skipped`, `undefined` works on it.
   */
  skipIf?: (instance: Instance) => Promise<string | undefined>;
}

/**
 * A reporter for one instance of a batch: forwards to `base`, records warnings, and when
 * instances run side by side prints every step as a line prefixed with the instance id
 * (a spinner would mix them up).
 *
 * @param base The command's reporter.
 * @param id Instance id.
 * @param sideBySide Whether other instances run at the same time.
 * @param warnings Receives this instance's warnings.
 * @returns The reporter.
 * @example
 * ```ts
 * import { instanceReporter } from "./batch.ts";
 * import { memoryReporter } from "./reporter.ts";
 * const warnings: string[] = [];
 * instanceReporter(memoryReporter(), "a", true, warnings).warn("slow");
 * warnings; // ["slow"]
 * ```
 */
export function instanceReporter(
  base: Reporter,
  id: string,
  sideBySide: boolean,
  warnings: string[],
): Reporter {
  if (!sideBySide) {
    return {
      step: (title) => base.step(title),
      info: (message) => base.info(message),
      warn: (message) => {
        warnings.push(message);
        base.warn(message);
      },
      ...(base.progress ? { progress: (text: string) => base.progress!(text) } : {}),
      ...(base.end ? { end: (outcome: "ok" | "failed") => base.end!(outcome) } : {}),
    };
  }
  return {
    step: (title) => base.info(`[${id}] • ${title}`),
    info: (message) => base.info(`[${id}] ${message}`),
    warn: (message) => {
      warnings.push(message);
      base.warn(`[${id}] ${message}`);
    },
  };
}

const VERB: Record<BatchAction, [string, string]> = {
  run: ["Start", "Started"],
  stop: ["Stop", "Stopped"],
  restart: ["Restart", "Restarted"],
};

/**
 * Runs `work` for each instance, `parallel` at a time, in config order.
 *
 * @param context The context (its reporter is wrapped per instance).
 * @param instances The instances.
 * @param action What `work` does, for messages and results.
 * @param work The action on one instance.
 * @param options Parallelism, halting, per-result callback.
 * @returns One result per instance, in the order given.
 * @example Restart two instances one after the other
 * ```ts
 * import { runBatch } from "./batch.ts";
 * import { restartInstance } from "./instances.ts";
 * import { consoleReporter } from "./reporter.ts";
 * const context = { home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() };
 * const instances = [] as never[];
 * await runBatch(context, instances, "restart", restartInstance, { haltOnFailure: true });
 * ```
 */
export async function runBatch(
  context: WbContext,
  instances: readonly Instance[],
  action: BatchAction,
  work: (context: WbContext, instance: Instance) => Promise<void>,
  options: BatchOptions = {},
): Promise<InstanceResult[]> {
  const parallel = Math.max(1, Math.floor(options.parallel ?? 1));
  const sideBySide = parallel > 1 && instances.length > 1;
  const results: (InstanceResult | undefined)[] = instances.map(() => undefined);
  if (instances.length === 0) context.reporter.info("No instances configured");
  let next = 0;
  let halted = false;
  const [verb, done] = VERB[action];

  const worker = async () => {
    while (!halted && !context.signal?.aborted && next < instances.length) {
      const index = next++;
      const instance = instances[index];
      const warnings: string[] = [];
      const reporter = instanceReporter(context.reporter, instance.id, sideBySide, warnings);
      const skip = await options.skipIf?.(instance);
      if (skip !== undefined) {
        reporter.info(skip);
        results[index] = {
          id: instance.id,
          action,
          outcome: "skipped",
          ms: 0,
          warnings: [skip],
          url: appUrl(instance),
        };
        continue;
      }
      if (instances.length > 1) {
        reporter.info(`${verb} '${instance.id}' (${index + 1}/${instances.length})`);
      }
      const started = performance.now();
      let error: unknown;
      try {
        await work({ ...context, reporter }, instance);
        reporter.end?.("ok");
      } catch (e) {
        error = e;
        reporter.end?.("failed");
      }
      const ms = performance.now() - started;
      const result: InstanceResult = {
        id: instance.id,
        action,
        outcome: error !== undefined ? "failed" : warnings.length > 0 ? "warned" : "ok",
        ms,
        warnings,
        url: appUrl(instance),
        ...(error !== undefined ? { error } : {}),
      };
      results[index] = result;
      if (error === undefined) {
        reporter.info(`${done} '${instance.id}' in ${(ms / 1000).toFixed(1)} s`);
      } else if (options.haltOnFailure) {
        halted = true;
      }
      await options.onResult?.(result);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, instances.length) }, worker));
  const all = results.map((result, i): InstanceResult =>
    result ?? {
      id: instances[i].id,
      action,
      outcome: "skipped",
      ms: 0,
      warnings: [],
      url: appUrl(instances[i]),
    }
  );
  options.onDone?.(all);
  return all;
}

/**
 * Returns the results when nothing failed; throws otherwise.
 *
 * @param results From {@linkcode runBatch}.
 * @returns The same results.
 * @throws {Error} The instance's own error when only one instance was targeted.
 * @throws {BatchFailedError} Listing every failure (and the skipped) otherwise.
 * @example
 * ```ts
 * import { throwIfFailed } from "./batch.ts";
 * throwIfFailed([]); // []
 * ```
 */
export function throwIfFailed(results: InstanceResult[]): InstanceResult[] {
  const failed = results.filter((r) => r.outcome === "failed");
  if (failed.length === 0) return results;
  if (results.length === 1) throw failed[0].error;
  throw new BatchFailedError(
    results.length,
    failed.map((r) => [r.id, r.error]),
    results.filter((r) => r.outcome === "skipped" && r.warnings.length === 0).map((r) => r.id),
  );
}

/** First line of an error or warning, for a table cell. */
function firstLine(value: unknown): string {
  const text = value instanceof Error ? value.message : String(value ?? "");
  const line = text.split("\n")[0];
  return line.length > 90 ? `${line.slice(0, 87)}...` : line;
}

/**
 * The summary table printed after `wb run`, `stop` and `restart`.
 *
 * @param results From {@linkcode runBatch}.
 * @param totalMs Wall time of the whole command, in milliseconds.
 * @returns The table and a total line.
 * @example
 * ```ts
 * import { formatBatchSummary } from "./batch.ts";
 * formatBatchSummary([{ id: "a", action: "run", outcome: "ok", ms: 1200, warnings: [], url: "http://127.0.0.1:8710" }], 1200);
 * ```
 */
export function formatBatchSummary(results: readonly InstanceResult[], totalMs: number): string {
  const rows = results.map((r) => [
    r.id,
    r.action,
    r.outcome === "ok" ? "ok" : r.outcome === "warned" ? "ok, warned" : r.outcome.toUpperCase(),
    r.outcome === "skipped" ? "-" : `${(r.ms / 1000).toFixed(1)} s`,
    r.action === "stop" ? "" : r.url,
    r.error !== undefined
      ? firstLine(r.error)
      : r.warnings.length > 0
      ? firstLine(r.warnings[0])
      : "",
  ]);
  const count = (outcome: InstanceResult["outcome"]) =>
    results.filter((r) => r.outcome === outcome).length;
  const parts = [
    `${count("ok") + count("warned")} ok`,
    ...(count("warned") ? [`${count("warned")} with warnings`] : []),
    ...(count("failed") ? [`${count("failed")} failed`] : []),
    ...(count("skipped") ? [`${count("skipped")} skipped`] : []),
  ];
  return [
    renderTable(["INSTANCE", "ACTION", "RESULT", "TIME", "URL", "NOTE"], rows),
    `${results.length} instance${results.length === 1 ? "" : "s"}: ${parts.join(", ")}; ${
      (totalMs / 1000).toFixed(1)
    } s in all`,
  ].join("\n");
}
