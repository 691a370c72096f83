/**
 * `wb c update <id>`: changing an instance entry of `servers.json` (port, runtime, versions,
 * Redis limits, workers, tags, per-instance images) with the checks `wb` applies when it
 * reads the file, under the config lock.
 *
 * @module
 */

import { type Config, editConfig, portConflicts, resolveTargets } from "./config.ts";
import type { WbContext } from "./context.ts";
import { CliError, UsageError } from "./errors.ts";
import { type ImageRole, type ImageSettings, validateImage } from "./images.ts";
import {
  type Instance,
  parsePort,
  postgresPortOf,
  redisPortOf,
  validateMaxmemory,
  validateMaxmemoryPolicy,
  validatePublicUrl,
  validatePublishAddress,
  validateVersion,
  validateWorkers,
} from "./instance_schema.ts";
import { validateInstance } from "./instance_validation.ts";
import { portsInUse } from "./init_instance.ts";

/** What `wb c update` may change. `null` clears an optional field. */
export interface InstanceUpdate {
  /** New label. */
  label?: string;
  /** New app port. */
  port?: number;
  /** New native Postgres port. */
  postgresPort?: number;
  /** New native Redis port. */
  redisPort?: number;
  /** New server version; `null`: back to `latest`. */
  serverVersion?: string | null;
  /** New admin version; `null`: no admin service. */
  adminVersion?: string | null;
  /** New Redis `maxmemory`; `null`: the default. */
  redisMaxmemory?: string | null;
  /** New eviction policy; `null`: the default. */
  redisMaxmemoryPolicy?: string | null;
  /** New app worker count; `null`: the default (1). */
  workers?: number | null;
  /** Native: Postgres and Redis also on loopback TCP (`false`: sockets only). */
  tcp?: boolean;
  /** New public URL; `null`: none (links use the local URL). */
  publicUrl?: string | null;
  /** Docker: new images of its services; a `null` role goes back to the global setting. */
  images?: { [R in ImageRole]?: string | null };
  /** Docker: new publish address of the app port; `null`: the default, 127.0.0.1. */
  publishAddress?: string | null;
}

/**
 * `wb c update <targets>`: changes the settings of every targeted instance after checking
 * them (ports unique across instances, versions are docker tags, Redis sizes and policies
 * valid), under the lock of `servers.json`. An instance's own ports never clash with
 * themselves. A running instance picks the change up on its next `wb restart`.
 *
 * @param context The context.
 * @param targets Ids, `@all`, `@<tag>` or `server=<version>` (a string: one target).
 * @param update The fields to change.
 * @returns The stored instances.
 * @throws {UnknownTargetError} On an unknown target.
 * @throws {UsageError} On an invalid value, or a port given for several instances.
 * @throws {CliError} Code `config` when a port is another instance's.
 * @example
 * ```ts
 * import { updateInstance } from "./config_update.ts";
 * import { consoleReporter } from "./reporter.ts";
 * const context = { home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() };
 * await updateInstance(context, "@prod", { serverVersion: "2.0.0" });
 * ```
 */
export async function updateInstance(
  context: WbContext,
  targets: string | readonly string[],
  update: InstanceUpdate,
): Promise<Instance[]> {
  const list = typeof targets === "string" ? [targets] : [...targets];
  const changed = await editConfig<Instance[]>(
    context.home,
    {
      command: context.command ?? `wb c update ${list.join(" ")}`,
      waitMs: context.lockWaitMs,
      reporter: context.reporter,
    },
    (config) => {
      const chosen = resolveTargets(config, list);
      const ports = [update.port, update.postgresPort, update.redisPort];
      if (chosen.length > 1 && ports.some((p) => p !== undefined)) {
        throw new UsageError(
          `A port belongs to one instance; ${list.join(" ")} names ${chosen.length} (${
            chosen.map((i) => i.id).join(", ")
          })`,
        );
      }
      let next = config;
      const stored: Instance[] = [];
      for (const current of chosen) {
        const updated = applyUpdate(current, update, context.home);
        const used = portsInUse(next, current.id);
        const own = portConflicts([updated]);
        if (own.length > 0) {
          throw new UsageError(`'${current.id}' would use a port twice: ${own.join("; ")}`);
        }
        for (const port of portConflictsPorts(updated)) {
          if (used.has(port)) {
            throw new CliError(
              "config",
              `'${current.id}': port ${port} is already the ${used.get(port)}`,
            );
          }
        }
        next = replace(next, updated);
        stored.push(updated);
      }
      return { config: next, result: stored };
    },
  );
  for (const instance of changed!) {
    context.reporter.info(
      `Updated '${instance.id}'; \`wb restart ${instance.id}\` applies the change to a running instance`,
    );
  }
  return changed!;
}

