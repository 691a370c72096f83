/**
 * `wb c list | show | add | update | remove | tag | untag | validate`: editing
 * `servers.json` with the same checks `wb` applies when it reads it. (`add` is
 * `initInstance` in `init_instance.ts`; `update` is in `config_update.ts`.)
 *
 * @module
 */

import { join } from "node:path";
import { applyImageUpdate } from "./config_update.ts";
import {
  CONFIG_FILE,
  CONFIG_KEYS,
  editConfig,
  loadConfig,
  portConflicts,
  resolveTargets,
  serverVersionOf,
} from "./config.ts";
import type { WbContext } from "./context.ts";
import { publishAddressOf } from "./docker_plan.ts";
import { CliError, UsageError } from "./errors.ts";
import {
  type ImageRole,
  type ImageSettings,
  resolveImages,
  type ServiceImages,
  validateImageSettings,
} from "./images.ts";
import { imagesOf } from "./instance_images.ts";
import {
  DEFAULT_REDIS_MAXMEMORY,
  DEFAULT_REDIS_MAXMEMORY_POLICY,
  type Instance,
  postgresPortOf,
  redisPortOf,
  validateTag,
  workersOf,
} from "./instance_schema.ts";
import { unknownKeyMessage, validateInstance } from "./instance_validation.ts";
import { runtimeFor } from "./instances.ts";
import { REDIS_CONFIG_FILE } from "./redis_config.ts";
import { appUrl, publicUrlOf } from "./runtime.ts";
import { SECRETS_FILE } from "./secrets.ts";
import { renderTable } from "./table.ts";

/**
 * `wb c list [targets]`: the configured instances.
 *
 * @param context The context.
 * @param targets Ids, `@all`, `@<tag>` or `server=<version>`. @default {["@all"]}
 * @returns The instances, in config order.
 * @throws {UnknownTargetError} On an unknown id or tag.
 * @example
 * ```ts
 * import { listInstances } from "./config_commands.ts";
 * import { memoryReporter } from "./reporter.ts";
 * await listInstances({ home: await Deno.makeTempDir(), repoRoot: ".", reporter: memoryReporter() }); // []
 * ```
 */
export async function listInstances(
  context: WbContext,
  targets: readonly string[] = ["@all"],
): Promise<Instance[]> {
  return resolveTargets(await loadConfig(context.home), targets.length ? targets : ["@all"]);
}

/**
 * Formats instances as a table (no secrets).
 *
 * @param instances The instances.
 * @returns The table.
 * @example
 * ```ts
 * import { formatInstanceTable } from "./config_commands.ts";
 * formatInstanceTable([]); // "No instances configured; add one with `wb c add <id>`"
 * ```
 */
export function formatInstanceTable(instances: readonly Instance[]): string {
  if (instances.length === 0) return "No instances configured; add one with `wb c add <id>`";
  return renderTable(
    [
      "ID",
      "LABEL",
      "RUNTIME",
      "PORT",
      "PG PORT",
      "REDIS PORT",
      "SERVER",
      "ADMIN",
      "REDIS MEMORY",
      "TAGS",
    ],
    instances.map((i) => [
      i.id,
      i.label,
      i.runtime,
      String(i.port),
      i.runtime === "native" ? (i.tcp ? String(postgresPortOf(i)) : "socket") : "-",
      i.runtime === "native" ? (i.tcp ? String(redisPortOf(i)) : "socket") : "-",
      serverVersionOf(i),
      i.adminVersion ?? "-",
      `${i.redisMaxmemory ?? DEFAULT_REDIS_MAXMEMORY} ${
        i.redisMaxmemoryPolicy ?? DEFAULT_REDIS_MAXMEMORY_POLICY
      }`,
      i.tags.join(",") || "-",
    ]),
  );
}

/** An instance with what `wb` derives from it, as `wb c show` prints it. */
export interface InstanceDetails extends Instance {
  /** The URL people open (`publicUrl`, else the local one). */
  url: string;
  /** Where `wb` reaches the app on this machine. */
  localUrl: string;
  /**
   * Docker: the image each service runs under the whole configuration (instance,
   * `servers.json`, environment, defaults) and where each setting came from.
   */
  dockerImages?: ServiceImages;
  /** Docker: the host address and port the app is published on. */
  publishedOn?: string;
  /** Native Postgres and Redis ports. */
  nativePorts?: { postgres: number; redis: number };
  /** Redis memory bound and eviction policy in effect. */
  redis: { maxmemory: string; policy: string; config: string };
  /** Where the secrets are (the values are never shown). */
  secretsFile: string;
}

/**
 * `wb c show <id>`: one instance with its derived settings (URL, images, ports, Redis
 * bound, file locations). Never its secrets.
 *
 * @param context The context.
 * @param id Instance id.
 * @returns The details.
 * @throws {UnknownTargetError} On an unknown id.
 * @example
 * ```ts
 * import { showInstance } from "./config_commands.ts";
 * import { consoleReporter } from "./reporter.ts";
 * await showInstance({ home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() }, "demo");
 * ```
 */
