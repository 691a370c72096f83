/**
 * Instance configuration: `<WB_HOME>/servers.json`.
 *
 * @module
 */

import { isIP } from "node:net";
import { join } from "node:path";
import { CliError, UnknownTargetError, UsageError } from "./errors.ts";
import { type ImageSettings, validateImageSettings } from "./images.ts";
import { acquireLock, type LockOptions } from "./lock.ts";

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
  /** Redis `maxmemory` (bytes with a unit: `256mb`, `1gb`). @default {"256mb"} */
  redisMaxmemory?: string;
  /** Redis `maxmemory-policy`. @default {"allkeys-lru"} */
  redisMaxmemoryPolicy?: MaxmemoryPolicy;
  /**
   * App worker processes (isolates) sharing the instance's Redis: 1 runs
   * `deno run server/main.ts`; more run `deno serve --parallel server/serve.ts` with
   * `DENO_JOBS` set to it. @default {1}
   */
  workers?: number;
  /**
   * Native runtime: Postgres and Redis also listen on loopback TCP (`postgresPort`,
   * `redisPort`), password-protected, for tools that cannot use their Unix sockets. Off,
   * they listen on Unix sockets inside the instance directory only. @default {false}
   */
  tcp?: boolean;
  /**
   * The URL people open (a reverse proxy's `https://wb.example.org`), used in login links
   * and shown by `wb status`. @default {`http://127.0.0.1:<port>`}
   */
  publicUrl?: string;
  /**
   * Docker: the images of this instance's services (see `cli/images.ts`); unset roles come
   * from `servers.json`'s top-level `images`, the environment, then the upstream images.
   */
  images?: ImageSettings;
  /**
   * Docker: the host address the app port is published on; `0.0.0.0` publishes it on every
   * interface. Postgres and Redis are never published. @default {"127.0.0.1"}
   */
  publishAddress?: string;
}

/** Default {@linkcode Instance.publishAddress}: the app is reachable from this machine only. */
export const DEFAULT_PUBLISH_ADDRESS = "127.0.0.1";

/**
 * Checks a publish address (docker `-p <address>:<port>:8000`).
 *
 * @param value Candidate address.
 * @returns The address.
 * @throws {UsageError} If it is not an IPv4 or IPv6 address.
 * @example
 * ```ts
 * import { validatePublishAddress } from "./config.ts";
 * validatePublishAddress("0.0.0.0"); // "0.0.0.0"
 * ```
 */
export function validatePublishAddress(value: string): string {
  if (isIP(value) === 0) {
    throw new UsageError(
      `Invalid publish address '${value}': use an IP address such as 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)`,
    );
  }
  return value;
}

/**
 * Every key an instance in `servers.json` may have; any other key is an error naming the
 * closest of these.
 */
export const INSTANCE_KEYS: readonly (keyof Instance)[] = Object.freeze([
  "id",
  "label",
  "port",
  "instanceDir",
  "runtime",
  "adminVersion",
  "serverVersion",
  "tags",
  "postgresPort",
  "redisPort",
  "redisMaxmemory",
  "redisMaxmemoryPolicy",
  "workers",
  "tcp",
  "publicUrl",
  "images",
  "publishAddress",
]);

/** Every top-level key `servers.json` may have. */
export const CONFIG_KEYS: readonly string[] = Object.freeze(["instances", "images"]);

/** Most app workers an instance may run. */
export const MAX_WORKERS = 64;

/** Redis eviction policies (`maxmemory-policy`). */
export type MaxmemoryPolicy =
  | "allkeys-lru"
  | "allkeys-lfu"
  | "allkeys-random"
  | "volatile-lru"
  | "volatile-lfu"
  | "volatile-random"
  | "volatile-ttl"
  | "noeviction";

/** Every {@linkcode MaxmemoryPolicy}. */
export const MAXMEMORY_POLICIES: readonly MaxmemoryPolicy[] = Object.freeze([
  "allkeys-lru",
  "allkeys-lfu",
  "allkeys-random",
  "volatile-lru",
  "volatile-lfu",
  "volatile-random",
  "volatile-ttl",
  "noeviction",
]);

