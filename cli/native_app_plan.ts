/**
 * The native app of an instance, as plain data: its environment (from
 * `server/env_contract.ts`), its connection URLs (Postgres over the Unix socket directory,
 * Redis over its socket), the shell that runs it with its log, and the log rotation step.
 * Pure: no `Deno.*` calls.
 *
 * @module
 */

import { appEnvRecord } from "../server/env_contract.ts";
import { type Instance, postgresPortOf, workersOf } from "./instance_schema.ts";
import type { NativePaths } from "./native_plan.ts";
import { DATABASE_NAME, type Step } from "./plan.ts";
import type { Secrets } from "./secrets.ts";

/**
 * The app's command wrapped so that it runs with umask 077 and appends its output to its
 * log: `sh -c 'umask 077 && exec "$@" >>log 2>&1'`.
 *
 * @param paths The instance's paths.
 * @param command The app's command line.
 * @returns The argv for `sh`.
 * @example
 * ```ts
 * import { nativePaths } from "./native_plan.ts";
 * import { nativeAppShellArgs } from "./native_app_plan.ts";
 * nativeAppShellArgs(nativePaths("/wb/d"), ["deno", "run", "-A", "server/main.ts"])[0]; // "-c"
 * ```
 */
export function nativeAppShellArgs(paths: NativePaths, command: string[]): string[] {
  return [
    "-c",
    'umask 077 && log="$1" && shift && exec "$@" >>"$log" 2>&1',
    "sh",
    paths.appLog,
    ...command,
  ];
}

/**
 * Environment of the native app process: it binds `127.0.0.1` (the address `wb` reports)
 * and reaches Postgres and Redis on their Unix sockets.
 *
 * @param instance The instance.
 * @param paths Its paths.
 * @param secrets Its secrets.
 * @returns PORT, HOST, DATABASE_URL, REDIS_URL, ADMIN_TOKEN, WB_INSTANCE; and DENO_JOBS (the
 *   number of `deno serve --parallel` workers) when the instance runs more than one.
 * @example
 * ```ts
 * import { nativePaths } from "./native_plan.ts";
 * import { nativeAppEnv } from "./native_app_plan.ts";
 * const instance = { id: "d", port: 8710 } as never;
 * nativeAppEnv(instance, nativePaths("/wb/d"), { adminToken: "t", postgresPassword: "p", redisPassword: "r" }).REDIS_URL;
 * // "unix://:r@/wb/d/redis/redis.sock"
 * ```
 */
export function nativeAppEnv(
  instance: Instance,
  paths: NativePaths,
  secrets: Secrets,
): Record<string, string> {
  return appEnvRecord({
    port: instance.port,
    host: NATIVE_APP_HOST,
    databaseUrl: nativeDatabaseUrl(instance, paths, secrets.postgresPassword),
    redisUrl: nativeRedisUrl(paths, secrets.redisPassword),
    adminToken: secrets.adminToken,
    instance: instance.id,
    workers: workersOf(instance) > 1 ? workersOf(instance) : undefined,
  });
}

/** The address the native app binds: loopback, which is what `wb` reports. */
export const NATIVE_APP_HOST = "127.0.0.1";

/**
 * DATABASE_URL of a native instance: its Unix socket directory as the libpq `host`
 * parameter, SCRAM password in the userinfo.
 *
 * @param instance The instance.
 * @param paths Its paths.
 * @param password Its Postgres password.
 * @returns `postgres://postgres:<pw>@localhost:<port>/wb?host=<socket dir>`.
 * @example
 * ```ts
 * import { nativePaths } from "./native_plan.ts";
 * import { nativeDatabaseUrl } from "./native_app_plan.ts";
 * nativeDatabaseUrl({ port: 8710 } as never, nativePaths("/wb/d"), "pw");
 * // "postgres://postgres:pw@localhost:18710/wb?host=%2Fwb%2Fd%2Frun"
 * ```
 */
export function nativeDatabaseUrl(
  instance: Pick<Instance, "port" | "postgresPort">,
  paths: Pick<NativePaths, "pgSocketDir">,
  password: string,
): string {
  return `postgres://postgres:${encodeURIComponent(password)}@localhost:${
    postgresPortOf(instance)
  }/${DATABASE_NAME}?host=${encodeURIComponent(paths.pgSocketDir)}`;
}

/**
 * REDIS_URL of a native instance: its Unix socket, the password in the userinfo.
 *
 * @param paths Its paths.
 * @param password Its Redis password.
 * @returns `unix://:<pw>@<socket path>`.
 * @example
 * ```ts
 * import { nativePaths } from "./native_plan.ts";
 * import { nativeRedisUrl } from "./native_app_plan.ts";
 * nativeRedisUrl(nativePaths("/wb/d"), "pw"); // "unix://:pw@/wb/d/redis/redis.sock"
 * ```
 */
export function nativeRedisUrl(paths: Pick<NativePaths, "redisSocket">, password: string): string {
  return `unix://:${encodeURIComponent(password)}@${paths.redisSocket}`;
}

/** Size above which a native log is rotated, in bytes: 10 MiB. */
export const LOG_MAX_BYTES = 10 * 1024 * 1024;

/** Rotated files kept per log (`app.log.1` ... `app.log.5`). */
export const LOG_KEEP = 5;

/** How often the rotation loop looks at the logs, in seconds. */
export const LOG_CHECK_INTERVAL_S = 30;

/**
 * The log rotation loop of a native instance: a POSIX `sh` (about 1 MB of memory) that
 * every {@linkcode LOG_CHECK_INTERVAL_S} seconds copies each log above
 * {@linkcode LOG_MAX_BYTES} to `<log>.1` (shifting older ones up to `.5`, dropping the
 * oldest) and truncates it in place. Copy-then-truncate keeps working with writers that
 * hold the file open in append mode (the app's shell redirect, `pg_ctl -l`); Redis reopens
 * its log for every line anyway.
 *
 * @param paths The instance's paths.
 * @param options Size bound, kept files, check interval. @default {the constants}
 * @returns The step (run detached by the runtime).
 * @example
 * ```ts
 * import { nativePaths } from "./native_plan.ts";
 * import { logRotationStep } from "./native_app_plan.ts";
 * logRotationStep(nativePaths("/wb/d")).args.slice(-3); // the three logs
 * ```
 */
export function logRotationStep(
  paths: NativePaths,
  options: { maxBytes?: number; keep?: number; intervalS?: number } = {},
): Step {
  const script = [
    'max="$1"; keep="$2"; every="$3"; shift 3',
    "rotate() {",
    '  size=$(wc -c < "$1" 2>/dev/null || echo 0)',
    '  [ "$size" -gt "$max" ] || return 0',
    '  i="$keep"',
    '  while [ "$i" -gt 1 ]; do j=$((i - 1)); [ -f "$1.$j" ] && mv -f "$1.$j" "$1.$i"; i="$j"; done',
    '  cp -p "$1" "$1.1" && : > "$1"',
    "}",
    'while :; do for f in "$@"; do [ -f "$f" ] && rotate "$f"; done; sleep "$every"; done',
  ].join("\n");
  return {
    title: "Rotate the logs above their size bound",
    command: "sh",
    args: [
      "-c",
      `umask 077\n${script}`,
      "sh",
      String(options.maxBytes ?? LOG_MAX_BYTES),
      String(options.keep ?? LOG_KEEP),
      String(options.intervalS ?? LOG_CHECK_INTERVAL_S),
      paths.appLog,
      paths.redisLog,
      paths.pgLog,
    ],
  };
}
