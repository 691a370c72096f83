/**
 * The work behind `wb init/run/stop/restart/status/pull/load`. Each function takes a
 * {@linkcode WbContext} and is what `cli/main.ts` and the tests call.
 *
 * @module
 */

import { join } from "node:path";
import {
  type Config,
  defaultInstanceDir,
  type Instance,
  loadConfig,
  parsePort,
  POSTGRES_PORT_OFFSET,
  postgresPortOf,
  REDIS_PORT_OFFSET,
  redisPortOf,
  resolveTargets,
  type RuntimeKind,
  RUNTIMES,
  saveConfig,
  validateId,
  validateMaxmemory,
  validateMaxmemoryPolicy,
  validateTag,
  validateVersion,
  validateWorkers,
} from "./config.ts";
import type { WbContext } from "./context.ts";
import { dockerRuntime } from "./docker_runtime.ts";
import { CliError, StartFailedError, UsageError } from "./errors.ts";
import { nativeRuntime } from "./native_runtime.ts";
import { type LoadOptions, planPull, servicesOf, stopOrderOf, SUBDIRECTORIES } from "./plan.ts";
import { isPortFree } from "./process.ts";
import { runStep } from "./runner.ts";
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
      await Deno.mkdir(path, { recursive: false });
      created.push(name);
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) continue;
      if (error instanceof Deno.errors.NotFound) {
        await Deno.mkdir(path, { recursive: true });
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
}

