/**
 * The lifecycle of one instance behind `wb run/stop/restart`: its directory and secrets
 * prepared, its lock, the preflight, and start, stop and restart in the shared order of
 * `plan.ts` through its runtime. Each function takes a {@linkcode WbContext} and is what
 * the commands and the tests call. `init`, several targets, `pull` and `load` are in
 * `init_instance.ts`, `lifecycle_targets.ts`, `pull.ts` and `load.ts`.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { ensureClientBuilt } from "./client_build.ts";
import { type Config, loadConfig, portConflicts } from "./config.ts";
import type { WbContext } from "./context.ts";
import { dockerRuntime } from "./docker_runtime.ts";
import { CliError, InterruptedError, StartFailedError } from "./errors.ts";
import type { Instance } from "./instance_schema.ts";
import { recordStart, type StartRecord } from "./instance_state.ts";
import { acquireLock, type HeldLock } from "./lock.ts";
import { nativeRuntime } from "./native_runtime.ts";
import { servicesOf, stopOrderOf, SUBDIRECTORIES } from "./plan.ts";
import type { Runtime } from "./runtime.ts";
import { ensureSecrets, generateSecrets, type Secrets } from "./secrets.ts";

/**
 * The runtime of an instance.
 *
 * @param context The context.
 * @param instance The instance.
 * @returns A docker or native runtime.
 * @example
 * ```ts
 * import { runtimeFor } from "./instances.ts";
 * import { memoryReporter } from "./reporter.ts";
 * runtimeFor({ home: "/tmp/wb", repoRoot: ".", reporter: memoryReporter() }, { runtime: "native" });
 * ```
 */
export function runtimeFor(context: WbContext, instance: Pick<Instance, "runtime">): Runtime {
  return instance.runtime === "docker" ? dockerRuntime(context) : nativeRuntime(context);
}

/**
 * Creates the missing {@linkcode SUBDIRECTORIES} (and the instance directory); existing
 * ones are fine.
 *
 * @param instanceDir The instance directory.
 * @returns The subdirectories that were missing and are now created.
 * @example
 * ```ts
 * import { ensureSubdirectories } from "./instances.ts";
 * await ensureSubdirectories(await Deno.makeTempDir()); // ["databases", "sandbox", ...]
 * ```
 */
export async function ensureSubdirectories(instanceDir: string): Promise<string[]> {
  const created: string[] = [];
  for (const name of SUBDIRECTORIES) {
    const path = join(instanceDir, name);
    try {
      await Deno.mkdir(path, { recursive: false, mode: 0o700 });
      created.push(name);
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) continue;
      if (error instanceof Deno.errors.NotFound) {
        await Deno.mkdir(path, { recursive: true, mode: 0o700 });
        created.push(name);
        continue;
      }
      throw error;
    }
  }
  return created;
}

/** Subdirectories and secrets every start needs; reports what it had to create. */
async function prepare(context: WbContext, instance: Instance): Promise<Secrets> {
  await makeInstanceDir(instance.instanceDir);
  const created = await ensureSubdirectories(instance.instanceDir);
  if (created.length > 0) {
    context.reporter.step(
      `Created missing subdirectories of '${instance.id}': ${created.join(", ")}`,
    );
  }
  return await ensureSecrets(instance.instanceDir, generateSecrets());
}

/** Name of the per-instance lock file inside the instance directory. */
export const INSTANCE_LOCK_FILE = "wb.lock";

/**
 * Takes the lock of one instance: lifecycle commands on it run one at a time; a second one
 * waits (saying for what) up to `context.lockWaitMs`, then fails with code `locked`.
 *
 * @param context The context (`command`, `lockWaitMs`, reporter).
 * @param instance The instance.
 * @returns The held lock (`await using`).
 * @throws {CliError} Code `locked` when another command keeps it past the wait.
 */
export async function lockInstance(context: WbContext, instance: Instance): Promise<HeldLock> {
  await makeInstanceDir(instance.instanceDir);
  return await acquireLock(join(instance.instanceDir, INSTANCE_LOCK_FILE), {
    what: `instance '${instance.id}'`,
    command: context.command ?? "wb",
    waitMs: context.lockWaitMs,
    reporter: context.reporter,
  });
}

