/**
 * The app's environment contract: the names of the variables the server reads, and the
 * typed subset that `wb` sets when it starts an app, a loader or a user tool. The server's
 * `config.ts` reads its variables by these names and the cli builds its environments with
 * {@linkcode appEnvRecord} and {@linkcode dockerEnvArgs}, so renaming a variable here is a
 * compile error in both, not a silent mismatch at run time.
 *
 * This module imports nothing, so the cli can depend on it without depending on the server.
 *
 * @module
 */

/**
 * Every environment variable the server (`server/config.ts`, `server/main.ts`, the loader
 * and the user tool) reads, keyed by the camelCase field of `ServerConfig` that holds it. The
 * README's config table documents each one.
 */
export const ENV_NAMES = {
  port: "PORT",
  host: "HOST",
  databaseUrl: "DATABASE_URL",
  pgliteDir: "PGLITE_DIR",
  redisUrl: "REDIS_URL",
  redisClusterNodes: "REDIS_CLUSTER_NODES",
  redisEnabled: "REDIS_ENABLED",
  versionTable: "VERSION_TABLE",
  redisLogLevel: "REDIS_LOG_LEVEL",
  metricsToken: "METRICS_TOKEN",
  redisCommandTimeoutMs: "REDIS_COMMAND_TIMEOUT_MS",
  adminToken: "ADMIN_TOKEN",
  instance: "WB_INSTANCE",
  viewerToken: "VIEWER_TOKEN",
  openAccess: "OPEN_ACCESS",
  production: "WB_PRODUCTION",
  cacheMirrors: "CACHE_MIRRORS",
  mirrorSecret: "MIRROR_SECRET",
  cacheEventLog: "CACHE_EVENT_LOG",
  allowedHosts: "ALLOWED_HOSTS",
  trustedProxies: "TRUSTED_PROXIES",
  loginMaxFailures: "LOGIN_MAX_FAILURES",
  sseMaxStreamsPerUser: "SSE_MAX_STREAMS_PER_USER",
  sseMaxStreams: "SSE_MAX_STREAMS",
  fillConcurrency: "FILL_CONCURRENCY",
  /** Read by `deno serve --parallel` (not by the app): the number of worker processes. */
  workers: "DENO_JOBS",
} as const;

/** The name of one variable of the contract, e.g. `"REDIS_URL"`. */
export type EnvName = typeof ENV_NAMES[keyof typeof ENV_NAMES];

/**
 * The variables `wb` sets for a process of an instance (app, loader, user tool). Unset
 * fields are left out of the environment. Secrets (URLs with passwords, tokens) are marked
 * below; {@linkcode dockerEnvArgs} passes them by name only.
 */
export interface AppEnvironment {
  /** `PORT`: TCP port the app listens on. */
  port?: number;
  /** `HOST`: address the app binds. */
  host?: string;
  /** `DATABASE_URL` (secret: carries the Postgres password). */
  databaseUrl?: string;
  /** `REDIS_URL` (secret: carries the Redis password). */
  redisUrl?: string;
  /** `REDIS_CLUSTER_NODES` (secret: seed URLs may carry the password), comma-joined. */
  redisClusterNodes?: string[];
  /** `ADMIN_TOKEN` (secret): bearer token of administrators. */
  adminToken?: string;
  /** `VIEWER_TOKEN` (secret): bearer token of viewers. */
  viewerToken?: string;
  /** `WB_INSTANCE`: the instance id. */
  instance?: string;
  /** `DENO_JOBS`: worker processes of `deno serve --parallel`. */
  workers?: number;
}

/** The order variables appear in an environment and in a docker `-e` list. */
const ORDER: readonly (keyof AppEnvironment)[] = [
  "port",
  "host",
  "databaseUrl",
  "redisUrl",
  "redisClusterNodes",
  "adminToken",
  "viewerToken",
  "instance",
  "workers",
];

/** Fields whose values must never appear in argv (`ps`, error messages). */
const SECRET: ReadonlySet<keyof AppEnvironment> = new Set([
  "databaseUrl",
  "redisUrl",
  "redisClusterNodes",
  "adminToken",
  "viewerToken",
]);

/** The variable value of one field (numbers in decimal, lists comma-joined). */
function valueOf(value: string | number | string[]): string {
  return Array.isArray(value) ? value.join(",") : String(value);
}

/**
 * The environment of a process as a name-to-value record, in contract order.
 *
 * @param env The variables to set; `undefined` fields are left out.
 * @returns E.g. `{ PORT: "8710", WB_INSTANCE: "demo" }`.
 * @example Environment of a native app
 * ```ts
 * import { appEnvRecord } from "./env_contract.ts";
 * appEnvRecord({ port: 8710, instance: "demo" }); // { PORT: "8710", WB_INSTANCE: "demo" }
 * ```
 */
export function appEnvRecord(env: AppEnvironment): Record<string, string> {
  const record: Record<string, string> = {};
  for (const field of ORDER) {
    const value = env[field];
    if (value !== undefined) record[ENV_NAMES[field]] = valueOf(value);
  }
  return record;
}

/**
 * The environment of a container as `docker run` arguments: `-e NAME=value` for plain
 * values, `-e NAME` for secrets with the value in the returned `env` (the runner's own
 * environment for the docker process), so secrets never appear in `ps` or in messages.
 *
 * @param env The variables to set; `undefined` fields are left out.
 * @returns `args` (`-e` pairs, in contract order) and `env` (the secrets' values).
 * @example A container's secrets stay out of argv
 * ```ts
 * import { dockerEnvArgs } from "./env_contract.ts";
 * dockerEnvArgs({ port: 8000, adminToken: "t" });
 * // { args: ["-e", "PORT=8000", "-e", "ADMIN_TOKEN"], env: { ADMIN_TOKEN: "t" } }
 * ```
 */
export function dockerEnvArgs(
  env: AppEnvironment,
): { args: string[]; env: Record<string, string> } {
  const args: string[] = [];
  const secrets: Record<string, string> = {};
  for (const field of ORDER) {
    const value = env[field];
    if (value === undefined) continue;
    const name = ENV_NAMES[field];
    if (SECRET.has(field)) {
      args.push("-e", name);
      secrets[name] = valueOf(value);
    } else {
      args.push("-e", `${name}=${valueOf(value)}`);
    }
  }
  return { args, env: secrets };
}
