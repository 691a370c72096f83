/**
 * What the native runtime runs, as plain data: paths and the argv of `initdb`, `pg_ctl`,
 * `redis-server`, `redis-cli`... Pure: no `Deno.*` calls.
 *
 * @module
 */

import { join } from "node:path";
import { type Instance, postgresPortOf, redisPortOf, workersOf } from "./config.ts";
import { DATABASE_NAME, type Step } from "./plan.ts";
import { REDIS_CONFIG_FILE, type RedisListen, redisUrl } from "./redis_config.ts";
import type { Secrets } from "./secrets.ts";

/** Files and directories of a native instance. */
export interface NativePaths {
  /** `<instanceDir>/logs`. */
  logsDir: string;
  /** Postgres data directory (`<instanceDir>/databases/pg`, or where that symlink points). */
  pgDataDir: string;
  /** Directory of the Postgres Unix socket. */
  pgSocketDir: string;
  /** Postgres server log. */
  pgLog: string;
  /** Redis working directory (AOF lives here): `<instanceDir>/redis`. */
  redisDir: string;
  /** `<instanceDir>/redis/redis.pid`. */
  redisPidFile: string;
  /** The generated Redis config (with `requirepass`, mode 0600): `<instanceDir>/redis/redis.conf`. */
  redisConf: string;
  /** `<instanceDir>/logs/redis.log`. */
  redisLog: string;
  /** `<instanceDir>/logs/app.log` (stdout and stderr of the app). */
  appLog: string;
  /** `<instanceDir>/app.pid`. */
  appPidFile: string;
}

/**
 * Paths of a native instance.
 *
 * @param instanceDir The instance directory.
 * @param postgresHome Where Postgres' own files live when not inside the instance
 *   directory (running as root with an instance directory the `postgres` user cannot
 *   reach); holds `pg/`, `run/` and `postgres.log`.
 * @returns The paths.
 * @example
 * ```ts
 * import { nativePaths } from "./native_plan.ts";
 * nativePaths("/wb/demo").pgDataDir; // "/wb/demo/databases/pg"
 * ```
 */
export function nativePaths(instanceDir: string, postgresHome?: string): NativePaths {
  const logsDir = join(instanceDir, "logs");
  const redisDir = join(instanceDir, "redis");
  return {
    logsDir,
    pgDataDir: postgresHome ? join(postgresHome, "pg") : join(instanceDir, "databases", "pg"),
    pgSocketDir: postgresHome ? join(postgresHome, "run") : join(instanceDir, "run"),
    pgLog: postgresHome ? join(postgresHome, "postgres.log") : join(logsDir, "postgres.log"),
    redisDir,
    redisPidFile: join(redisDir, "redis.pid"),
    redisConf: join(redisDir, REDIS_CONFIG_FILE),
    redisLog: join(logsDir, "redis.log"),
    appLog: join(logsDir, "app.log"),
    appPidFile: join(instanceDir, "app.pid"),
  };
}

/**
 * Runs a step as the `postgres` user (via `runuser`) when we are root, because Postgres
 * refuses to run as root.
 *
 * @param step The step.
 * @param isRoot Whether the current user is root.
 * @returns The step, wrapped when `isRoot`, with a working directory `postgres` can enter.
 * @example
 * ```ts
 * import { asPostgresUser } from "./native_plan.ts";
 * asPostgresUser({ title: "x", command: "pg_ctl", args: ["status"] }, true).command; // "runuser"
 * ```
 */
export function asPostgresUser(step: Step, isRoot: boolean): Step {
  if (!isRoot) return step;
  return {
    ...step,
    command: "runuser",
    args: ["-u", "postgres", "--", step.command, ...step.args],
    cwd: "/",
  };
}

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** Connection arguments of psql/createdb/pg_isready for a native instance (TCP). */
function pgConnection(instance: Instance): string[] {
  return ["-h", "127.0.0.1", "-p", String(postgresPortOf(instance)), "-U", "postgres"];
}

/** Native Postgres steps of an instance. */
export interface NativePostgresSteps {
  /** `initdb` (run once, when the data directory has no `PG_VERSION`). */
  initdb: Step;
  /** `pg_ctl status` (exit 0 running, 3 stopped). */
  status: Step;
  /** `pg_ctl ... -w start`. */
  start: Step;
  /** `pg_isready` over TCP, polled. */
  ready: Step;
  /** Prints `1` when database `wb` exists. */
  databaseExists: Step;
  /** `createdb wb`. */
  createDatabase: Step;
  /** `pg_ctl -m fast -t 30 stop`. */
  stop: Step;
}