/**
 * Port clashes of one instance with the others (and itself) in a config.
 *
 * @param config The config.
 * @param id Instance id.
 * @returns One message per clash that involves the instance.
 */
export function conflictsOf(config: Config, id: string): string[] {
  return portConflicts(config.instances).filter((m) => m.includes(`'${id}'`));
}

/**
 * Checks that a start of the instance can succeed, without touching it: its ports are not
 * another instance's in `servers.json`, no other program holds them (its own processes may),
 * the programs it needs exist, the Docker daemon answers. For `restart` this runs before
 * anything is stopped, so a start that could not succeed leaves the instance running.
 *
 * @param context The context.
 * @param instance The instance.
 * @param config The config it comes from (for clashes with other instances).
 * @param action What would follow, for the message.
 * @throws {CliError} Code `preflight`, listing every problem.
 */
export async function preflightInstance(
  context: WbContext,
  instance: Instance,
  config: Config,
  action: "run" | "restart",
): Promise<void> {
  context.reporter.step(`Check that '${instance.id}' can start`);
  const problems = [
    ...conflictsOf(config, instance.id).map((m) => `servers.json: ${m}`),
    ...await runtimeFor(context, instance).preflight(instance),
  ];
  if (problems.length === 0) return;
  context.reporter.end?.("failed");
  throw new CliError(
    "preflight",
    `Not ${action === "restart" ? "restarting" : "starting"} '${instance.id}': ${
      action === "restart"
        ? "its start could not succeed, so it was left as it is"
        : "it could not start"
    }:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
  );
}

/** Options of {@linkcode startInstance}. */
export interface StartOptions {
  /** What the start is part of, as recorded for `wb status`. @default {"run"} */
  action?: StartRecord["action"];
  /** When the whole action began (`performance.now()`), for the recorded duration. */
  startedAt?: number;
}

const interrupted = (context: WbContext) =>
  context.signal?.aborted ? String(context.signal.reason ?? "SIGINT") : undefined;

/**
 * Starts an instance: every service in start order (network, Postgres and its
 * readiness, Redis and its PING, admin, app and its `/healthz`). Running services are left
 * as they are. When a required service fails, what the start made is removed again
 * (docker: exactly the containers it ran and the network if it made it; native: every process)
 * and a {@linkcode StartFailedError} says what failed and what was removed. When
 * `context.signal` aborts, the service under way finishes starting, then the partial start
 * is rolled back the same way ({@linkcode InterruptedError}); a start that had completed
 * stays up.
 *
 * Takes no lock: {@linkcode runTargets} and {@linkcode restartTargets} hold the instance's.
 *
 * @param context The context.
 * @param instance The instance.
 * @param options What to record.
 * @throws {StartFailedError} When a required service fails (a failing Redis only warns).
 * @throws {InterruptedError} When interrupted (the instance is then running or stopped, as it says).
 * @example
 * ```ts
 * import { loadConfig } from "./config.ts";
 * import { startInstance } from "./instances.ts";
 * import { consoleReporter } from "./reporter.ts";
 * const context = { home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() };
 * const [demo] = (await loadConfig(context.home)).instances;
 * await startInstance(context, demo);
 * ```
 */
export async function startInstance(
  context: WbContext,
  instance: Instance,
  options: StartOptions = {},
): Promise<void> {
  const startedAt = options.startedAt ?? performance.now();
  const secrets = await prepare(context, instance);
  const runtime = runtimeFor(context, instance);
  const rollback = async () => {
    context.reporter.step(`Roll back '${instance.id}'`);
    try {
      const removed = await runtime.rollback(instance);
      context.reporter.end?.("ok");
      return { removed };
    } catch (e) {
      context.reporter.end?.("failed");
      return { removed: [] as string[], error: e };
    }
  };
  try {
    for (const service of servicesOf(instance)) {
      const signal = interrupted(context);
      if (signal) {
        const { removed, error } = await rollback();
        if (error) throw new StartFailedError(instance.id, `Interrupted by ${signal}`, [], error);
        throw new InterruptedError(
          instance.id,
          signal,
          "stopped",
          `rolled back the partial start${removed.length ? ` (${removed.join(", ")})` : ""}`,
        );
      }
      await runtime.start(instance, service, secrets);
    }
  } catch (error) {
    if (error instanceof InterruptedError || error instanceof StartFailedError) throw error;
    context.reporter.end?.("failed");
    const { removed, error: rollbackError } = await rollback();
    throw new StartFailedError(instance.id, error, removed, rollbackError);
  }
  await recordStart(instance.instanceDir, {
    at: new Date().toISOString(),
    action: options.action ?? "run",
    ms: Math.round(performance.now() - startedAt),
  });
  const signal = interrupted(context);
  if (signal) {
    throw new InterruptedError(instance.id, signal, "running", "the start had completed");
  }
}

/**
 * Stops an instance: every service in the one stop order (app, admin, Redis, Postgres,
 * network). An interrupt does not cut a stop short: it finishes, then
 * {@linkcode InterruptedError} says the instance is stopped.
 *
 * @param context The context.
 * @param instance The instance.
 * @throws {CliError} When stopping a service fails.
 * @throws {InterruptedError} When interrupted (after the stop finished).
 * @example
 * ```ts
 * import { loadConfig } from "./config.ts";
 * import { stopInstance } from "./instances.ts";
 * import { consoleReporter } from "./reporter.ts";
 * const context = { home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() };
 * const [demo] = (await loadConfig(context.home)).instances;
 * await stopInstance(context, demo);
 * ```
 */
export async function stopInstance(context: WbContext, instance: Instance): Promise<void> {
  const runtime = runtimeFor(context, instance);
  for (const service of stopOrderOf(instance)) await runtime.stop(instance, service);
  const signal = interrupted(context);
  if (signal) throw new InterruptedError(instance.id, signal, "stopped", "finished the stop");
}

/**
 * Restarts an instance: {@linkcode preflightInstance} (nothing is stopped when the start
 * could not succeed), builds the web client when needed, then {@linkcode stopInstance} and
 * {@linkcode startInstance} (which waits for `/healthz`). Interrupted while stopping, it
 * finishes the stop and does not start; while starting, it rolls the start back.
 *
 * @param context The context.
 * @param instance The instance.
 * @param config The config it comes from (for the preflight). @default {loaded}
 * @throws {CliError} Code `preflight` when the start could not succeed (nothing was
 *   stopped); when stopping fails; {@linkcode StartFailedError} when starting fails;
 *   {@linkcode InterruptedError} when interrupted.
 * @example
 * ```ts
 * import { loadConfig } from "./config.ts";
 * import { restartInstance } from "./instances.ts";
 * import { consoleReporter } from "./reporter.ts";
 * const context = { home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() };
 * const [demo] = (await loadConfig(context.home)).instances;
 * await restartInstance(context, demo);
 * ```
 */
export async function restartInstance(
  context: WbContext,
  instance: Instance,
  config?: Config,
): Promise<void> {
  const startedAt = performance.now();
  await preflightInstance(context, instance, config ?? await loadConfig(context.home), "restart");
  await buildClientFor(context, instance);
  const signal = interrupted(context);
  if (signal) {
    throw new InterruptedError(instance.id, signal, "running", "nothing was stopped");
  }
  await stopInstance(context, instance);
  await startInstance(context, instance, { action: "restart", startedAt });
}

/** Builds the web client before a native app starts, when it is missing or stale. */
export async function buildClientFor(context: WbContext, instance: Instance): Promise<void> {
  const wanted = context.buildClient ?? context.appCommand === undefined;
  if (!wanted || instance.runtime !== "native") return;
  await ensureClientBuilt(context);
}

/**
 * Creates an instance directory (mode 0700) when missing. Its parents get the usual mode:
 * they hold nothing secret, and Postgres (run as `postgres` by root) must traverse them.
 */
export async function makeInstanceDir(instanceDir: string): Promise<void> {
  if (await Deno.stat(instanceDir).then(() => true, () => false)) return;
  await Deno.mkdir(dirname(instanceDir), { recursive: true });
  await Deno.mkdir(instanceDir, { recursive: true, mode: 0o700 });
  await Deno.chmod(instanceDir, 0o700);
}
