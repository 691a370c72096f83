/**
 * What the native runtime runs, as plain data: paths and the argv of `initdb`, `pg_ctl`,
 * `redis-server`, `redis-cli`... Pure: no `Deno.*` calls.
 *
 * A native instance is reachable only by its owner: Postgres and Redis listen on Unix
 * sockets inside directories only their owner can enter (mode 0700), and on loopback TCP
 * only when the instance has `tcp: true`; both require the instance's password (Postgres
 * SCRAM, Redis `requirepass`) on every connection.
 *
 * @module
 */

import { join } from "node:path";
import { type Instance, postgresPortOf, redisPortOf } from "./instance_schema.ts";
import { DATABASE_NAME, REDIS_STARTED_STDOUT, type Step } from "./plan.ts";
import { REDIS_CONFIG_FILE, type RedisListen } from "./redis_config.ts";

/** Files and directories of a native instance. */
export interface NativePaths {
  /** The instance directory (mode 0700). */
  instanceDir: string;
  /** `<instanceDir>/logs`. */
  logsDir: string;
  /** Directory holding Postgres' data directory (`<instanceDir>/databases`, or elsewhere). */
  pgHome: string;
  /** Postgres data directory (`<instanceDir>/databases/pg`, or where that symlink points). */
  pgDataDir: string;
  /** Directory of the Postgres Unix socket (owned by the Postgres user, mode 0700). */
  pgSocketDir: string;
  /** Postgres server log. */
  pgLog: string;
  /** Redis working directory (AOF lives here): `<instanceDir>/redis` (mode 0700). */
  redisDir: string;
  /** `<instanceDir>/redis/redis.pid`. */
  redisPidFile: string;
  /** The generated Redis config (with `requirepass`, mode 0600): `<instanceDir>/redis/redis.conf`. */
  redisConf: string;
  /** The Redis Unix socket: `<instanceDir>/redis/redis.sock`. */
  redisSocket: string;
  /** `<instanceDir>/logs/redis.log`. */
  redisLog: string;
  /** `<instanceDir>/logs/app.log` (stdout and stderr of the app). */
  appLog: string;
  /** `<instanceDir>/app.pid`. */
  appPidFile: string;
  /** Pid file of the log rotation loop: `<instanceDir>/logs/rotate.pid`. */
  rotatePidFile: string;
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
    instanceDir,
    logsDir,
    pgHome: postgresHome ?? join(instanceDir, "databases"),
    pgDataDir: postgresHome ? join(postgresHome, "pg") : join(instanceDir, "databases", "pg"),
    pgSocketDir: postgresHome ? join(postgresHome, "run") : join(instanceDir, "run"),
    pgLog: postgresHome ? join(postgresHome, "postgres.log") : join(logsDir, "postgres.log"),
    redisDir,
    redisPidFile: join(redisDir, "redis.pid"),
    redisConf: join(redisDir, REDIS_CONFIG_FILE),
    redisSocket: join(redisDir, "redis.sock"),
    redisLog: join(logsDir, "redis.log"),
    appLog: join(logsDir, "app.log"),
    appPidFile: join(instanceDir, "app.pid"),
    rotatePidFile: join(logsDir, "rotate.pid"),
  };
}

/** Longest Unix socket path the kernel accepts (`sun_path` is 108 bytes with its NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/**
 * The socket paths of a native instance that are too long for the kernel.
 *
 * @param instance The instance.
 * @param paths Its paths.
 * @returns Messages naming each path that is too long (empty when all fit).
 * @example
 * ```ts
 * import { nativePaths, socketPathProblems } from "./native_plan.ts";
 * socketPathProblems({ port: 8710 } as never, nativePaths("/wb/demo")); // []
 * ```
 */
