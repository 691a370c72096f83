/**
 * Server entry: reads the environment, connects Postgres (or an embedded one) and Redis,
 * serves the app, and shuts down gracefully on SIGTERM/SIGINT (stop accepting, end event
 * streams, finish in-flight requests and mirror deliveries (2 s at most), close Redis and
 * Postgres; a hard exit after 8 s).
 *
 * The cached routes take versions from the version table (`version_table.ts`), started in
 * the background and closed at shutdown; Postgres down at boot only means they query per
 * request until it is back.
 *
 * Redis never holds up the boot: an unreachable `REDIS_URL` costs at most the connect
 * timeout, after which the server answers uncached and reconnects in the background.
 *
 * A new release flushes the instance's caches once, at boot, when Redis records another
 * cache format (`cache_flush.ts`); `OPEN_ACCESS=true` with `WB_PRODUCTION=true` refuses to
 * start (`config.ts`).
 *
 * @module
 */
import { flushAllServerCaches, RedisStore, StaleWhileRevalidate } from "../lib/mod.ts";
import { createApp } from "./app.ts";
import { FlushLog, flushOnNewRelease } from "./cache_flush.ts";
import { createServerCaches } from "./caches.ts";
import { readConfig, redisTargetOf } from "./config.ts";
import { connectPostgres, type Db, openPglite } from "./db.ts";
import { serverEventsFromConfig } from "./events/mod.ts";
import { loadInstance } from "./load/mod.ts";
import { migrate } from "./migrate.ts";
import { trackInFlight } from "./in_flight.ts";
import { OverviewWindows } from "./routes/overview.ts";
import { installObservability, observeFillQueue, tracedDb } from "./observability.ts";
import { boundedDb } from "./bounded_db.ts";
import { CACHE_FORMAT_VERSION, SERVER_VERSION } from "./version.ts";
import { installLogFormat } from "./log_format.ts";
import { PostgresHealth } from "./postgres_health.ts";
import { VersionTable } from "./version_table.ts";
import { queryVersions } from "./versions.ts";

// Every line this process logs is JSON with an ISO `time` and a `level` (log_format.ts).
if (Deno.env.get("LOG_FORMAT") !== "raw") installLogFormat();

const HARD_EXIT_MS = 8000;
const log = (event: Record<string, unknown>) => console.error(JSON.stringify(event));

const config = readConfig(Deno.env.toObject());

async function openDatabase(): Promise<Db> {
  if (config.databaseUrl) {
    const db = connectPostgres(config.databaseUrl);
    try {
      await migrate(db);
    } catch (error) {
      // Postgres down at boot: serve anyway (routes answer 503 until it is back).
      log({ event: "migrate_failed", error: String((error as Error)?.message ?? error) });
    }
    return db;
  }
  log({ event: "embedded_database", dir: config.pgliteDir ?? "(memory)" });
  const db = await openPglite(config.pgliteDir);
  await migrate(db);
  const [{ n }] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM facilities");
  if (n === 0) {
    const summary = await loadInstance(db, {
      months: 24,
      facilityLimit: 400,
      log: (line) => log({ event: "embedded_load", line }),
    });
    log({ event: "embedded_loaded", ...summary });
  }
  return db;
}

const db = tracedDb(await openDatabase());
// /healthz reports Postgres from a background check (one `SELECT 1` every 2 s, never per request).
const postgresHealth = new PostgresHealth(db);
await postgresHealth.check();
postgresHealth.start();
// Versions and session changes pushed by Postgres (LISTEN/NOTIFY): a cache hit, anonymous or
// logged in, needs no pool connection. Started in the background: until it is listening and
// loaded, and whenever its connection is lost, the routes and sessions query per request. The embedded database has no second connection to listen on.
const versions = config.databaseUrl && config.versionTable
  ? new VersionTable({ db, url: config.databaseUrl, log: (line) => console.error(line) })
  : queryVersions(db);
if (versions instanceof VersionTable) versions.start();
// The instance's Redis, owned here and passed down: every cache, the memo, the event bus,
// the flush and the metrics take this store.
const redisUrl = config.redisEnabled ? redisTargetOf(config) : undefined; // a URL or a cluster
if (!config.redisEnabled) log({ event: "redis_disabled", reason: "REDIS_ENABLED=false" });
const store = config.redisEnabled
  ? await RedisStore.connect(redisUrl, { commandTimeoutMs: config.redisCommandTimeoutMs })
  : RedisStore.disabled();
