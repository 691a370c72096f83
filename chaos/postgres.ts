/**
 * The chaos suite's own PostgreSQL cluster: `initdb` in a temporary directory on a free
 * loopback port, started and stopped with `pg_ctl` (as the `postgres` user when we run as
 * root, as `wb`'s native runtime does), with `pg_stat_statements` loaded so the suite can
 * count how often each statement really ran. The machine's own Postgres is never touched.
 *
 * @module
 */
import { freePort } from "../lib/testing/redis_server.ts";
import { onCleanUp, run, runOk } from "./process.ts";

const PG_BIN = "/usr/lib/postgresql/15/bin";

/** A running cluster owned by the suite. Dispose it to stop it and remove its files. */
export interface ChaosPostgres extends AsyncDisposable {
  port: number;
  /** `postgres://postgres@127.0.0.1:<port>/wb`. */
  url: string;
  /** Data, socket and log directory (owned by the `postgres` user when root). */
  dir: string;
  /** `pg_ctl stop -m fast` (connections are terminated with SQLSTATE 57P01). */
  stop(): Promise<void>;
  /** `pg_ctl start -w`: returns once it accepts connections. */
  start(): Promise<void>;
  /** Runs one SQL text with `psql -tA` in the `wb` database and returns its stdout. */
  psql(sql: string): Promise<string>;
  /** Stops the cluster and removes its directory. */
  destroy(): Promise<void>;
}

function asPostgres(command: string, args: string[]): [string, string[]] {
  const path = `${PG_BIN}/${command}`;
  return Deno.uid() === 0 ? ["runuser", ["-u", "postgres", "--", path, ...args]] : [path, args];
}

/**
 * Creates and starts a cluster with trust auth on `127.0.0.1:<free port>`, and the
 * database `wb` with the `pg_stat_statements` extension.
 *
 * @throws {Error} If a step fails (its stderr is in the message).
 */
export async function startPostgres(): Promise<ChaosPostgres> {
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "wb-chaos-pg-" });
  const data = `${dir}/data`;
  if (Deno.uid() === 0) await runOk("chown", ["-R", "postgres:postgres", dir]);
  await runOk(...asPostgres("initdb", [
    "-D",
    data,
    "--auth=trust",
    "-U",
    "postgres",
    "-E",
    "UTF8",
    "--locale=C",
    "--no-sync",
  ]));
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses=127.0.0.1",
    "-c shared_preload_libraries=pg_stat_statements",
    "-c pg_stat_statements.track=all",
    "-c max_connections=200",
    // The suite measures the cache, not the disk: no fsync on a shared machine.
    "-c fsync=off",
  ].join(" ");
  const start = () =>
    runOk(...asPostgres("pg_ctl", [
      "-D",
      data,
      "-o",
      options,
      "-l",
      `${dir}/postgres.log`,
      "-w",
      "-t",
      "60",
      "start",
    ])).then(() => {});
  const stop = () =>
    runOk(...asPostgres("pg_ctl", ["-D", data, "-m", "fast", "-t", "30", "-w", "stop"]))
      .then(() => {});
  const psqlIn = (database: string, sql: string) =>
    runOk("psql", [
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-U",
      "postgres",
      "-d",
      database,
      "-v",
      "ON_ERROR_STOP=1",
      "-tAc",
      sql,
    ]).then((out) => out.trim());
  await start();
  await psqlIn("postgres", "CREATE DATABASE wb");
  await psqlIn("wb", "CREATE EXTENSION pg_stat_statements");
  const destroy = async () => {
    unregister();
    await run(...asPostgres("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const unregister = onCleanUp(destroy);
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/wb`,
    dir,
    stop,
    start,
    psql: (sql) => psqlIn("wb", sql),
    destroy,
    [Symbol.asyncDispose]: destroy,
  };
}
