/**
 * Server entry: reads the environment, connects Postgres (or an embedded one) and Redis,
 * serves the app, and shuts down gracefully on SIGTERM/SIGINT (stop accepting, end event
 * streams, finish in-flight requests and mirror deliveries (2 s at most), close Redis and
 * Postgres; a hard exit after 8 s).
 *
 * Redis never holds up the boot: an unreachable `REDIS_URL` costs at most the connect
 * timeout, after which the server answers uncached and reconnects in the background.
 *
 * @module
 */
import { closeRedis, initRedis, redactRedisUrl } from "../lib/mod.ts";
import { createApp } from "./app.ts";
import { createServerCaches } from "./caches.ts";
import { readConfig } from "./config.ts";
import { connectPostgres, type Db, openPglite } from "./db.ts";
import { createCacheEventLog, createServerEvents } from "./events/mod.ts";
import { loadInstance } from "./load/mod.ts";
import { migrate } from "./migrate.ts";
import { installObservability, tracedDb } from "./observability.ts";
import { SERVER_VERSION } from "./version.ts";

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
const observability = installObservability({ logLevel: config.redisLogLevel });
const redisUrl = config.redisEnabled ? config.redisUrl : undefined;
if (!config.redisEnabled) log({ event: "redis_disabled", reason: "REDIS_ENABLED=false" });
else await initRedis(redisUrl, { commandTimeoutMs: config.redisCommandTimeoutMs });
if (redisUrl) log({ event: "redis_configured", url: redactRedisUrl(redisUrl) });

// Events fan out through Redis pub/sub when Redis is configured; local ones are mirrored.
const events = createServerEvents({
  db,
  instance: config.instance,
  redis: redisUrl !== undefined,
  mirrors: config.cacheMirrors,
  mirrorSecret: config.mirrorSecret,
  log: createCacheEventLog({ instance: config.instance, destination: config.cacheEventLog }),
});

const app = await createApp({
  db,
  caches: createServerCaches(),
  adminToken: config.adminToken,
  instance: config.instance,
  events,
  viewerToken: config.viewerToken,
  mirrorSecret: config.mirrorSecret,
  metrics: observability.registry,
  metricsToken: config.metricsToken,
});

const server = Deno.serve({
  port: config.port,
  hostname: config.host,
  onListen: ({ port, hostname }) =>
    log({
      event: "listening",
      url: `http://${hostname}:${port}`,
      version: SERVER_VERSION,
      instance: config.instance,
    }),
}, app.fetch);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log({ event: "shutdown", signal });
  const hardExit = setTimeout(() => {
    log({ event: "shutdown_forced", afterMs: HARD_EXIT_MS });
    Deno.exit(1);
  }, HARD_EXIT_MS);
  const stopped = server.shutdown();
  // Event streams never finish by themselves: end them so the shutdown can complete, and
  // give pending mirror deliveries a moment.
  await events.close({ drainMs: 2000 });
  await stopped;
  await closeRedis();
  await db.close().catch(() => {});
  clearTimeout(hardExit);
  Deno.exit(0);
}
Deno.addSignalListener("SIGTERM", () => shutdown("SIGTERM"));
Deno.addSignalListener("SIGINT", () => shutdown("SIGINT"));
