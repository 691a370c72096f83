/**
 * The work behind `wb init/run/stop/restart/status/pull/load`. Each function takes a
 * {@linkcode WbContext} and is what `cli/main.ts` and the tests call.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { type Config, editConfig, loadConfig, portConflicts, resolveTargets } from "./config.ts";
import { defaultInstanceDir } from "./instance_validation.ts";
import {
  type Instance,
  parsePort,
  POSTGRES_PORT_OFFSET,
  postgresPortOf,
  REDIS_PORT_OFFSET,
  redisPortOf,
  type RuntimeKind,
  RUNTIMES,
  validateId,
  validateMaxmemory,
  validateMaxmemoryPolicy,
  validatePublicUrl,
  validatePublishAddress,
  validateTag,
  validateVersion,
  validateWorkers,
} from "./instance_schema.ts";
import type { WbContext } from "./context.ts";
import { dockerRuntime } from "./docker_runtime.ts";
import {
  CliError,
  CommandFailedError,
  InterruptedError,
  StartFailedError,
  UsageError,
} from "./errors.ts";
import { type ImageSettings, resolveImages, validateImageSettings } from "./images.ts";
import { imageLayersOf } from "./instance_images.ts";
import { nativeRuntime } from "./native_runtime.ts";
import { acquireLock, type HeldLock } from "./lock.ts";
import { ensureClientBuilt } from "./client_build.ts";
import { judge } from "./runtime.ts";
import { type LoadOptions, servicesOf, stopOrderOf, SUBDIRECTORIES } from "./plan.ts";
import { imagePresentStep, imagesToPull, pullStep } from "./image_pulls.ts";
import { isPortFree } from "./process.ts";
import { execStep, runStep } from "./runner.ts";
import { renderTable } from "./table.ts";
import { formatPullProgress, type PullProgress, pullTracker } from "./pull_progress.ts";
import type { InstanceStatus, Runtime } from "./runtime.ts";
import { ensureSecrets, generateSecrets, type Secrets } from "./secrets.ts";
import { type BatchOptions, type InstanceResult, runBatch, throwIfFailed } from "./batch.ts";
import { recordStart, type StartRecord } from "./instance_state.ts";

/** First port tried when none is given. */
export const DEFAULT_PORT = 8710;

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

/** Options of {@linkcode initInstance}. */
export interface InitOptions {
  /** App port. @default {the first free port from 8710} */
  port?: number;
  /** Runtime. @default {"native"} */
  runtime?: RuntimeKind;
  /** Label. @default {the id} */
  label?: string;
  /** Tags for `@<tag>` targets. @default {[]} */
  tags?: string[];
  /** Admin image tag (docker). */
  adminVersion?: string;
  /** App image tag (docker). */
  serverVersion?: string;
  /** Native Postgres port. @default {port + 10000} */
  postgresPort?: number;
  /** Native Redis port. @default {port + 20000} */
  redisPort?: number;
  /** Instance directory. @default {"<WB_HOME>/instances/<id>"} */
  instanceDir?: string;
  /** Redis `maxmemory`, e.g. `512mb`. @default {"256mb"} */
  redisMaxmemory?: string;
  /** Redis eviction policy. @default {"allkeys-lru"} */
  redisMaxmemoryPolicy?: string;
  /** App worker processes (`deno serve --parallel` above 1). @default {1} */
  workers?: number;
  /** Native: Postgres and Redis also on loopback TCP. @default {false} */
  tcp?: boolean;
  /** The URL people open, used in login links. */
  publicUrl?: string;
  /** Docker: images of its services (unset roles: the global settings). */
  images?: ImageSettings;
  /** Docker: host address the app port is published on. @default {"127.0.0.1"} */
  publishAddress?: string;
}

/** Ports taken by instances other than `exceptId`. */
export function portsInUse(config: Config, exceptId?: string): Map<number, string> {
  const used = new Map<number, string>();
  for (const other of config.instances.filter((i) => i.id !== exceptId)) {
    used.set(other.port, `app port of '${other.id}'`);
    if (other.runtime === "native" && other.tcp) {
      used.set(postgresPortOf(other), `Postgres port of '${other.id}'`);
      used.set(redisPortOf(other), `Redis port of '${other.id}'`);
    }
  }
  return used;
}

