/**
 * `wb init`: adding an instance to `servers.json` (its id, a free port, runtime, versions
 * and limits checked) and creating its directory and secrets. `wb c add` is the same
 * function.
 *
 * @module
 */

import { type Config, editConfig } from "./config.ts";
import type { WbContext } from "./context.ts";
import { CliError, UsageError } from "./errors.ts";
import { type ImageSettings, validateImageSettings } from "./images.ts";
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
import { defaultInstanceDir } from "./instance_validation.ts";
import { ensureSubdirectories, makeInstanceDir } from "./instances.ts";
import { isPortFree } from "./process.ts";
import { ensureSecrets, generateSecrets } from "./secrets.ts";

/** First port tried when none is given. */
export const DEFAULT_PORT = 8710;

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
 * import { pickPort } from "./init_instance.ts";
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
 * import { initInstance } from "./init_instance.ts";
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
