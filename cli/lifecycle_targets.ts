/**
 * `wb run/stop/restart/status` on several targets: each instance in its own batch job
 * (ids, tags or `all`), the single-instance work of `instances.ts` inside, and the exit code
 * of `wb status`.
 *
 * @module
 */

import { type BatchOptions, type InstanceResult, runBatch, throwIfFailed } from "./batch.ts";
import { loadConfig, resolveTargets } from "./config.ts";
import type { WbContext } from "./context.ts";
import type { Instance } from "./instance_schema.ts";
import {
  buildClientFor,
  conflictsOf,
  lockInstance,
  preflightInstance,
  restartInstance,
  runtimeFor,
  startInstance,
  stopInstance,
} from "./instances.ts";
import { type InstanceStatus, judge } from "./runtime.ts";

/** Options of the lifecycle commands (`wb run`, `stop`, `restart`). */
export interface LifecycleOptions extends BatchOptions {
  /**
   * `wb restart` of a group (`@all`, `@<tag>`, `server=<version>`) also starts the
   * instances that are stopped; without it they stay stopped. An instance named by its id
   * is always restarted. @default {false}
   */
  startStopped?: boolean;
}

/**
 * `wb run <targets>`: starts every targeted instance, one after the other unless
 * `parallel` says otherwise; a failure does not keep the others from starting. Each start
 * holds the instance's lock and is checked first ({@linkcode preflightInstance}).
 *
 * @param context The context.
 * @param targets Ids, `@all`, `@<tag>` or `server=<version>`.
 * @param options Parallelism and a callback per finished instance.
 * @returns One result per instance.
 * @throws {UnknownTargetError} On an unknown id or tag.
 * @throws {CliError} When an instance fails to start (one instance: its own error).
 * @example
 * ```ts
 * import { runTargets } from "./lifecycle_targets.ts";
 * import { consoleReporter } from "./reporter.ts";
 * await runTargets({ home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() }, ["@all"]);
 * ```
 */
export async function runTargets(
  context: WbContext,
  targets: readonly string[],
  options: BatchOptions = {},
): Promise<InstanceResult[]> {
  const config = await loadConfig(context.home);
  const instances = resolveTargets(config, targets);
  const results = await runBatch(context, instances, "run", async (c, i) => {
    await using _lock = await lockInstance({ ...c, command: c.command ?? `wb run ${i.id}` }, i);
    await preflightInstance(c, i, config, "run");
    await buildClientFor(c, i);
    await startInstance(c, i);
  }, {
    haltOnFailure: false,
    ...options,
  });
  return throwIfFailed(results);
}

/**
 * `wb stop <targets>`: stops every targeted instance, each under its lock.
 *
 * @param context The context.
 * @param targets Ids, `@all`, `@<tag>` or `server=<version>`.
 * @param options Parallelism and a callback per finished instance.
 * @returns One result per instance.
 * @throws {UnknownTargetError} On an unknown id or tag.
 * @throws {CliError} When an instance fails to stop.
 * @example
 * ```ts
 * import { stopTargets } from "./lifecycle_targets.ts";
 * import { consoleReporter } from "./reporter.ts";
 * await stopTargets({ home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() }, ["demo"]);
 * ```
 */
export async function stopTargets(
  context: WbContext,
  targets: readonly string[],
  options: BatchOptions = {},
): Promise<InstanceResult[]> {
  const instances = resolveTargets(await loadConfig(context.home), targets);
  const results = await runBatch(context, instances, "stop", async (c, i) => {
    await using _lock = await lockInstance({ ...c, command: c.command ?? `wb stop ${i.id}` }, i);
    await stopInstance(c, i);
  }, {
    haltOnFailure: false,
    ...options,
  });
  return throwIfFailed(results);
}

/**
 * Whether anything of an instance runs (a stopped one has no service running).
 *
 * @param context The context.
 * @param instance The instance.
 * @returns `true` when at least one service (not the network) runs.
 */
export async function isRunning(context: WbContext, instance: Instance): Promise<boolean> {
  const status = await runtimeFor(context, instance).status(instance);
  return status.services.some((s) => s.service !== "network" && s.running);
}