/** Ports taken by instances other than `exceptId`. */
export function portsInUse(config: Config, exceptId?: string): Map<number, string> {
  const used = new Map<number, string>();
  for (const other of config.instances.filter((i) => i.id !== exceptId)) {
    used.set(other.port, `app port of '${other.id}'`);
    if (other.runtime === "native") {
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
): number {
  const used = portsInUse(config);
  const offsets = runtime === "native" ? [0, POSTGRES_PORT_OFFSET, REDIS_PORT_OFFSET] : [0];
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
  const config = await loadConfig(context.home);
  const existing = config.instances.find((i) => i.id === id);
  if (existing) {
    throw new CliError(
      "config",
      `Instance '${id}' already exists (port ${existing.port}, ${existing.instanceDir})`,
    );
  }
  const port = options.port !== undefined
    ? parsePort(options.port)
    : pickPort(config, DEFAULT_PORT, runtime);
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
  if (options.redisMaxmemory) instance.redisMaxmemory = validateMaxmemory(options.redisMaxmemory);
  if (options.redisMaxmemoryPolicy) {
    instance.redisMaxmemoryPolicy = validateMaxmemoryPolicy(options.redisMaxmemoryPolicy);
  }
  if (options.workers !== undefined) instance.workers = validateWorkers(options.workers);
  if (runtime === "native") {
    instance.postgresPort = parsePort(
      options.postgresPort ?? port + POSTGRES_PORT_OFFSET,
      "Postgres port (default: port + 10000)",
    );
    instance.redisPort = parsePort(
      options.redisPort ?? port + REDIS_PORT_OFFSET,
      "Redis port (default: port + 20000)",
    );
  }
  const used = portsInUse(config);
  const mine = [
    port,
    ...(runtime === "native" ? [instance.postgresPort!, instance.redisPort!] : []),
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
  await Deno.mkdir(instance.instanceDir, { recursive: true });
  await ensureSubdirectories(instance.instanceDir);
  await ensureSecrets(instance.instanceDir, generateSecrets());
  await saveConfig(context.home, { instances: [...config.instances, instance] });
  context.reporter.info(
    `Created ${runtime} instance '${id}' on port ${port} in ${instance.instanceDir}`,
  );
  return instance;
}

/** Subdirectories and secrets every start needs; reports what it had to create. */
async function prepare(context: WbContext, instance: Instance): Promise<Secrets> {
  await Deno.mkdir(instance.instanceDir, { recursive: true });
  const created = await ensureSubdirectories(instance.instanceDir);
  if (created.length > 0) {
    context.reporter.step(
      `Created missing subdirectories of '${instance.id}': ${created.join(", ")}`,
    );
  }
  return await ensureSecrets(instance.instanceDir, generateSecrets());
}

/** Options of {@linkcode startInstance}. */
export interface StartOptions {
  /** What the start is part of, as recorded for `wb status`. @default {"run"} */
  action?: StartRecord["action"];
  /** When the whole action began (`performance.now()`), for the recorded duration. */
  startedAt?: number;
}

/**
 * Starts an instance: every service in start order (network, Postgres and its
 * readiness, Redis and its PING, admin, app and its `/healthz`). Running services are left
 * as they are. When a required service fails, everything of the instance is removed
 * again (docker: every resource labelled `dev.wb.instance=<id>`; native: every process)
 * and a {@linkcode StartFailedError} says what failed and what was removed.
 *
 * @param context The context.
 * @param instance The instance.
 * @param options What to record.
 * @throws {StartFailedError} When a required service fails (a failing Redis only warns).
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
  try {
    for (const service of servicesOf(instance)) await runtime.start(instance, service, secrets);
  } catch (error) {
    context.reporter.end?.("failed");
    context.reporter.step(`Roll back '${instance.id}'`);
    let removed: string[] = [];
    let rollbackError: unknown;
    try {
      removed = await runtime.rollback(instance);
      context.reporter.end?.("ok");
    } catch (e) {
      rollbackError = e;
      context.reporter.end?.("failed");
    }
    throw new StartFailedError(instance.id, error, removed, rollbackError);
  }
  await recordStart(instance.instanceDir, {
    at: new Date().toISOString(),
    action: options.action ?? "run",
    ms: Math.round(performance.now() - startedAt),
  });
}

/**
 * Stops an instance: every service in the one stop order (app, admin, Redis, Postgres,
 * network).
 *
 * @param context The context.
 * @param instance The instance.
 * @throws {CliError} When stopping a service fails.
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
}

/**
 * Restarts an instance: {@linkcode stopInstance}, then {@linkcode startInstance} (which
 * waits for `/healthz`).
 *
 * @param context The context.
 * @param instance The instance.
 * @throws {CliError} When stopping fails; {@linkcode StartFailedError} when starting fails.
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
export async function restartInstance(context: WbContext, instance: Instance): Promise<void> {
  const startedAt = performance.now();
  await stopInstance(context, instance);
  await startInstance(context, instance, { action: "restart", startedAt });
}

/**
 * `wb run <targets>`: starts every targeted instance, one after the other unless
 * `parallel` says otherwise; a failure does not keep the others from starting.
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
  const instances = resolveTargets(await loadConfig(context.home), targets);
  const results = await runBatch(context, instances, "run", (c, i) => startInstance(c, i), {
    haltOnFailure: false,
    ...options,
  });
  return throwIfFailed(results);
}

/**
 * `wb stop <targets>`: stops every targeted instance.
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
  const results = await runBatch(context, instances, "stop", stopInstance, {
    haltOnFailure: false,
    ...options,
  });
  return throwIfFailed(results);
}

/**
 * `wb restart <targets>`: a rolling restart. Each instance is stopped, started and its
 * `/healthz` awaited before the next one is touched, so at most `parallel` instances are
 * down at any time; the first failure stops the roll (the rest are skipped and keep
 * running).
 *
 * @param context The context.
 * @param targets Ids, `@all`, `@<tag>` or `server=<version>`.
 * @param options `parallel` (default 1) and a callback per finished instance.
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
  options: BatchOptions = {},
): Promise<InstanceResult[]> {
  const instances = resolveTargets(await loadConfig(context.home), targets);
  const results = await runBatch(context, instances, "restart", restartInstance, {
    haltOnFailure: true,
    ...options,
  });
  return throwIfFailed(results);
}

/**
 * `wb status [targets]`: the state of every targeted instance.
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
  const instances = resolveTargets(
    await loadConfig(context.home),
    targets.length ? targets : ["@all"],
  );
  const statuses: InstanceStatus[] = [];
  for (const instance of instances) {
    statuses.push(await runtimeFor(context, instance).status(instance));
  }
  return statuses;
}

/** What `wb pull` did for one image. */
export interface PullResult {
  /** Image reference. */
  image: string;
  /** `ok`, or `warned` when pulling an optional image (our own) failed. */
  status: "ok" | "warned";
  /** Layers and Docker's closing status. */
  progress: PullProgress;
  /** How long the pull took, in milliseconds. */
  ms: number;
}

/**
 * `wb pull [targets]`: pulls the images of the targeted docker instances
 * ({@linkcode IMAGES_TO_PULL} plus their app and admin images), one after the other,
 * reporting each image's layers as they arrive.
 *
 * @param context The context.
 * @param targets Ids, `@all`, `@<tag>` or `server=<version>`. @default {["@all"]}
 * @returns One result per image.
 * @throws {CommandFailedError} When pulling a base image fails.
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
  const instances = resolveTargets(config, targets.length ? targets : ["@all"]);
  const steps = planPull(instances);
  const results: PullResult[] = [];
  for (const [index, step] of steps.entries()) {
    const track = pullTracker();
    let progress: PullProgress = { layers: 0, done: 0 };
    const started = performance.now();
    const result = await runStep(
      { ...step, title: `${step.title} (${index + 1}/${steps.length})` },
      {
        env: context.env,
        reporter: context.reporter,
        onStdoutLine: (line) => {
          progress = track(line);
          context.reporter.progress?.(formatPullProgress(progress));
        },
      },
    );
    const ms = performance.now() - started;
    const image = step.args[1];
    results.push({ image, status: result.status === "warned" ? "warned" : "ok", progress, ms });
    if (result.status !== "warned") {
      context.reporter.info(
        `Pulled ${image}: ${formatPullProgress(progress)} in ${(ms / 1000).toFixed(1)} s`,
      );
    }
  }
  return results;
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