if (store.where) log({ event: "redis_configured", url: store.where });
// The compression worker's start holds the event loop (tens of ms): at boot, not at the
// first large fill.
if (store.configured) store.deflate.start();
const observability = installObservability({ store, logLevel: config.redisLogLevel });
if (config.openAccess) {
  log({ event: "open_access", effect: "anonymous callers are viewers (never administrators)" });
}

// Once per new cache format, for the whole fleet; bounded when Redis is down or slow.
const flushLog = new FlushLog({ store, formatVersion: CACHE_FORMAT_VERSION });
const caches = createServerCaches({ store });
if (store.configured) {
  const outcome = await flushOnNewRelease({
    store,
    formatVersion: CACHE_FORMAT_VERSION,
    serverVersion: SERVER_VERSION,
    flush: () => flushAllServerCaches(store),
    flushLog,
  });
  log({ event: "release_flush", outcome, cacheFormatVersion: CACHE_FORMAT_VERSION });
}

// Events fan out through Redis pub/sub when Redis is configured; local ones are mirrored.
const events = serverEventsFromConfig(config, db, store);

// The overview's next window is refreshed at its boundary, while someone watches it.
const overview = new OverviewWindows({
  db,
  memo: new StaleWhileRevalidate({
    tenant: config.instance,
    store,
    log: (line) => console.error(line),
  }),
});
overview.startPrewarm();

// Cold computations run at most FILL_CONCURRENCY at once: a burst of them leaves cores to
// the cached hits and pool connections to the other requests (`bounded_db.ts`).
const computeDb = boundedDb(db, config.fillConcurrency);
observeFillQueue(observability.registry, computeDb);

const app = await createApp({
  overview,
  db,
  computeDb,
  caches,
  adminToken: config.adminToken,
  instance: config.instance,
  events,
  viewerToken: config.viewerToken,
  openAccess: config.openAccess,
  flushLog,
  mirrorSecret: config.mirrorSecret,
  metrics: observability.registry,
  metricsToken: config.metricsToken,
  allowedHosts: config.allowedHosts,
  trustedProxies: config.trustedProxies,
  loginMaxFailures: config.loginMaxFailures,
  sse: { maxStreamsPerUser: config.sseMaxStreamsPerUser, maxStreams: config.sseMaxStreams },
  postgresHealth: () => postgresHealth.state(),
  versions,
  sessions: versions instanceof VersionTable ? versions.sessions : undefined,
});

const inFlight = trackInFlight(app.fetch);
/** The app's handler, for `deno serve` (`server/serve.ts` imports this module). */
export const handler = inFlight.fetch;
/** Logs where the server listens (also `deno serve`'s `onListen`, in `server/serve.ts`). */
export function onListen({ port, hostname }: { port: number; hostname: string }): void {
  log({
    event: "listening",
    url: `http://${hostname}:${port}`,
    version: SERVER_VERSION,
    instance: config.instance,
  });
}

// Run as the entry (`deno run`), this module serves; under `deno serve` the runtime does,
// one worker per isolate, each with its own database pool and Redis connection.
const server = import.meta.main
  ? Deno.serve({ port: config.port, hostname: config.host, onListen }, handler)
  : undefined;

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log({ event: "shutdown", signal });
  overview.stopPrewarm();
  const hardExit = setTimeout(() => {
    log({ event: "shutdown_forced", afterMs: HARD_EXIT_MS });
    Deno.exit(1);
  }, HARD_EXIT_MS);
  Deno.unrefTimer(hardExit);
  // Under `deno serve` the runtime stops accepting and drains connections by itself; wait for
  // this worker's running handlers before closing what they use.
  const stopped = server ? server.shutdown() : inFlight.idle();
  // Event streams never finish by themselves: end them so the shutdown can complete, and
  // give pending mirror deliveries a moment.
  await events.close({ drainMs: 2000 });
  await stopped;
  await store.close();
  postgresHealth.close();
  if (versions instanceof VersionTable) await versions.close();
  await db.close().catch(() => {});
  clearTimeout(hardExit);
  // Under `deno serve`, exiting here would cut the other workers' shutdown short: the
  // runtime exits once every worker has closed its connections.
  if (server) Deno.exit(0);
}
Deno.addSignalListener("SIGTERM", () => shutdown("SIGTERM"));
Deno.addSignalListener("SIGINT", () => shutdown("SIGINT"));