/**
 * `wb restart <targets>`: a rolling restart. Each instance is checked
 * ({@linkcode preflightInstance}), stopped, started and its `/healthz` awaited before the
 * next one is touched, so at most `parallel` instances are down at any time; the first
 * failure stops the roll (the rest are skipped and keep running). Instances of a group
 * target that are stopped stay stopped unless `startStopped`.
 *
 * @param context The context.
 * @param targets Ids, `@all`, `@<tag>` or `server=<version>`.
 * @param options `parallel` (default 1), `startStopped`, a callback per finished instance.
 * @returns One result per instance.
 * @throws {UnknownTargetError} On an unknown id or tag.
 * @throws {CliError} When an instance fails to stop or start.
 * @example
 * ```ts
 * import { restartTargets } from "./lifecycle_targets.ts";
 * import { consoleReporter } from "./reporter.ts";
 * await restartTargets({ home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() }, ["@all"]);
 * ```
 */
export async function restartTargets(
  context: WbContext,
  targets: readonly string[],
  options: LifecycleOptions = {},
): Promise<InstanceResult[]> {
  const config = await loadConfig(context.home);
  const instances = resolveTargets(config, targets);
  const named = new Set(
    targets.filter((t) => !t.startsWith("@") && !t.startsWith("server=")),
  );
  const { startStopped, ...batchOptions } = options;
  const results = await runBatch(context, instances, "restart", async (c, i) => {
    await using _lock = await lockInstance(
      { ...c, command: c.command ?? `wb restart ${i.id}` },
      i,
    );
    await restartInstance(c, i, config);
  }, {
    haltOnFailure: true,
    skipIf: async (i) =>
      startStopped || named.has(i.id) || await isRunning(context, i)
        ? undefined
        : `'${i.id}' is stopped; left stopped (--start-stopped starts it)`,
    ...batchOptions,
  });
  return throwIfFailed(results);
}

/**
 * `wb status [targets]`: the state of every targeted instance, judged (see
 * {@linkcode InstanceStatus.verdict}), with port clashes from `servers.json` counted as
 * problems.
 *
 * @param context The context.
 * @param targets Ids, `@all` or `@<tag>`. @default {["@all"]}
 * @returns One status per instance.
 * @throws {UnknownTargetError} On an unknown id or tag.
 * @example
 * ```ts
 * import { statusTargets } from "./lifecycle_targets.ts";
 * import { consoleReporter } from "./reporter.ts";
 * await statusTargets({ home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() });
 * ```
 */
export async function statusTargets(
  context: WbContext,
  targets: readonly string[] = ["@all"],
): Promise<InstanceStatus[]> {
  const config = await loadConfig(context.home);
  const instances = resolveTargets(config, targets.length ? targets : ["@all"]);
  const statuses: InstanceStatus[] = [];
  for (const instance of instances) {
    const status = await runtimeFor(context, instance).status(instance);
    statuses.push(judge(status, instance.id, conflictsOf(config, instance.id)));
  }
  return statuses;
}

/** Exit codes of `wb status`, for monitors and cron. */
export const STATUS_EXIT = {
  /** Every targeted instance is healthy. */
  healthy: 0,
  /** At least one is unhealthy or degraded (serving uncached). */
  unhealthy: 1,
  /** None is unhealthy, but at least one is stopped. */
  stopped: 3,
  /** None is unhealthy, but the state of at least one is unknown (Docker daemon unreachable). */
  unknown: 4,
} as const;

/**
 * The exit code of `wb status` for its statuses ({@linkcode STATUS_EXIT}).
 *
 * @param statuses From {@linkcode statusTargets}.
 * @returns 0, 1, 3 or 4.
 * @example
 * ```ts
 * import { statusExitCode } from "./lifecycle_targets.ts";
 * statusExitCode([]); // 0
 * ```
 */
export function statusExitCode(statuses: readonly InstanceStatus[]): number {
  const has = (...verdicts: InstanceStatus["verdict"][]) =>
    statuses.some((s) => verdicts.includes(s.verdict));
  if (has("unhealthy", "degraded")) return STATUS_EXIT.unhealthy;
  if (has("unknown")) return STATUS_EXIT.unknown;
  if (has("stopped")) return STATUS_EXIT.stopped;
  return STATUS_EXIT.healthy;
}