export async function showInstance(context: WbContext, id: string): Promise<InstanceDetails> {
  const [instance] = resolveTargets(await loadConfig(context.home), [id]);
  return {
    ...instance,
    url: publicUrlOf(instance),
    localUrl: appUrl(instance),
    ...(instance.runtime === "docker"
      ? {
        dockerImages: await imagesOf(context, instance),
        publishedOn: `${publishAddressOf(instance)}:${instance.port}`,
      }
      : { nativePorts: { postgres: postgresPortOf(instance), redis: redisPortOf(instance) } }),
    workers: workersOf(instance),
    redis: {
      maxmemory: instance.redisMaxmemory ?? DEFAULT_REDIS_MAXMEMORY,
      policy: instance.redisMaxmemoryPolicy ?? DEFAULT_REDIS_MAXMEMORY_POLICY,
      config: join(instance.instanceDir, "redis", REDIS_CONFIG_FILE),
    },
    secretsFile: join(instance.instanceDir, SECRETS_FILE),
  };
}

/** The global image settings and what they make of each role. */
export interface GlobalImages {
  /** `servers.json`'s top-level `images`. */
  settings: ImageSettings;
  /** Each role's image for an instance that sets none, and where it comes from. */
  effective: ServiceImages;
}

/**
 * `wb c images [--postgres-image ...]`: shows, and with an update changes (under the lock
 * of `servers.json`), the images of every docker instance that does not set its own
 * (`servers.json`'s top-level `images`). Running instances pick a change up on their next
 * restart.
 *
 * @param context The context (`imageDefaults`: the environment's layer).
 * @param update Roles to set (checked) or clear (`null`). @default {none: just show}
 * @returns The stored settings and their effect.
 * @throws {UsageError} On an invalid reference.
 * @example
 * ```ts
 * import { globalImages } from "./config_commands.ts";
 * import { memoryReporter } from "./reporter.ts";
 * const context = { home: await Deno.makeTempDir(), repoRoot: ".", reporter: memoryReporter() };
 * (await globalImages(context, { redis: "wb-local/redis:7" })).effective.redis; // "wb-local/redis:7"
 * ```
 */
export async function globalImages(
  context: WbContext,
  update: { [R in ImageRole]?: string | null } = {},
): Promise<GlobalImages> {
  let settings: ImageSettings | undefined;
  if (Object.values(update).some((v) => v !== undefined)) {
    settings = await editConfig<ImageSettings | undefined>(
      context.home,
      {
        command: context.command ?? "wb c images",
        waitMs: context.lockWaitMs,
        reporter: context.reporter,
      },
      (config) => {
        const images = applyImageUpdate(config.images, update);
        const { images: _, ...rest } = config;
        return { config: { ...rest, ...(images ? { images } : {}) }, result: images };
      },
    );
    context.reporter.info(
      "Updated the global images; `wb restart <targets>` applies them to running instances",
    );
  } else {
    settings = (await loadConfig(context.home)).images;
  }
  return {
    settings: settings ?? {},
    effective: resolveImages({}, {
      ...(settings ? { config: settings } : {}),
      ...(context.imageDefaults ? { env: context.imageDefaults } : {}),
    }),
  };
}

/** Options of {@linkcode removeInstance}. */
export interface RemoveOptions {
  /** Remove it from `servers.json` even while it runs. @default {false} */
  force?: boolean;
}

/**
 * `wb c remove <id>`: removes an instance from `servers.json`. Its directory (data,
 * secrets) stays on disk; the message says where.
 *
 * @param context The context.
 * @param id Instance id.
 * @param options `force` to remove a running instance.
 * @returns The removed instance.
 * @throws {UnknownTargetError} On an unknown id.
 * @throws {CliError} Code `config` when it still runs (without `force`).
 * @example
 * ```ts
 * import { removeInstance } from "./config_commands.ts";
 * import { consoleReporter } from "./reporter.ts";
 * await removeInstance({ home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() }, "old");
 * ```
 */
export async function removeInstance(
  context: WbContext,
  id: string,
  options: RemoveOptions = {},
): Promise<Instance> {
  if (id.startsWith("@") || id.startsWith("server=")) {
    throw new UsageError(`'${id}' names a group; wb c remove takes one instance id`);
  }
  const instance = (await editConfig<Instance>(
    context.home,
    {
      command: context.command ?? `wb c remove ${id}`,
      waitMs: context.lockWaitMs,
      reporter: context.reporter,
    },
    async (config) => {
      const [instance] = resolveTargets(config, [id]);
      if (!options.force) {
        const status = await runtimeFor(context, instance).status(instance);
        const running = status.services.filter((s) => s.service !== "network" && s.running);
        if (running.length > 0) {
          throw new CliError(
            "config",
            `'${id}' is running (${
              running.map((s) => s.service).join(", ")
            }); \`wb stop ${id}\` first, or remove it with --force`,
          );
        }
      }
      return {
        config: { ...config, instances: config.instances.filter((i) => i.id !== id) },
        result: instance,
      };
    },
  ))!;
  context.reporter.info(
    `Removed '${id}' from ${CONFIG_FILE}; its data stays in ${instance.instanceDir}`,
  );
  return instance;
}