export function socketPathProblems(
  instance: Pick<Instance, "port" | "postgresPort">,
  paths: NativePaths,
): string[] {
  const sockets = [
    paths.redisSocket,
    join(paths.pgSocketDir, `.s.PGSQL.${postgresPortOf(instance)}`),
  ];
  return sockets
    .filter((path) => new TextEncoder().encode(path).length > MAX_SOCKET_PATH_BYTES)
    .map((path) =>
      `the Unix socket path ${path} is longer than ${MAX_SOCKET_PATH_BYTES} bytes; move the instance directory (servers.json 'instanceDir') somewhere shorter`
    );
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

/** Connection arguments of psql/createdb/pg_isready: the Unix socket directory and port. */
function pgConnection(instance: Instance, paths: NativePaths): string[] {
  return ["-h", paths.pgSocketDir, "-p", String(postgresPortOf(instance)), "-U", "postgres"];
}

/** First line of the `pg_hba.conf` wb writes; its absence marks a cluster made before it. */
export const PG_HBA_MARKER = "# wb: password (SCRAM) authentication only";

/**
 * The `pg_hba.conf` of a native instance: SCRAM passwords on the Unix socket and on
 * loopback TCP; nothing else (no `trust`, no `peer`).
 *
 * @returns The file's text.
 * @example
 * ```ts
 * import { pgHbaText } from "./native_plan.ts";
 * pgHbaText().includes("trust"); // false
 * ```
 */
export function pgHbaText(): string {
  return [
    PG_HBA_MARKER,
    "# Generated by wb on every start; edits are lost. Every connection needs the instance's",
    "# Postgres password (secrets.json): the Unix socket, and loopback TCP when `tcp` is on.",
    "local all all scram-sha-256",
    "host all all 127.0.0.1/32 scram-sha-256",
    "host all all ::1/128 scram-sha-256",
    "",
  ].join("\n");
}

/** Native Postgres steps of an instance. */
export interface NativePostgresSteps {
  /** `initdb` (run once, when the data directory has no `PG_VERSION`). */
  initdb: Step;
  /**
   * Single-user `postgres` that sets the `postgres` role's password (read from stdin, never
   * argv); run on a stopped cluster made before password authentication.
   */
  setPassword: Step;
  /** `pg_ctl status` (exit 0 running, 3 stopped). */
  status: Step;
  /** `pg_ctl ... -w start`: the Unix socket, loopback TCP only with `tcp`. */
  start: Step;
  /** `pg_isready` on the Unix socket, polled. */
  ready: Step;
  /** Prints `1` when database `wb` exists (password through `PGPASSWORD`). */
  databaseExists: Step;
  /** `createdb wb`. */
  createDatabase: Step;
  /** `pg_ctl -m fast -t 30 stop`. */
  stop: Step;
}

/**
 * Native Postgres steps.
 *
 * @param instance The instance (`tcp` adds a loopback TCP listener).
 * @param paths Its paths.
 * @param isRoot Whether we run as root (server commands then run as `postgres`).
 * @param password The instance's Postgres password (in `env` or `stdin`, never argv).
 * @param readyForMs How long to poll `pg_isready`, in milliseconds. @default {30_000}
 * @returns The steps by role.
 * @example
 * ```ts
 * import { nativePaths, nativePostgresSteps } from "./native_plan.ts";
 * const instance = { id: "d", port: 8710, instanceDir: "/wb/d", runtime: "native", tags: [] } as never;
 * nativePostgresSteps(instance, nativePaths("/wb/d"), false, "pw").start.args;
 * ```
 */
export function nativePostgresSteps(
  instance: Instance,
  paths: NativePaths,
  isRoot: boolean,
  password: string,
  readyForMs = 30_000,
): NativePostgresSteps {
  const port = postgresPortOf(instance);
  const asPostgres = (step: Step) => asPostgresUser(step, isRoot);
  const serverOptions = [
    `-p ${port}`,
    `-k ${shellQuote(paths.pgSocketDir)}`,
    `-c unix_socket_permissions=0700`,
    `-c listen_addresses=${instance.tcp ? "127.0.0.1" : "''"}`,
    `-c log_timezone=UTC`,
  ].join(" ");
  const withPassword = { PGPASSWORD: password };
  return {
    initdb: asPostgres({
      title: `Initialise Postgres data directory ${paths.pgDataDir}`,
      command: "initdb",
      // Nothing listens until wb has set the password and written pg_hba.conf (SCRAM only).
      args: ["-D", paths.pgDataDir, "--auth=trust", "-U", "postgres", "-E", "UTF8", "--locale=C"],
    }),
    setPassword: asPostgres({
      title: "Set the Postgres password (single-user mode)",
      command: "postgres",
      args: ["--single", "-D", paths.pgDataDir, "postgres"],
      stdin: `ALTER ROLE postgres PASSWORD '${password.replaceAll("'", "''")}'\n`,
    }),
    status: asPostgres({
      title: "Postgres status",
      command: "pg_ctl",
      args: ["-D", paths.pgDataDir, "status"],
    }),
    start: asPostgres({
      title: instance.tcp
        ? `Start Postgres (socket ${paths.pgSocketDir}, 127.0.0.1:${port})`
        : `Start Postgres (socket ${paths.pgSocketDir}, no TCP)`,
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
      title: `Wait for Postgres on ${paths.pgSocketDir}`,
      command: "pg_isready",
      args: pgConnection(instance, paths),
      retryForMs: readyForMs,
      notReadyMessage: `Postgres of '${instance.id}' did not accept connections`,
    },
    databaseExists: {
      title: `Check database ${DATABASE_NAME}`,
      command: "psql",
      args: [
        ...pgConnection(instance, paths),
        "-w",
        "-d",
        "postgres",
        "-tAc",
        `select 1 from pg_database where datname = '${DATABASE_NAME}'`,
      ],
      env: withPassword,
    },
    createDatabase: {
      title: `Create database ${DATABASE_NAME}`,
      command: "createdb",
      args: [...pgConnection(instance, paths), "-w", DATABASE_NAME],
      env: withPassword,
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
 * @param paths Its paths.
 * @param password Its Postgres password (through `PGPASSWORD`).
 * @param sql The counting query.
 * @returns The step; its stdout is the count.
 * @example
 * ```ts
 * import { nativeCountStep, nativePaths } from "./native_plan.ts";
 * nativeCountStep({ port: 8710 } as never, nativePaths("/wb/d"), "pw", "select 1").args;
 * ```
 */
export function nativeCountStep(
  instance: Instance,
  paths: NativePaths,
  password: string,
  sql: string,
): Step {
  return {
    title: "Count loaded rows",
    command: "psql",
    args: [...pgConnection(instance, paths), "-w", "-d", DATABASE_NAME, "-tAc", sql],
    env: { PGPASSWORD: password },
  };
}

/** Native Redis steps of an instance. */
export interface NativeRedisSteps {
  /**
   * `redis-server <redisConf>` in the foreground of a detached process, with umask 077 so
   * its AOF and log are private (the runtime spawns it and watches it exit).
   */
  start: Step;
  /** `redis-cli PING` until `PONG` or `LOADING` (see `REDIS_STARTED_STDOUT`), polled. */
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
 * Where a native Redis listens: its Unix socket in `<instanceDir>/redis` (mode 0700), and
 * loopback TCP only with `tcp`; its files in `<instanceDir>/redis`. Not daemonized: the
 * runtime spawns it detached and sees at once when it exits.
 *
 * @param instance The instance.
 * @param paths Its paths.
 * @returns The listen settings of the generated config.
 * @example
 * ```ts
 * import { nativePaths, nativeRedisListen } from "./native_plan.ts";
 * nativeRedisListen({ port: 8710 } as never, nativePaths("/wb/d")).port; // 0: no TCP
 * ```
 */
export function nativeRedisListen(instance: Instance, paths: NativePaths): RedisListen {
  return {
    port: instance.tcp ? redisPortOf(instance) : 0,
    bind: "127.0.0.1",
    unixsocket: paths.redisSocket,
    dir: paths.redisDir,
    daemonize: false,
    pidfile: paths.redisPidFile,
    logfile: paths.redisLog,
  };
}

/**
 * A `redis-cli` step against a native instance's Redis, on its Unix socket. The password
 * goes in the `REDISCLI_AUTH` environment variable, never in argv.
 *
 * @param paths The instance's paths.
 * @param password Its Redis password.
 * @param title What the step does.
 * @param args redis-cli arguments after the connection options.
 * @returns The step.
 * @example
 * ```ts
 * import { nativePaths, nativeRedisCliStep } from "./native_plan.ts";
 * nativeRedisCliStep(nativePaths("/wb/d"), "pw", "Count keys", ["DBSIZE"]).args;
 * // ["-s", "/wb/d/redis/redis.sock", "DBSIZE"]
 * ```
 */
export function nativeRedisCliStep(
  paths: NativePaths,
  password: string,
  title: string,
  args: string[],
): Step {
  return {
    title,
    command: "redis-cli",
    args: ["-s", paths.redisSocket, ...args],
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
 * nativeRedisSteps(instance, nativePaths("/wb/d"), "pw").start.args;
 * ```
 */
export function nativeRedisSteps(
  instance: Instance,
  paths: NativePaths,
  password: string,
  pingForMs = 10_000,
): NativeRedisSteps {
  const cli = (title: string, ...args: string[]) =>
    nativeRedisCliStep(paths, password, title, args);
  return {
    start: {
      title: instance.tcp
        ? `Start Redis (socket ${paths.redisSocket}, 127.0.0.1:${redisPortOf(instance)})`
        : `Start Redis (socket ${paths.redisSocket}, no TCP)`,
      command: "sh",
      args: ["-c", 'umask 077 && exec redis-server "$1"', "sh", paths.redisConf],
    },
    ping: {
      ...cli(`Wait for Redis to answer PING`, "PING"),
      retryForMs: pingForMs,
      expectStdout: REDIS_STARTED_STDOUT,
      notReadyMessage: `Redis of '${instance.id}' did not answer PING`,
    },
    dbsize: cli("Count Redis keys", "DBSIZE"),
    info: cli("Redis INFO", "INFO"),
    flush: { ...cli("Flush Redis (FLUSHDB)", "FLUSHDB"), expectStdout: "^OK" },
    shutdown: cli("Stop Redis", "shutdown"),
  };
}
