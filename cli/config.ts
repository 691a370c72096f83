/**
 * Instance configuration: `<WB_HOME>/servers.json` read, written under its lock, and
 * queried (targets, ports in use). The shape of an entry is in `instance_schema.ts`, its
 * checks in `instance_validation.ts`.
 *
 * @module
 */

import { join } from "node:path";
import { CliError, UnknownTargetError, UsageError } from "./errors.ts";
import { type ImageSettings, validateImageSettings } from "./images.ts";
import { type Instance, postgresPortOf, redisPortOf } from "./instance_schema.ts";
import { unknownKeyMessage, validateInstance } from "./instance_validation.ts";
import { acquireLock, type LockOptions } from "./lock.ts";

/** Every top-level key `servers.json` may have. */
export const CONFIG_KEYS: readonly string[] = Object.freeze(["instances", "images"]);

/** Contents of `servers.json`. */
export interface Config {
  /** All instances, in creation order. */
  instances: Instance[];
  /** Images of every docker instance that does not set its own (see `cli/images.ts`). */
  images?: ImageSettings;
}

/** Name of the config file inside `WB_HOME`. */
export const CONFIG_FILE = "servers.json";

/**
 * Resolves `WB_HOME`: the given value, else `<home>/.wb`.
 *
 * @param wbHome Value of `WB_HOME`, if set.
 * @param userHome Value of `HOME`.
 * @returns The directory holding `servers.json`.
 * @throws {UsageError} If neither is set.
 * @example
 * ```ts
 * import { resolveWbHome } from "./config.ts";
 * resolveWbHome(undefined, "/root"); // "/root/.wb"
 * ```
 */
export function resolveWbHome(wbHome: string | undefined, userHome: string | undefined): string {
  if (wbHome) return wbHome;
  if (userHome) return join(userHome, ".wb");
  throw new UsageError("Set WB_HOME (or HOME) so wb knows where to keep servers.json");
}

/**
 * Reads `<home>/servers.json`; a missing file is an empty config.
 *
 * @param home `WB_HOME`.
 * @returns The checked config.
 * @throws {CliError} Code `config` when the file is not valid JSON, has duplicate ids or
 *   invalid instances.
 * @example
 * ```ts
 * import { loadConfig } from "./config.ts";
 * const config = await loadConfig(await Deno.makeTempDir());
 * console.log(config.instances.length); // 0
 * ```
 */