/**
 * Native Postgres steps.
 *
 * @param instance The instance.
 * @param paths Its paths.
 * @param isRoot Whether we run as root (server commands then run as `postgres`).
 * @param readyForMs How long to poll `pg_isready`, in milliseconds. @default {30_000}
 * @returns The steps by role.
 * @example
 * ```ts
 * import { nativePaths, nativePostgresSteps } from "./native_plan.ts";
 * const instance = { id: "d", port: 8710, instanceDir: "/wb/d", runtime: "native", tags: [] } as never;
 * nativePostgresSteps(instance, nativePaths("/wb/d"), false).start.args;
 * ```
 */
export function nativePostgresSteps(
  instance: Instance,
  paths: NativePaths,
  isRoot: boolean,
  readyForMs = 30_000,
): NativePostgresSteps {
  const port = postgresPortOf(instance);
  const asPostgres = (step: Step) => asPostgresUser(step, isRoot);
  const serverOptions = `-p ${port} -k ${
    shellQuote(paths.pgSocketDir)
  } -c listen_addresses=127.0.0.1`;
  return {
    initdb: asPostgres({
      title: `Initialise Postgres data directory ${paths.pgDataDir}`,
      command: "initdb",
      args: ["-D", paths.pgDataDir, "--auth=trust", "-U", "postgres", "-E", "UTF8", "--locale=C"],
    }),
    status: asPostgres({
      title: "Postgres status",
      command: "pg_ctl",
      args: ["-D", paths.pgDataDir, "status"],
    }),
    start: asPostgres({
      title: `Start Postgres on 127.0.0.1:${port}`,
      command: "pg_ctl",
      args: [
        "-D",
        paths.pgDataDir,
        "-o",
        serverOptions,
        "-l",
        paths.pgLog,
        "-w",
        "-t",
        "60",
        "start",
      ],
    }),
    ready: {
      title: `Wait for Postgres on port ${port}`,
      command: "pg_isready",
      args: pgConnection(instance),
      retryForMs: readyForMs,
      notReadyMessage: `Postgres of '${instance.id}' did not accept connections`,
    },
    databaseExists: {
      title: `Check database ${DATABASE_NAME}`,
      command: "psql",
      args: [
        ...pgConnection(instance),
        "-d",
        "postgres",
        "-tAc",
        `select 1 from pg_database where datname = '${DATABASE_NAME}'`,
      ],
    },
    createDatabase: {
      title: `Create database ${DATABASE_NAME}`,
      command: "createdb",
      args: [...pgConnection(instance), DATABASE_NAME],
      okIfStderr: "already exists",
    },
    stop: asPostgres({
      title: "Stop Postgres (fast, 30 s)",
      command: "pg_ctl",
      args: ["-D", paths.pgDataDir, "-m", "fast", "-t", "30", "-w", "stop"],
    }),
  };
}

/**
 * `psql` step counting loaded facilities in a native instance's database.
 *
 * @param instance The instance.
 * @param sql The counting query.
 * @returns The step; its stdout is the count.
 * @example
 * ```ts
 * import { nativeCountStep } from "./native_plan.ts";
 * nativeCountStep({ port: 8710 } as never, "select 1").args;
 * ```
 */
export function nativeCountStep(instance: Instance, sql: string): Step {
  return {
    title: "Count loaded rows",
    command: "psql",
    args: [...pgConnection(instance), "-d", DATABASE_NAME, "-tAc", sql],
  };
}

/** Native Redis steps of an instance. */
export interface NativeRedisSteps {
  /** `redis-server <redisConf>` (the generated config: AOF, loopback, password, daemon). */
  start: Step;
  /** `redis-cli PING` until `PONG`, polled. */
  ping: Step;
  /** `redis-cli DBSIZE`. */
  dbsize: Step;
  /** `redis-cli INFO`. */
  info: Step;
  /** `redis-cli FLUSHDB`. */
  flush: Step;
  /** `redis-cli shutdown` (AOF is fsynced on shutdown). */
  shutdown: Step;
}

/**
 * Where a native Redis listens: loopback only, its files in `<instanceDir>/redis`.
 *
 * @param instance The instance.
 * @param paths Its paths.
 * @returns The listen settings of the generated config.
 * @example
 * ```ts
 * import { nativePaths, nativeRedisListen } from "./native_plan.ts";
 * nativeRedisListen({ port: 8710 } as never, nativePaths("/wb/d")).bind; // "127.0.0.1"
 * ```
 */
export function nativeRedisListen(instance: Instance, paths: NativePaths): RedisListen {
  return {
    port: redisPortOf(instance),
    bind: "127.0.0.1",
    dir: paths.redisDir,
    daemonize: true,
    pidfile: paths.redisPidFile,
    logfile: paths.redisLog,
  };
}