/**
 * Default Redis `maxmemory` of an instance. The cache is rebuilt on demand, so a bound
 * that keeps Redis (and its AOF) small beats keeping every entry forever.
 */
export const DEFAULT_REDIS_MAXMEMORY = "256mb";

/**
 * Default eviction policy: a cache evicts the least recently used key of any kind, so a
 * full Redis never refuses writes (`noeviction` would make every cache write fail).
 */
export const DEFAULT_REDIS_MAXMEMORY_POLICY: MaxmemoryPolicy = "allkeys-lru";

/** Contents of `servers.json`. */
export interface Config {
  /** All instances, in creation order. */
  instances: Instance[];
  /** Images of every docker instance that does not set its own (see `cli/images.ts`). */
  images?: ImageSettings;
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

/** Pattern of a docker image tag, which `serverVersion` and `adminVersion` are. */
export const VERSION_PATTERN: RegExp = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * Checks a server or admin version (a docker image tag).
 *
 * @param value Candidate version.
 * @param what Which version, used in the message. @default {"server version"}
 * @returns The version.
 * @throws {UsageError} If it is not a docker tag (up to 128 letters, digits, `_`, `.`, `-`,
 *   not starting with `.` or `-`).
 * @example
 * ```ts
 * import { validateVersion } from "./config.ts";
 * validateVersion("1.4.2"); // "1.4.2"
 * ```
 */
export function validateVersion(value: string, what = "server version"): string {
  if (!VERSION_PATTERN.test(value)) {
    throw new UsageError(
      `Invalid ${what} '${value}': use a docker tag (up to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-')`,
    );
  }
  return value;
}

/** Pattern of a tag (`@<tag>` targets). */
export const TAG_PATTERN: RegExp = /^[a-z0-9][a-z0-9_-]*$/;

/**
 * Checks a tag.
 *
 * @param tag Candidate tag.
 * @returns The tag.
 * @throws {UsageError} If it is not lowercase letters, digits, `-` or `_`, or is `all`.
 * @example
 * ```ts
 * import { validateTag } from "./config.ts";
 * validateTag("prod"); // "prod"
 * ```
 */
export function validateTag(tag: string): string {
  if (!TAG_PATTERN.test(tag) || tag === "all") {
    throw new UsageError(
      `Invalid tag '${tag}': use lowercase letters, digits, '-' or '_' (not 'all')`,
    );
  }
  return tag;
}

/**
 * Checks a Redis `maxmemory` value.
 *
 * @param value Bytes with an optional unit (`b`, `kb`, `mb`, `gb`; case-insensitive).
 * @returns The value, lowercased.
 * @throws {UsageError} If it is not a positive size.
 * @example
 * ```ts
 * import { validateMaxmemory } from "./config.ts";
 * validateMaxmemory("512MB"); // "512mb"
 * ```
 */
export function validateMaxmemory(value: string): string {
  const lower = value.trim().toLowerCase();
  if (!/^[1-9]\d*(b|kb|mb|gb)?$/.test(lower)) {
    throw new UsageError(
      `Invalid Redis maxmemory '${value}': use a positive size such as 256mb or 1gb`,
    );
  }
  return lower;
}

/**
 * Checks an app worker count.
 *
 * @param value A number or decimal string.
 * @returns The count.
 * @throws {UsageError} If it is not an integer from 1 to {@linkcode MAX_WORKERS}.
 * @example
 * ```ts
 * import { validateWorkers } from "./config.ts";
 * validateWorkers("4"); // 4
 * ```
 */
export function validateWorkers(value: string | number): number {
  const workers = typeof value === "number" ? value : Number(String(value).trim() || NaN);
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
    throw new UsageError(
      `Invalid worker count '${value}': use an integer from 1 to ${MAX_WORKERS}`,
    );
  }
  return workers;
}

/**
 * The app worker count in effect.
 *
 * @param instance The instance.
 * @returns `workers`, or 1.
 * @example
 * ```ts
 * import { workersOf } from "./config.ts";
 * workersOf({}); // 1
 * ```
 */
