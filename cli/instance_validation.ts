/**
 * Checks of a whole `servers.json` instance entry (unknown keys with a "did you mean",
 * each field, defaults filled in) and the default instance directory. Pure: no I/O; the
 * file is read in `config.ts`.
 *
 * @module
 */

import { join } from "node:path";
import { CliError } from "./errors.ts";
import { validateImageSettings } from "./images.ts";
import {
  type Instance,
  INSTANCE_KEYS,
  parsePort,
  postgresPortOf,
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

/**
 * The known word closest to `word` (Levenshtein distance), when it is close enough to be a
 * likely misspelling (at most a third of its length, and at least 2, edits away).
 *
 * @param word The unknown word.
 * @param known The known words.
 * @returns The closest known word, or `undefined`.
 * @example
 * ```ts
 * import { closestKey } from "./instance_validation.ts";
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
 * import { validateInstance } from "./instance_validation.ts";
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
 * import { defaultInstanceDir } from "./instance_validation.ts";
 * defaultInstanceDir("/root/.wb", "demo"); // "/root/.wb/instances/demo"
 * ```
 */
export function defaultInstanceDir(home: string, id: string): string {
  return join(home, "instances", id);
}