function replace(config: Config, instance: Instance): Config {
  return {
    ...config,
    instances: config.instances.map((i) => (i.id === instance.id ? instance : i)),
  };
}

/** The host ports an instance binds (app; Postgres and Redis with `tcp`). */
function portConflictsPorts(instance: Instance): number[] {
  return [
    instance.port,
    ...(instance.runtime === "native" && instance.tcp
      ? [postgresPortOf(instance), redisPortOf(instance)]
      : []),
  ];
}

/** One instance with an update applied and checked. */
function applyUpdate(current: Instance, update: InstanceUpdate, home: string): Instance {
  const next: Instance = { ...current, tags: [...current.tags] };
  /** Sets `key` to the checked value, deletes it on `null`, leaves it on `undefined`. */
  const set = <K extends keyof Instance>(
    key: K,
    value: string | number | null | undefined,
    check: (v: never) => Instance[K],
  ) => {
    if (value === null) delete next[key];
    else if (value !== undefined) next[key] = check(value as never);
  };
  if (update.label !== undefined) {
    if (!update.label.trim()) throw new UsageError("The label must not be empty");
    next.label = update.label;
  }
  if (update.port !== undefined) next.port = parsePort(update.port);
  if (
    current.runtime !== "native" &&
    (update.postgresPort !== undefined || update.redisPort !== undefined ||
      update.tcp !== undefined)
  ) {
    throw new UsageError(
      `'${current.id}' runs on docker: only native instances have Postgres and Redis ports`,
    );
  }
  set("postgresPort", update.postgresPort, (p: number) => parsePort(p, "Postgres port"));
  set("redisPort", update.redisPort, (p: number) => parsePort(p, "Redis port"));
  set("serverVersion", update.serverVersion, (v: string) => validateVersion(v));
  set("adminVersion", update.adminVersion, (v: string) => validateVersion(v, "admin version"));
  set("redisMaxmemory", update.redisMaxmemory, validateMaxmemory);
  set("redisMaxmemoryPolicy", update.redisMaxmemoryPolicy, validateMaxmemoryPolicy);
  set("workers", update.workers, validateWorkers);
  set("publicUrl", update.publicUrl, validatePublicUrl);
  if (
    current.runtime !== "docker" && (update.images !== undefined || update.publishAddress != null)
  ) {
    throw new UsageError(
      `'${current.id}' runs natively: images and the publish address are docker settings`,
    );
  }
  set("publishAddress", update.publishAddress, validatePublishAddress);
  if (update.images) {
    const images = applyImageUpdate(next.images, update.images);
    if (images) next.images = images;
    else delete next.images;
  }
  if (update.tcp === true) next.tcp = true;
  if (update.tcp === false) delete next.tcp;
  validateInstance(next, home);
  return next;
}

/**
 * Applies an image update: a string sets a role (checked), `null` clears it.
 *
 * @returns The settings, or `undefined` when none is left.
 * @throws {UsageError} On an invalid reference.
 */
export function applyImageUpdate(
  current: ImageSettings | undefined,
  update: { [R in ImageRole]?: string | null },
): ImageSettings | undefined {
  const next: ImageSettings = { ...current };
  for (const [role, value] of Object.entries(update) as [ImageRole, string | null][]) {
    if (value === null) delete next[role];
    else if (value !== undefined) next[role] = validateImage(value, role);
  }
  return Object.keys(next).length > 0 ? next : undefined;
}