/**
 * The first port from `start` that no instance uses and that is free on this machine,
 * together with its native Postgres and Redis ports.
 *
 * @param config The config.
 * @param start First candidate. @default {8710}
 * @param runtime Native also needs port + 10000 and port + 20000 free.
 * @returns A port.
 * @throws {CliError} Code `config` when none is free below 45536.
 * @example
 * ```ts
 * import { pickPort } from "./instances.ts";
 * pickPort({ instances: [] }, 8710, "native");
 * ```
 */
export function pickPort(
  config: Config,
  start = DEFAULT_PORT,
  runtime: RuntimeKind = "native",
  tcp = false,
): number {
  const used = portsInUse(config);
  const offsets = runtime === "native" && tcp ? [0, POSTGRES_PORT_OFFSET, REDIS_PORT_OFFSET] : [0];
  for (let port = start; port + Math.max(...offsets) <= 65535; port++) {
    if (offsets.every((o) => !used.has(port + o) && isPortFree(port + o))) return port;
  }
  throw new CliError("config", `No free port from ${start} upwards`);
}

/**
 * Creates an instance: checks the id and ports, stores it in `servers.json`, creates its
 * directory, subdirectories and secrets (`secrets.json`, mode 0600).
 *
 * @param context The context.
 * @param id Instance id.
 * @param options Port, runtime, label, tags...
 * @returns The stored instance.
 * @throws {UsageError} On an invalid id, port or runtime.
 * @throws {CliError} Code `config` when the id exists or a port is used by another instance.
 * @example
 * ```ts
 * import { initInstance } from "./instances.ts";
 * import { memoryReporter } from "./reporter.ts";
 * const context = { home: await Deno.makeTempDir(), repoRoot: ".", reporter: memoryReporter() };
 * await initInstance(context, "demo", { port: 8710 });
 * ```
 */
export async function initInstance(
  context: WbContext,
  id: string,
  options: InitOptions = {},
): Promise<Instance> {
  validateId(id);
  const runtime = options.runtime ?? "native";
  if (!RUNTIMES.includes(runtime)) {
    throw new UsageError(`Invalid runtime '${runtime}': use docker or native`);
  }
  (options.tags ?? []).forEach(validateTag);
  if (options.serverVersion) validateVersion(options.serverVersion);
  if (options.adminVersion) validateVersion(options.adminVersion, "admin version");
  const publicUrl = options.publicUrl ? validatePublicUrl(options.publicUrl) : undefined;
  if ((options.images || options.publishAddress) && runtime !== "docker") {
    throw new UsageError(
      `Images and the publish address are docker settings; '${id}' would be ${runtime}`,
    );
  }
  const images = validateImageSettings(options.images, `instance '${id}'`);
  const publishAddress = options.publishAddress
    ? validatePublishAddress(options.publishAddress)
    : undefined;
  // Under the lock of servers.json: concurrent adds each see the others (distinct ports).
  const instance = await editConfig<Instance>(
    context.home,
    {
      command: context.command ?? `wb c add ${id}`,
      waitMs: context.lockWaitMs,
      reporter: context.reporter,
    },
    (config) => {
      const existing = config.instances.find((i) => i.id === id);
      if (existing) {
        throw new CliError(
          "config",
          `Instance '${id}' already exists (port ${existing.port}, ${existing.instanceDir})`,
        );
      }
      const tcp = runtime === "native" && options.tcp === true;
      const port = options.port !== undefined
        ? parsePort(options.port)
        : pickPort(config, DEFAULT_PORT, runtime, tcp);
      const instance: Instance = {
        id,
        label: options.label ?? id,
        port,
        instanceDir: options.instanceDir ?? defaultInstanceDir(context.home, id),
        runtime,
        tags: [...new Set(options.tags ?? [])],
      };
      if (options.adminVersion) instance.adminVersion = options.adminVersion;
      if (options.serverVersion) instance.serverVersion = options.serverVersion;
      if (options.redisMaxmemory) {
        instance.redisMaxmemory = validateMaxmemory(options.redisMaxmemory);
      }
      if (options.redisMaxmemoryPolicy) {
        instance.redisMaxmemoryPolicy = validateMaxmemoryPolicy(options.redisMaxmemoryPolicy);
      }
      if (options.workers !== undefined) instance.workers = validateWorkers(options.workers);
      if (publicUrl) instance.publicUrl = publicUrl;
      if (images) instance.images = images;
      if (publishAddress) instance.publishAddress = publishAddress;
      if (runtime === "native") {
        instance.postgresPort = parsePort(
          options.postgresPort ?? port + POSTGRES_PORT_OFFSET,
          "Postgres port (default: port + 10000)",
        );
        instance.redisPort = parsePort(
          options.redisPort ?? port + REDIS_PORT_OFFSET,
          "Redis port (default: port + 20000)",
        );
        if (tcp) instance.tcp = true;
      }
      const used = portsInUse(config);
      const mine = [
        port,
        ...(tcp ? [instance.postgresPort!, instance.redisPort!] : []),
      ];
      if (new Set(mine).size !== mine.length) {
        throw new UsageError(
          `The app, Postgres and Redis ports of '${id}' must differ: ${mine.join(", ")}`,
        );
      }
      for (const p of mine) {
        if (used.has(p)) throw new CliError("config", `Port ${p} is already the ${used.get(p)}`);
      }
      const busy = mine.filter((p) => !isPortFree(p));
      if (busy.length > 0) {
        context.reporter.warn(
          `Port ${
            busy.join(", ")
          } of '${id}' is in use on this machine right now; \`wb run ${id}\` needs it free`,
        );
      }
      return {
        config: { ...config, instances: [...config.instances, instance] },
        result: instance,
      };
    },
  );
  await makeInstanceDir(instance!.instanceDir);
  await ensureSubdirectories(instance!.instanceDir);
  await ensureSecrets(instance!.instanceDir, generateSecrets());
  context.reporter.info(
    `Created ${runtime} instance '${id}' on port ${instance!.port} in ${instance!.instanceDir}`,
  );
  return instance!;
}