/**
 * A `redis-cli` step against a native instance's Redis. The password goes in the
 * `REDISCLI_AUTH` environment variable, never in argv.
 *
 * @param instance The instance.
 * @param password Its Redis password.
 * @param title What the step does.
 * @param args redis-cli arguments after the connection options.
 * @returns The step.
 * @example
 * ```ts
 * import { nativeRedisCliStep } from "./native_plan.ts";
 * nativeRedisCliStep({ port: 8710 } as never, "pw", "Count keys", ["DBSIZE"]).args;
 * // ["-h", "127.0.0.1", "-p", "28710", "DBSIZE"]
 * ```
 */
export function nativeRedisCliStep(
  instance: Instance,
  password: string,
  title: string,
  args: string[],
): Step {
  return {
    title,
    command: "redis-cli",
    args: ["-h", "127.0.0.1", "-p", String(redisPortOf(instance)), ...args],
    env: { REDISCLI_AUTH: password },
  };
}

/**
 * Native Redis steps. Keys survive restarts through the append-only file in
 * `<instanceDir>/redis`; the server reads everything, the password included, from the
 * generated config file.
 *
 * @param instance The instance.
 * @param paths Its paths.
 * @param password Its Redis password (for `redis-cli`, via `REDISCLI_AUTH`).
 * @param pingForMs How long to poll PING after the start, in milliseconds. @default {10_000}
 * @returns The steps by role.
 * @example
 * ```ts
 * import { nativePaths, nativeRedisSteps } from "./native_plan.ts";
 * const instance = { id: "d", port: 8710, instanceDir: "/wb/d", runtime: "native", tags: [] } as never;
 * nativeRedisSteps(instance, nativePaths("/wb/d"), "pw").start.args; // ["/wb/d/redis/redis.conf"]
 * ```
 */
export function nativeRedisSteps(
  instance: Instance,
  paths: NativePaths,
  password: string,
  pingForMs = 10_000,
): NativeRedisSteps {
  const port = redisPortOf(instance);
  const cli = (title: string, ...args: string[]) =>
    nativeRedisCliStep(instance, password, title, args);
  return {
    start: {
      title: `Start Redis on 127.0.0.1:${port} (${paths.redisConf})`,
      command: "redis-server",
      args: [paths.redisConf],
    },
    ping: {
      ...cli(`Wait for Redis on port ${port} to answer PING`, "PING"),
      retryForMs: pingForMs,
      expectStdout: "^PONG",
      notReadyMessage: `Redis of '${instance.id}' did not answer PING`,
    },
    dbsize: cli("Count Redis keys", "DBSIZE"),
    info: cli("Redis INFO", "INFO"),
    flush: { ...cli("Flush Redis (FLUSHDB)", "FLUSHDB"), expectStdout: "^OK" },
    shutdown: cli("Stop Redis", "shutdown"),
  };
}

/**
 * Environment of the native app process.
 *
 * @param instance The instance.
 * @param secrets Its secrets.
 * @returns PORT, DATABASE_URL, REDIS_URL, ADMIN_TOKEN, WB_INSTANCE; and DENO_JOBS (the
 *   number of `deno serve --parallel` workers) when the instance runs more than one.
 * @example
 * ```ts
 * import { nativeAppEnv } from "./native_plan.ts";
 * const instance = { id: "d", port: 8710 } as never;
 * nativeAppEnv(instance, { adminToken: "t", postgresPassword: "p", redisPassword: "r" }).REDIS_URL;
 * // "redis://:r@127.0.0.1:28710"
 * ```
 */
export function nativeAppEnv(instance: Instance, secrets: Secrets): Record<string, string> {
  return {
    PORT: String(instance.port),
    DATABASE_URL: nativeDatabaseUrl(instance),
    REDIS_URL: redisUrl("127.0.0.1", redisPortOf(instance), secrets.redisPassword),
    ADMIN_TOKEN: secrets.adminToken,
    WB_INSTANCE: instance.id,
    ...(workersOf(instance) > 1 ? { DENO_JOBS: String(workersOf(instance)) } : {}),
  };
}

/**
 * DATABASE_URL of a native instance (trust auth on loopback, no password).
 *
 * @param instance The instance.
 * @returns `postgres://postgres@127.0.0.1:<postgresPort>/wb`.
 * @example
 * ```ts
 * import { nativeDatabaseUrl } from "./native_plan.ts";
 * nativeDatabaseUrl({ port: 8710 } as never); // "postgres://postgres@127.0.0.1:18710/wb"
 * ```
 */
export function nativeDatabaseUrl(instance: Pick<Instance, "port" | "postgresPort">): string {
  return `postgres://postgres@127.0.0.1:${postgresPortOf(instance)}/${DATABASE_NAME}`;
}
