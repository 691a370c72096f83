/**
 * Instance configuration: `<WB_HOME>/servers.json`.
 *
 * @module
 */

import { join } from "node:path";
import { CliError, UnknownTargetError, UsageError } from "./errors.ts";

/** How an instance's services are run. */
export type RuntimeKind = "docker" | "native";

/** Runtimes `wb` knows. */
export const RUNTIMES: readonly RuntimeKind[] = ["docker", "native"];

/** One configured server instance, as stored in `servers.json`. */
export interface Instance {
  /** Id, `^[a-z][a-z0-9-]{0,30}$`; also the docker network and app container name. */
  id: string;
  /** Human-readable label. */
  label: string;
  /** Host port of the app (HTTP). */
  port: number;
  /** Directory holding the instance's data, logs and secrets. */
  instanceDir: string;
  /** How the services run. */
  runtime: RuntimeKind;
  /** Tag of the `wb-admin` image; no admin container when unset. */
  adminVersion?: string;
  /** Tag of the `wb-server` image. @default {"latest"} */
  serverVersion?: string;
  /** Tags, for `@<tag>` targets. */
  tags: string[];
  /** Native runtime: Postgres TCP port. @default {port + 10000} */
  postgresPort?: number;
  /** Native runtime: Redis TCP port. @default {port + 20000} */
  redisPort?: number;
}

/** Contents of `servers.json`. */
export interface Config {
  /** All instances, in creation order. */
  instances: Instance[];
}

/** Name of the config file inside `WB_HOME`. */
export const CONFIG_FILE = "servers.json";

/** Pattern every instance id must match. */
export const ID_PATTERN: RegExp = /^[a-z][a-z0-9-]{0,30}$/;

/** Offset of the native Postgres port from the app port. */
export const POSTGRES_PORT_OFFSET = 10000;

/** Offset of the native Redis port from the app port. */
export const REDIS_PORT_OFFSET = 20000;

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
 * Checks an instance id.
 *
 * @param id Candidate id.
 * @returns The id.
 * @throws {UsageError} If it does not match {@linkcode ID_PATTERN}.
 * @example
 * ```ts
 * import { validateId } from "./config.ts";
 * validateId("demo"); // "demo"
 * ```
 */
export function validateId(id: string): string {
  if (!ID_PATTERN.test(id)) {
    throw new UsageError(
      `Invalid instance id '${id}': use 1-31 lowercase letters, digits or '-', starting with a letter`,
    );
  }
  return id;
}

/**
 * Parses and checks a TCP port.
 *
 * @param value A number or decimal string.
 * @param what What the port is for, used in the message.
 * @returns The port as a number.
 * @throws {UsageError} If it is not an integer in 1..65535.
 * @example
 * ```ts
 * import { parsePort } from "./config.ts";
 * parsePort("8710", "port"); // 8710
 * ```
 */
export function parsePort(value: string | number, what = "port"): number {
  const port = typeof value === "number" ? value : /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`Invalid ${what} '${value}': must be an integer between 1 and 65535`);
  }
  return port;
}

/**
 * The Postgres port of a native instance (explicit, else `port + 10000`).
 *
 * @param instance The instance.
 * @returns TCP port.
 * @example
 * ```ts
 * import { postgresPortOf } from "./config.ts";
 * postgresPortOf({ port: 8710 } as never); // 18710
 * ```
 */
export function postgresPortOf(instance: Pick<Instance, "port" | "postgresPort">): number {
  return instance.postgresPort ?? instance.port + POSTGRES_PORT_OFFSET;
}

/**
 * The Redis port of a native instance (explicit, else `port + 20000`).
 *
 * @param instance The instance.
 * @returns TCP port.
 * @example
 * ```ts
 * import { redisPortOf } from "./config.ts";
 * redisPortOf({ port: 8710 } as never); // 28710
 * ```
 */
export function redisPortOf(instance: Pick<Instance, "port" | "redisPort">): number {
  return instance.redisPort ?? instance.port + REDIS_PORT_OFFSET;
}

/**
 * Checks one stored instance and fills defaults (`instanceDir`, `tags`, label).
 *
 * @param raw Parsed JSON of one instance.
 * @param home `WB_HOME`, for the default `instanceDir`.
 * @returns A checked instance.
 * @throws {CliError} Code `config` when a field is missing or invalid.
 * @example
 * ```ts
 * import { validateInstance } from "./config.ts";
 * validateInstance({ id: "demo", port: 8710, runtime: "native" }, "/tmp/wb");
 * ```
 */