export function workersOf(instance: Pick<Instance, "workers">): number {
  return instance.workers ?? 1;
}

/**
 * Checks a Redis eviction policy.
 *
 * @param value Candidate policy.
 * @returns The policy.
 * @throws {UsageError} If it is not one of {@linkcode MAXMEMORY_POLICIES}.
 * @example
 * ```ts
 * import { validateMaxmemoryPolicy } from "./config.ts";
 * validateMaxmemoryPolicy("allkeys-lfu"); // "allkeys-lfu"
 * ```
 */
export function validateMaxmemoryPolicy(value: string): MaxmemoryPolicy {
  if (!MAXMEMORY_POLICIES.includes(value as MaxmemoryPolicy)) {
    throw new UsageError(
      `Invalid Redis eviction policy '${value}': use one of ${MAXMEMORY_POLICIES.join(", ")}`,
    );
  }
  return value as MaxmemoryPolicy;
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
 * The known word closest to `word` (Levenshtein distance), when it is close enough to be a
 * likely misspelling (at most a third of its length, and at least 2, edits away).
 *
 * @param word The unknown word.
 * @param known The known words.
 * @returns The closest known word, or `undefined`.
 * @example
 * ```ts
 * import { closestKey } from "./config.ts";
 * closestKey("tgas", ["tags", "port"]); // "tags"
 * ```
 */
export function closestKey(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        previous[j] + 1,
        row[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = row;
  }
  return previous[b.length];
}

/**
 * The message for a key that is not one of `known`: `unknown key 'tgas' (did you mean
 * 'tags'?)`.
 *
 * @param key The unknown key.
 * @param known The known keys.
 * @returns The message.
 */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const near = closestKey(key, known);
  return `unknown key '${key}'${near ? ` (did you mean '${near}'?)` : ""}; known keys: ${
    known.join(", ")
  }`;
}

