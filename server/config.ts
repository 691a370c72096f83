/**
 * The server's configuration, read from the environment by `main.ts` only. Each variable
 * is documented in the README's config table.
 *
 * @module
 */

/** The parsed configuration. */
export interface ServerConfig {
  /** `PORT`: TCP port to listen on. @default {8000} */
  port: number;
  /** `HOST`: address to bind. @default {"0.0.0.0"} */
  host: string;
  /** `DATABASE_URL`: Postgres URL; unset runs an embedded Postgres (PGlite) with sample data. */
  databaseUrl?: string;
  /** `PGLITE_DIR`: where the embedded Postgres keeps its files; unset keeps it in memory. */
  pgliteDir?: string;
  /** `REDIS_URL`: the instance's Redis; unset disables the Redis cache. */
  redisUrl?: string;
  /** `REDIS_COMMAND_TIMEOUT_MS`: reply deadline of a cache call. @default {1000} */
  redisCommandTimeoutMs: number;
  /** `ADMIN_TOKEN`: bearer token of administrators; unset disables admin actions. */
  adminToken?: string;
  /** `WB_INSTANCE`: the instance id, reported by `/healthz` and in logs. @default {"local"} */
  instance: string;
}

/**
 * Parses the environment.
 *
 * @throws {RangeError} If a number is malformed or out of range (message names the variable).
 */
export function readConfig(env: Record<string, string | undefined>): ServerConfig {
  const text = (name: string) => env[name]?.trim() || undefined;
  const int = (name: string, fallback: number, min: number, max: number) => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`${name} must be an integer from ${min} to ${max}, got '${raw}'`);
    }
    return value;
  };
  return {
    port: int("PORT", 8000, 0, 65535),
    host: text("HOST") ?? "0.0.0.0",
    databaseUrl: text("DATABASE_URL"),
    pgliteDir: text("PGLITE_DIR"),
    redisUrl: text("REDIS_URL"),
    redisCommandTimeoutMs: int("REDIS_COMMAND_TIMEOUT_MS", 1000, 10, 60_000),
    adminToken: text("ADMIN_TOKEN"),
    instance: text("WB_INSTANCE") ?? "local",
  };
}