export async function loadConfig(home: string): Promise<Config> {
  const path = join(home, CONFIG_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { instances: [] };
    throw new CliError("config", `Cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CliError("config", `${path} is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new CliError("config", `${path}: must be an object with 'instances'`);
  }
  for (const key of Object.keys(parsed)) {
    if (!CONFIG_KEYS.includes(key)) {
      throw new CliError("config", `${path}: ${unknownKeyMessage(key, CONFIG_KEYS)}`);
    }
  }
  const list = (parsed as { instances?: unknown }).instances ?? [];
  if (!Array.isArray(list)) throw new CliError("config", `${path}: 'instances' must be an array`);
  const instances = list.map((raw, index) => validateInstance(raw, home, index + 1));
  const seen = new Set<string>();
  for (const { id } of instances) {
    if (seen.has(id)) throw new CliError("config", `${path}: duplicate instance id '${id}'`);
    seen.add(id);
  }
  const images = validateImageSettings((parsed as { images?: unknown }).images, path);
  return { instances, ...(images ? { images } : {}) };
}

/**
 * Writes `<home>/servers.json` atomically (temporary file, then rename).
 *
 * @param home `WB_HOME`; created when missing.
 * @param config The config to store.
 * @example
 * ```ts
 * import { saveConfig } from "./config.ts";
 * await saveConfig(await Deno.makeTempDir(), { instances: [] });
 * ```
 */
export async function saveConfig(home: string, config: Config): Promise<void> {
  await Deno.mkdir(home, { recursive: true });
  const path = join(home, CONFIG_FILE);
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
    try {
      await file.write(new TextEncoder().encode(JSON.stringify(config, null, 2) + "\n"));
      await file.sync(); // the rename must not publish an empty file after a crash
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
}

/** Name of the lock file of `servers.json` inside `WB_HOME`. */
export const CONFIG_LOCK_FILE = "servers.json.lock";

/**
 * Runs a read-modify-write of `servers.json` under its exclusive lock, so concurrent
 * `wb c add` (and every other edit) each see the others' results: `edit` gets the current
 * config and returns the one to store (or `undefined` to store nothing).
 *
 * @param home `WB_HOME`; created when missing.
 * @param lock Who edits (the command) and how long to wait for another edit.
 * @param edit Computes the new config; its errors leave the file untouched.
 * @returns What `edit` returned alongside the config.
 * @throws {CliError} Code `locked` when another edit holds the lock past the wait.
 * @example
 * ```ts
 * import { editConfig } from "./config.ts";
 * await editConfig(await Deno.makeTempDir(), { command: "wb c tag" }, (config) => ({ config }));
 * ```
 */
export async function editConfig<T>(
  home: string,
  lock: Omit<LockOptions, "what">,
  edit: (config: Config) => Promise<{ config?: Config; result?: T }> | {
    config?: Config;
    result?: T;
  },
): Promise<T | undefined> {
  await Deno.mkdir(home, { recursive: true });
  await using _lock = await acquireLock(join(home, CONFIG_LOCK_FILE), {
    ...lock,
    what: join(home, CONFIG_FILE),
  });
  const { config, result } = await edit(await loadConfig(home));
  if (config) await saveConfig(home, config);
  return result;
}

/**
 * The server version of an instance, as `server=<version>` targets match it.
 *
 * @param instance The instance.
 * @returns `serverVersion`, or `latest` when unset.
 * @example
 * ```ts
 * import { serverVersionOf } from "./config.ts";
 * serverVersionOf({}); // "latest"
 * ```
 */
export function serverVersionOf(instance: Pick<Instance, "serverVersion">): string {
  return instance.serverVersion ?? "latest";
}

/**
 * Resolves targets (`<id>`, `@all`, `@<tag>`, `server=<version>`) to instances, in config
 * order, without duplicates.
 *
 * @param config The config.
 * @param targets Targets as given on the command line; empty means none.
 * @returns The matching instances.
 * @throws {UnknownTargetError} If an id is unknown, or a tag or version matches nothing.
 * @example
 * ```ts
 * import { resolveTargets } from "./config.ts";
 * const config = { instances: [] };
 * resolveTargets(config, ["@all"]); // []
 * ```
 */
export function resolveTargets(config: Config, targets: readonly string[]): Instance[] {
  const chosen = new Set<string>();
  const known = config.instances.map((i) => i.id);
  const add = (target: string, matching: Instance[]) => {
    if (matching.length === 0) {
      throw new UnknownTargetError(target, known, [
        ...new Set(config.instances.map(serverVersionOf)),
      ]);
    }
    matching.forEach((i) => chosen.add(i.id));
  };
  for (const target of targets) {
    if (target === "@all") {
      known.forEach((id) => chosen.add(id));
    } else if (target.startsWith("@")) {
      add(target, config.instances.filter((i) => i.tags.includes(target.slice(1))));
    } else if (target.startsWith("server=")) {
      const version = target.slice("server=".length);
      add(target, config.instances.filter((i) => serverVersionOf(i) === version));
    } else {
      add(target, config.instances.filter((i) => i.id === target));
    }
  }
  return config.instances.filter((i) => chosen.has(i.id));
}

/**
 * Words a shell may complete as targets: `@all`, each `@<tag>`, each id and each
 * `server=<version>` of `<home>/servers.json`. Synchronous (completion handlers are);
 * an unreadable config yields just `@all`.
 *
 * @param home `WB_HOME`.
 * @returns Value and description pairs.
 * @example
 * ```ts
 * import { targetCompletions } from "./config.ts";
 * targetCompletions("/nonexistent"); // [["@all", "every instance"]]
 * ```
 */
export function targetCompletions(home: string): [string, string][] {
  const words: [string, string][] = [["@all", "every instance"]];
  let instances: Instance[];
  try {
    const raw = JSON.parse(Deno.readTextFileSync(join(home, CONFIG_FILE)));
    instances = (raw.instances ?? []).map((r: unknown) => validateInstance(r, home));
  } catch {
    return words;
  }
  for (const tag of new Set(instances.flatMap((i) => i.tags))) words.push([`@${tag}`, "tag"]);
  for (const i of instances) words.push([i.id, `${i.label} (${i.runtime}, port ${i.port})`]);
  for (const v of new Set(instances.map(serverVersionOf))) words.push([`server=${v}`, "version"]);
  return words;
}

/** One port an instance uses. */
export interface PortUse {
  /** The port. */
  port: number;
  /** Instance id. */
  id: string;
  /** What it is for: `app`, `Postgres` or `Redis`. */
  role: "app" | "Postgres" | "Redis";
}

/**
 * Every host port an instance uses: the app port; Postgres and Redis ports when native with
 * `tcp` (otherwise they listen on Unix sockets; the docker runtime publishes only the app).
 *
 * @param instance The instance.
 * @returns The ports with their role.
 * @example
 * ```ts
 * import { portsOf } from "./config.ts";
 * portsOf({ id: "a", port: 8710, runtime: "docker" }); // [{ port: 8710, id: "a", role: "app" }]
 * ```
 */
export function portsOf(
  instance: Pick<Instance, "id" | "port" | "runtime" | "postgresPort" | "redisPort" | "tcp">,
): PortUse[] {
  const ports: PortUse[] = [{ port: instance.port, id: instance.id, role: "app" }];
  if (instance.runtime === "native" && instance.tcp) {
    ports.push({ port: postgresPortOf(instance), id: instance.id, role: "Postgres" });
    ports.push({ port: redisPortOf(instance), id: instance.id, role: "Redis" });
  }
  return ports;
}

/**
 * Ports used twice across (and within) instances.
 *
 * @param instances The instances.
 * @returns One message per clash, e.g. `port 8710: app port of 'a' and Redis port of 'b'`.
 * @example
 * ```ts
 * import { portConflicts } from "./config.ts";
 * portConflicts([]); // []
 * ```
 */
export function portConflicts(
  instances: readonly Pick<
    Instance,
    "id" | "port" | "runtime" | "postgresPort" | "redisPort" | "tcp"
  >[],
): string[] {
  const first = new Map<number, PortUse>();
  const problems: string[] = [];
  for (const use of instances.flatMap(portsOf)) {
    const earlier = first.get(use.port);
    if (earlier) {
      problems.push(
        `port ${use.port}: ${earlier.role} port of '${earlier.id}' and ${use.role} port of '${use.id}'`,
      );
    } else {
      first.set(use.port, use);
    }
  }
  return problems;
}