/** Pattern of {@linkcode Instance.publicUrl}: http(s), a host, an optional port and path. */
export const PUBLIC_URL_PATTERN: RegExp = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?(\/[^\s?#]*)?$/;

/**
 * Checks a public base URL.
 *
 * @param value Candidate URL.
 * @returns The URL without a trailing slash.
 * @throws {UsageError} If it is not an http(s) URL with a host (no user, query or fragment).
 * @example
 * ```ts
 * import { validatePublicUrl } from "./config.ts";
 * validatePublicUrl("https://wb.example.org/"); // "https://wb.example.org"
 * ```
 */
export function validatePublicUrl(value: string): string {
  const trimmed = value.trim().replace(/\/+$/, "");
  if (!PUBLIC_URL_PATTERN.test(trimmed)) {
    throw new UsageError(
      `Invalid public URL '${value}': use http(s)://host[:port][/path], e.g. https://wb.example.org`,
    );
  }
  return trimmed;
}

/**
 * Checks one stored instance and fills defaults (`instanceDir`, `tags`, label). Unknown
 * keys are errors (a misspelt `"tgas"` would otherwise be dropped by the next edit).
 *
 * @param raw Parsed JSON of one instance.
 * @param home `WB_HOME`, for the default `instanceDir`.
 * @param entry Its position in `instances` (1-based), for messages. @default {undefined}
 * @returns A checked instance.
 * @throws {CliError} Code `config` when a key is unknown or a field is missing or invalid;
 *   the message names the instance (or entry) and the field, never the whole object.
 * @example
 * ```ts
 * import { validateInstance } from "./config.ts";
 * validateInstance({ id: "demo", port: 8710, runtime: "native" }, "/tmp/wb");
 * ```
 */
export function validateInstance(raw: unknown, home: string, entry?: number): Instance {
  const at = entry === undefined ? "" : ` (entry ${entry})`;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new CliError("config", `servers.json: instance${at} must be an object`);
  }
  const r = raw as Record<string, unknown>;
  const name = typeof r.id === "string" && r.id ? `instance '${r.id}'${at}` : `instance${at}`;
  const fail = (field: string, message: string, cause?: unknown): never => {
    throw new CliError("config", `servers.json: ${name}, field '${field}': ${message}`, {
      cause,
    });
  };
  for (const key of Object.keys(r)) {
    if (!(INSTANCE_KEYS as readonly string[]).includes(key)) {
      throw new CliError(
        "config",
        `servers.json: ${name}: ${unknownKeyMessage(key, INSTANCE_KEYS)}`,
      );
    }
  }
  const wrap = <T>(field: string, f: () => T): T => {
    try {
      return f();
    } catch (error) {
      return fail(field, (error as Error).message, error);
    }
  };
  if (r.id === undefined) fail("id", "missing");
  if (typeof r.id !== "string") fail("id", "must be a string");
  const id = wrap("id", () => validateId(r.id as string));
  if (r.port === undefined) fail("port", "missing");
  if (typeof r.port !== "number") fail("port", "must be a number");
  const port = wrap("port", () => parsePort(r.port as number));
  const runtime = r.runtime ?? "native";
  if (!RUNTIMES.includes(runtime as RuntimeKind)) {
    fail("runtime", `must be "docker" or "native", got ${JSON.stringify(runtime)}`);
  }
  const optionalString = (field: string): string | undefined => {
    const value = r[field];
    if (value === undefined || value === null || value === "") return undefined;
    if (typeof value !== "string") fail(field, `must be a string, got ${typeof value}`);
    return value as string;
  };
  const optionalNumber = (field: string): number | undefined => {
    const value = r[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "number") fail(field, `must be a number, got ${typeof value}`);
    return value as number;
  };
  const tags = r.tags ?? [];
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== "string")) {
    fail("tags", "must be an array of strings");
  }
  (tags as string[]).forEach((t) => wrap("tags", () => validateTag(t)));
  const instance: Instance = {
    id,
    label: optionalString("label") ?? id,
    port,
    instanceDir: optionalString("instanceDir") ?? defaultInstanceDir(home, id),
    runtime: runtime as RuntimeKind,
    tags: [...tags as string[]],
  };
  const adminVersion = optionalString("adminVersion");
  if (adminVersion) {
    instance.adminVersion = wrap(
      "adminVersion",
      () => validateVersion(adminVersion, "admin version"),
    );
  }
  const serverVersion = optionalString("serverVersion");
  if (serverVersion) {
    instance.serverVersion = wrap("serverVersion", () => validateVersion(serverVersion));
  }
  const maxmemory = optionalString("redisMaxmemory");
  if (maxmemory) {
    instance.redisMaxmemory = wrap("redisMaxmemory", () => validateMaxmemory(maxmemory));
  }
  const policy = optionalString("redisMaxmemoryPolicy");
  if (policy) {
    instance.redisMaxmemoryPolicy = wrap(
      "redisMaxmemoryPolicy",
      () => validateMaxmemoryPolicy(policy),
    );
  }
  const workers = optionalNumber("workers");
  if (workers !== undefined) instance.workers = wrap("workers", () => validateWorkers(workers));
  const postgresPort = optionalNumber("postgresPort");
  if (postgresPort !== undefined) {
    instance.postgresPort = wrap("postgresPort", () => parsePort(postgresPort));
  }
  const redisPort = optionalNumber("redisPort");
  if (redisPort !== undefined) {
    instance.redisPort = wrap("redisPort", () => parsePort(redisPort));
  }
  if (r.tcp !== undefined && r.tcp !== null) {
    if (typeof r.tcp !== "boolean") fail("tcp", "must be true or false");
    if (r.tcp) instance.tcp = true;
  }
  const publicUrl = optionalString("publicUrl");
  if (publicUrl) instance.publicUrl = wrap("publicUrl", () => validatePublicUrl(publicUrl));
  const images = validateImageSettings(r.images, `servers.json: ${name}`);
  if (images) instance.images = images;
  const publishAddress = optionalString("publishAddress");
  if (publishAddress) {
    instance.publishAddress = wrap("publishAddress", () => validatePublishAddress(publishAddress));
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