/**
 * `wb c tag <targets> <tags...>` / `wb c untag`: adds or removes tags on every targeted
 * instance.
 *
 * @param context The context.
 * @param targets Ids, `@all`, `@<tag>` or `server=<version>`.
 * @param tags Tags to add or remove.
 * @param remove Remove instead of add. @default {false}
 * @returns The changed instances.
 * @throws {UsageError} On an invalid tag.
 * @throws {UnknownTargetError} On an unknown target.
 * @example
 * ```ts
 * import { tagInstances } from "./config_commands.ts";
 * import { consoleReporter } from "./reporter.ts";
 * await tagInstances({ home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() }, ["demo"], ["canary"]);
 * ```
 */
export async function tagInstances(
  context: WbContext,
  targets: readonly string[],
  tags: readonly string[],
  remove = false,
): Promise<Instance[]> {
  if (tags.length === 0) throw new UsageError("Name at least one tag");
  tags.forEach(validateTag);
  const changed = (await editConfig<Instance[]>(
    context.home,
    {
      command: context.command ?? `wb c ${remove ? "untag" : "tag"}`,
      waitMs: context.lockWaitMs,
      reporter: context.reporter,
    },
    (config) => {
      const chosen = new Set(resolveTargets(config, targets).map((i) => i.id));
      const instances = config.instances.map((i) => {
        if (!chosen.has(i.id)) return i;
        const next = remove
          ? i.tags.filter((t) => !tags.includes(t))
          : [...new Set([...i.tags, ...tags])];
        return { ...i, tags: next };
      });
      return {
        config: { ...config, instances },
        result: instances.filter((i) => chosen.has(i.id)),
      };
    },
  ))!;
  for (const i of changed) {
    context.reporter.info(`${i.id}: tags ${i.tags.length > 0 ? i.tags.join(", ") : "(none)"}`);
  }
  return changed;
}

/** What `wb c validate` found. */
export interface ValidationReport {
  /** Path of the file checked. */
  path: string;
  /** Instances in the file. */
  instances: number;
  /** Errors: `wb` refuses the file, or instances would clash. */
  errors: string[];
  /** Things that work but deserve a look (e.g. secrets readable by others). */
  warnings: string[];
}

/**
 * `wb c validate`: checks `servers.json` completely (every instance, not just the first
 * bad one): ids, ports (valid, and unique across all instances), runtimes, versions, tags,
 * Redis settings; warns about secrets files others can read.
 *
 * @param home `WB_HOME`.
 * @returns Errors and warnings; no errors means every command accepts the file.
 * @example
 * ```ts
 * import { validateConfigFile } from "./config_commands.ts";
 * const report = await validateConfigFile(await Deno.makeTempDir());
 * report.errors; // []
 * ```
 */
export async function validateConfigFile(home: string): Promise<ValidationReport> {
  const path = join(home, CONFIG_FILE);
  const report: ValidationReport = { path, instances: 0, errors: [], warnings: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      report.warnings.push(`${path} does not exist yet (no instances)`);
    } else {
      report.errors.push(`${path}: ${(error as Error).message}`);
    }
    return report;
  }
  if (typeof raw === "object" && raw !== null && !Array.isArray(raw)) {
    for (const key of Object.keys(raw)) {
      if (!CONFIG_KEYS.includes(key)) report.errors.push(unknownKeyMessage(key, CONFIG_KEYS));
    }
    try {
      validateImageSettings((raw as { images?: unknown }).images, "top level");
    } catch (error) {
      report.errors.push((error as Error).message);
    }
  }
  const list = (raw as { instances?: unknown })?.instances;
  if (!Array.isArray(list)) {
    report.errors.push(`${path}: 'instances' must be an array`);
    return report;
  }
  report.instances = list.length;
  const valid: Instance[] = [];
  const ids = new Set<string>();
  for (const [index, entry] of list.entries()) {
    try {
      const instance = validateInstance(entry, home, index + 1);
      if (ids.has(instance.id)) {
        report.errors.push(`duplicate instance id '${instance.id}'`);
        continue;
      }
      ids.add(instance.id);
      valid.push(instance);
    } catch (error) {
      report.errors.push((error as Error).message.replace(/^servers\.json: /, ""));
    }
  }
  report.errors.push(...portConflicts(valid));
  for (const instance of valid) {
    const secrets = join(instance.instanceDir, SECRETS_FILE);
    const info = await Deno.stat(secrets).catch(() => undefined);
    if (!info) {
      report.warnings.push(
        `'${instance.id}': ${instance.instanceDir} has no secrets yet; \`wb run ${instance.id}\` creates them`,
      );
    } else if (info.mode !== null && (info.mode & 0o077) !== 0) {
      report.warnings.push(
        `'${instance.id}': ${secrets} is readable by others (mode ${
          (info.mode & 0o777).toString(8)
        }); chmod 600 it`,
      );
    }
  }
  return report;
}
