/**
 * Per-instance secrets: `<instanceDir>/secrets.json` (mode 0600).
 *
 * @module
 */

import { join } from "node:path";
import type { Instance } from "./instance_schema.ts";
import { CliError } from "./errors.ts";

/** Contents of `secrets.json`. */
export interface Secrets {
  /** Bearer token of the admin API: 32 random bytes, base64url. */
  adminToken: string;
  /** Password of the `postgres` user (docker runtime; the native one uses trust auth). */
  postgresPassword: string;
  /**
   * `requirepass` of the instance's Redis, given to the app in `REDIS_URL`. Instances made
   * before it existed get one on first need ({@linkcode readSecrets} adds it).
   */
  redisPassword: string;
}

/** Name of the secrets file inside the instance directory. */
export const SECRETS_FILE = "secrets.json";

/**
 * Returns `bytes` random bytes as unpadded base64url.
 *
 * @param bytes How many random bytes. @default {32}
 * @returns The encoded string (43 characters for 32 bytes).
 * @example
 * ```ts
 * import { randomToken } from "./secrets.ts";
 * randomToken().length; // 43
 * ```
 */
export function randomToken(bytes = 32): string {
  const buffer = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...buffer)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

/**
 * Generates fresh secrets.
 *
 * @returns A new admin token, Postgres password and Redis password.
 * @example
 * ```ts
 * import { generateSecrets } from "./secrets.ts";
 * const { adminToken } = generateSecrets();
 * ```
 */
export function generateSecrets(): Secrets {
  return {
    adminToken: randomToken(32),
    postgresPassword: randomToken(24),
    redisPassword: randomToken(32),
  };
}

/**
 * Writes the secrets unless the file already exists (so re-running init never rotates
 * them), with mode 0600.
 *
 * @param instanceDir The instance directory (must exist).
 * @param secrets Secrets to write when there are none yet.
 * @returns The secrets now on disk.
 * @example
 * ```ts
 * import { ensureSecrets, generateSecrets } from "./secrets.ts";
 * await ensureSecrets(await Deno.makeTempDir(), generateSecrets());
 * ```
 */
export async function ensureSecrets(instanceDir: string, secrets: Secrets): Promise<Secrets> {
  const path = join(instanceDir, SECRETS_FILE);
  try {
    await Deno.writeTextFile(path, JSON.stringify(secrets, null, 2) + "\n", {
      createNew: true,
      mode: 0o600,
    });
    await Deno.chmod(path, 0o600); // the umask may have cleared bits; never widen
    return secrets;
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return await readSecrets(instanceDir);
    throw error;
  }
}

/**
 * Reads an instance's secrets. A file without `redisPassword` (written before it existed)
 * gets a fresh one, stored back with mode 0600.
 *
 * @param instanceDir The instance directory.
 * @returns The secrets.
 * @throws {CliError} Code `config` when the file is missing or malformed.
 * @example
 * ```ts
 * import { readSecrets } from "./secrets.ts";
 * const secrets = await readSecrets("/root/.wb/instances/demo");
 * ```
 */
export async function readSecrets(instanceDir: string): Promise<Secrets> {
  const path = join(instanceDir, SECRETS_FILE);
  let parsed: Partial<Secrets>;
  try {
    parsed = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    throw new CliError(
      "config",
      `Cannot read ${path} (${(error as Error).message}); run \`wb init <id>\` again to create it`,
      { cause: error },
    );
  }
  if (typeof parsed.adminToken !== "string" || typeof parsed.postgresPassword !== "string") {
    throw new CliError("config", `${path}: expected string fields adminToken and postgresPassword`);
  }
  const secrets = {
    adminToken: parsed.adminToken,
    postgresPassword: parsed.postgresPassword,
    redisPassword: parsed.redisPassword,
  };
  if (typeof secrets.redisPassword === "string" && secrets.redisPassword) {
    return secrets as Secrets;
  }
  const upgraded: Secrets = { ...parsed, ...secrets, redisPassword: randomToken(32) };
  await writePrivateFile(path, JSON.stringify(upgraded, null, 2) + "\n");
  return {
    adminToken: upgraded.adminToken,
    postgresPassword: upgraded.postgresPassword,
    redisPassword: upgraded.redisPassword,
  };
}

/**
 * Writes a file only its owner can read (mode 0600), atomically: a temporary file in the
 * same directory, then a rename.
 *
 * @param path Destination.
 * @param text Contents.
 * @example
 * ```ts
 * import { writePrivateFile } from "./secrets.ts";
 * await writePrivateFile(`${await Deno.makeTempDir()}/x.conf`, "requirepass x\n");
 * ```
 */
export async function writePrivateFile(path: string, text: string): Promise<void> {
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(tmp, text, { createNew: true, mode: 0o600 });
    await Deno.chmod(tmp, 0o600);
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
}

/**
 * Reads an instance's admin bearer token.
 *
 * @param instance The instance (only `instanceDir` is used).
 * @returns The token to send as `Authorization: Bearer <token>`.
 * @throws {CliError} Code `config` when the secrets file is missing or malformed.
 * @example
 * ```ts
 * import { readAdminToken } from "./secrets.ts";
 * const token = await readAdminToken({ instanceDir: "/root/.wb/instances/demo" });
 * await fetch("http://127.0.0.1:8710/api/admin", { headers: { authorization: `Bearer ${token}` } });
 * ```
 */
export async function readAdminToken(instance: Pick<Instance, "instanceDir">): Promise<string> {
  return (await readSecrets(instance.instanceDir)).adminToken;
}
