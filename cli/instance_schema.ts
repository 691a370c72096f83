/**
 * An instance entry of `servers.json`: its type, the constants of its fields (runtimes, key
 * names, patterns, defaults, port offsets) and the check of each single field. Pure: no I/O.
 * Whole entries are checked in `instance_validation.ts`; the file is read and written in
 * `config.ts`.
 *
 * @module
 */

import { isIP } from "node:net";
import { UsageError } from "./errors.ts";
import type { ImageSettings } from "./images.ts";

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
 * import { validatePublishAddress } from "./instance_schema.ts";
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

/** Pattern every instance id must match. */
export const ID_PATTERN: RegExp = /^[a-z][a-z0-9-]{0,30}$/;

/** Offset of the native Postgres port from the app port. */
export const POSTGRES_PORT_OFFSET = 10000;

/** Offset of the native Redis port from the app port. */
export const REDIS_PORT_OFFSET = 20000;

/**
 * Checks an instance id.
 *
 * @param id Candidate id.
 * @returns The id.
 * @throws {UsageError} If it does not match {@linkcode ID_PATTERN}.
 * @example
 * ```ts
 * import { validateId } from "./instance_schema.ts";
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
 * import { validateVersion } from "./instance_schema.ts";
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
 * import { validateTag } from "./instance_schema.ts";
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
 * import { validateMaxmemory } from "./instance_schema.ts";
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
 * import { validateWorkers } from "./instance_schema.ts";
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
 * import { workersOf } from "./instance_schema.ts";
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
 * import { validateMaxmemoryPolicy } from "./instance_schema.ts";
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
 * import { parsePort } from "./instance_schema.ts";
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
 * import { postgresPortOf } from "./instance_schema.ts";
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
 * import { redisPortOf } from "./instance_schema.ts";
 * redisPortOf({ port: 8710 } as never); // 28710
 * ```
 */
export function redisPortOf(instance: Pick<Instance, "port" | "redisPort">): number {
  return instance.redisPort ?? instance.port + REDIS_PORT_OFFSET;
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
 * import { validatePublicUrl } from "./instance_schema.ts";
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