/**
 * Creates an instance directory (mode 0700) when missing. Its parents get the usual mode:
 * they hold nothing secret, and Postgres (run as `postgres` by root) must traverse them.
 */
async function makeInstanceDir(instanceDir: string): Promise<void> {
  if (await Deno.stat(instanceDir).then(() => true, () => false)) return;
  await Deno.mkdir(dirname(instanceDir), { recursive: true });
  await Deno.mkdir(instanceDir, { recursive: true, mode: 0o700 });
  await Deno.chmod(instanceDir, 0o700);
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
async function buildClientFor(context: WbContext, instance: Instance): Promise<void> {
  const wanted = context.buildClient ?? context.appCommand === undefined;
  if (!wanted || instance.runtime !== "native") return;
  await ensureClientBuilt(context);
}

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
 * import { runTargets } from "./instances.ts";
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
 * import { stopTargets } from "./instances.ts";
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
 * import { restartTargets } from "./instances.ts";
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
 * import { statusTargets } from "./instances.ts";
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
 * import { statusExitCode } from "./instances.ts";
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

/** What `wb pull` did for one image. */
export interface PullResult {
  /** Image reference. */
  image: string;
  /** `<id> <service>` of every targeted service that runs it. */
  usedBy: string[];
  /**
   * `pulled` from its registry; `local`: not pulled (no registry has it, or none is
   * reachable) but present in the engine, which runs it; `missing`: neither.
   */
  status: "pulled" | "local" | "missing";
  /** Layers and Docker's closing status. */
  progress: PullProgress;
  /** How long the pull took, in milliseconds. */
  ms: number;
  /** Why the pull failed (docker's stderr), when it did. */
  error?: string;
}

/**
 * `wb pull [targets]`: pulls every image the targeted docker instances run (each
 * instance's Postgres, Redis, admin and app image under the configuration, see
 * `cli/images.ts`), one after the other, reporting each image's layers as they arrive. An
 * image no registry gives (a stand-in of `deno task docker:images`, an app image made by
 * `wb build`) is fine when the engine has it: the instance runs the local one.
 *
 * @param context The context.
 * @param targets Ids, `@all`, `@<tag>` or `server=<version>`. @default {["@all"]}
 * @returns One result per image; a `missing` one means an instance cannot start.
 * @throws {UnknownTargetError} On an unknown target.
 * @example
 * ```ts
 * import { pullImages } from "./instances.ts";
 * import { consoleReporter } from "./reporter.ts";
 * await pullImages({ home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() });
 * ```
 */
export async function pullImages(
  context: WbContext,
  targets: readonly string[] = ["@all"],
): Promise<PullResult[]> {
  const config = await loadConfig(context.home);
  const instances = resolveTargets(config, targets.length ? targets : ["@all"])
    .filter((i) => i.runtime === "docker");
  const layers = await imageLayersOf(context);
  const uses = imagesToPull(instances.map((i) => ({ id: i.id, images: resolveImages(i, layers) })));
  const options = { env: context.env, reporter: context.reporter };
  const results: PullResult[] = [];
  for (const [index, use] of uses.entries()) {
    const track = pullTracker();
    let progress: PullProgress = { layers: 0, done: 0 };
    const started = performance.now();
    const step = pullStep(use);
    let error: string | undefined;
    try {
      await runStep({ ...step, title: `${step.title} (${index + 1}/${uses.length})` }, {
        ...options,
        onStdoutLine: (line) => {
          progress = track(line);
          context.reporter.progress?.(formatPullProgress(progress));
        },
      });
    } catch (e) {
      if (!(e instanceof CommandFailedError)) throw e;
      error = e.stderr.split("\n").find((l) => l.trim()) ?? e.message;
    }
    const ms = performance.now() - started;
    const { image, usedBy } = use;
    if (error === undefined) {
      results.push({ image, usedBy, status: "pulled", progress, ms });
      context.reporter.info(
        `Pulled ${image}: ${formatPullProgress(progress)} in ${(ms / 1000).toFixed(1)} s`,
      );
      continue;
    }
    const present = (await execStep(imagePresentStep(image), options)).code === 0;
    results.push({ image, usedBy, status: present ? "local" : "missing", progress, ms, error });
    if (present) {
      context.reporter.info(`Kept the local ${image} (not pulled: ${error})`);
    } else {
      const ids = [...new Set(usedBy.map((u) => u.split(" ")[0]))];
      context.reporter.warn(
        `${image} is neither pullable nor in the engine (${error}); ${
          use.own
            ? `build it with \`wb build ${ids.join(" ")}\``
            : "set another image with `wb c update <id> --<service>-image` or `wb c images`"
        }. Needed by: ${usedBy.join(", ")}`,
      );
    }
  }
  return results;
}

/**
 * Formats `wb pull`'s results: one row per service, with the image it runs and what the
 * pull did.
 *
 * @param results From {@linkcode pullImages}.
 * @returns A table.
 * @example
 * ```ts
 * import { formatPullTable } from "./instances.ts";
 * formatPullTable([]); // "No docker instance among the targets"
 * ```
 */
export function formatPullTable(results: readonly PullResult[]): string {
  if (results.length === 0) return "No docker instance among the targets";
  const rows = results.flatMap((r) =>
    r.usedBy.map((use) => [...use.split(" "), r.image, r.status] as string[])
  ).sort((a, b) => a[0].localeCompare(b[0]));
  return renderTable(["INSTANCE", "SERVICE", "IMAGE", "PULL"], rows);
}

/** Options of {@linkcode loadInstance}. */
export interface LoadInstanceOptions extends LoadOptions {
  /** Load even when the database already has facilities. @default {false} */
  reload?: boolean;
}

/** Result of {@linkcode loadInstance}. */
export interface LoadResult {
  /** `true` when data was already there and nothing was loaded. */
  skipped: boolean;
  /** Facilities in the database afterwards. */
  facilities: number;
}

/**
 * `wb load <id>`: runs the app's loader against the instance's database, unless it
 * already has facilities (then nothing happens, unless `reload`).
 *
 * @param context The context.
 * @param id Instance id.
 * @param options CSV, scale, months, reload.
 * @returns Whether it loaded and how many facilities there are.
 * @throws {UnknownTargetError} On an unknown id.
 * @throws {CliError} Code `not_running` when Postgres does not answer.
 * @example
 * ```ts
 * import { loadInstance } from "./instances.ts";
 * import { consoleReporter } from "./reporter.ts";
 * await loadInstance({ home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() }, "demo", {});
 * ```
 */
export async function loadInstance(
  context: WbContext,
  id: string,
  options: LoadInstanceOptions = {},
): Promise<LoadResult> {
  const [instance] = resolveTargets(await loadConfig(context.home), [id]);
  const runtime = runtimeFor(context, instance);
  const before = await runtime.countFacilities(instance);
  if (before > 0 && !options.reload) {
    context.reporter.info(
      `'${id}' already has ${before} facilities; not reloading (use --reload to load again)`,
    );
    return { skipped: true, facilities: before };
  }
  const secrets = await ensureSecrets(instance.instanceDir, generateSecrets());
  const { reload: _, ...loadOptions } = options;
  await runtime.load(instance, secrets, loadOptions);
  const facilities = await runtime.countFacilities(instance);
  context.reporter.info(`Loaded '${id}': ${facilities} facilities`);
  return { skipped: false, facilities };
}