export function validateInstance(raw: unknown, home: string): Instance {
  const where = (field: string) => `servers.json: instance ${JSON.stringify(raw)} field '${field}'`;
  if (typeof raw !== "object" || raw === null) {
    throw new CliError("config", `servers.json: every instance must be an object`);
  }
  const r = raw as Record<string, unknown>;
  const wrap = <T>(field: string, f: () => T): T => {
    try {
      return f();
    } catch (error) {
      throw new CliError("config", `${where(field)}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  };
  const id = wrap("id", () => validateId(String(r.id ?? "")));
  const port = wrap("port", () => parsePort(r.port as number));
  const runtime = r.runtime ?? "native";
  if (!RUNTIMES.includes(runtime as RuntimeKind)) {
    throw new CliError("config", `${where("runtime")}: must be "docker" or "native"`);
  }
  const optionalString = (field: string): string | undefined => {
    const value = r[field];
    if (value === undefined || value === null || value === "") return undefined;
    if (typeof value !== "string") {
      throw new CliError("config", `${where(field)}: must be a string`);
    }
    return value;
  };
  const tags = r.tags ?? [];
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== "string")) {
    throw new CliError("config", `${where("tags")}: must be an array of strings`);
  }
  const instance: Instance = {
    id,
    label: optionalString("label") ?? id,
    port,
    instanceDir: optionalString("instanceDir") ?? defaultInstanceDir(home, id),
    runtime: runtime as RuntimeKind,
    tags: [...tags] as string[],
  };
  const adminVersion = optionalString("adminVersion");
  if (adminVersion) instance.adminVersion = adminVersion;
  const serverVersion = optionalString("serverVersion");
  if (serverVersion) instance.serverVersion = serverVersion;
  if (r.postgresPort !== undefined) {
    instance.postgresPort = wrap("postgresPort", () => parsePort(r.postgresPort as number));
  }
  if (r.redisPort !== undefined) {
    instance.redisPort = wrap("redisPort", () => parsePort(r.redisPort as number));
  }
  if (instance.runtime === "native") {
    wrap("postgresPort", () => parsePort(postgresPortOf(instance), "Postgres port"));
    wrap("redisPort", () => parsePort(redisPortOf(instance), "Redis port"));
  }
  return instance;
}

/**
 * The default directory of an instance: `<home>/instances/<id>`.
 *
 * @param home `WB_HOME`.
 * @param id Instance id.
 * @returns Absolute path when `home` is absolute.
 * @example
 * ```ts
 * import { defaultInstanceDir } from "./config.ts";
 * defaultInstanceDir("/root/.wb", "demo"); // "/root/.wb/instances/demo"
 * ```
 */
export function defaultInstanceDir(home: string, id: string): string {
  return join(home, "instances", id);
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
  const list = (parsed as { instances?: unknown })?.instances ?? [];
  if (!Array.isArray(list)) throw new CliError("config", `${path}: 'instances' must be an array`);
  const instances = list.map((raw) => validateInstance(raw, home));
  const seen = new Set<string>();
  for (const { id } of instances) {
    if (seen.has(id)) throw new CliError("config", `${path}: duplicate instance id '${id}'`);
    seen.add(id);
  }
  return { instances };
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
  await Deno.writeTextFile(tmp, JSON.stringify(config, null, 2) + "\n");
  await Deno.rename(tmp, path);
}

/**
 * Resolves targets (`<id>`, `@all`, `@<tag>`) to instances, in config order, without
 * duplicates.
 *
 * @param config The config.
 * @param targets Targets as given on the command line; empty means none.
 * @returns The matching instances.
 * @throws {UnknownTargetError} If an id is unknown or a tag matches nothing.
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
  for (const target of targets) {
    if (target === "@all") {
      known.forEach((id) => chosen.add(id));
    } else if (target.startsWith("@")) {
      const tag = target.slice(1);
      const matching = config.instances.filter((i) => i.tags.includes(tag));
      if (matching.length === 0) throw new UnknownTargetError(target, known);
      matching.forEach((i) => chosen.add(i.id));
    } else {
      if (!known.includes(target)) throw new UnknownTargetError(target, known);
      chosen.add(target);
    }
  }
  return config.instances.filter((i) => chosen.has(i.id));
}
