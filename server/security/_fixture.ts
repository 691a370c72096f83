/**
 * The security suite's instance: a throwaway Postgres database with the small fixture, a
 * redis-server (used when the suite runs with Redis), and the app built the way
 * `server/main.ts` builds it (admin, viewer and metrics tokens, a mirror secret, sessions,
 * a built web client), once as is and once with `OPEN_ACCESS`. Every SQL statement either
 * app runs is recorded.
 *
 * @module
 */
import type { Hono } from "hono";
import { Registry } from "prom-client";
import type { RedisStore } from "../../lib/mod.ts";
import { startRedis, type TestRedis } from "../../lib/testing/redis_server.ts";
import { type AppDeps, createApp } from "../app.ts";
import { runIdOf } from "../caches.ts";
import { createServerCaches } from "../caches.ts";
import type { Db } from "../db.ts";
import { createTestDatabase, loadSmallFixture, type TestDatabase } from "../testing/pg.ts";
import { connectTestStore } from "../testing/redis_mode.ts";
import { issueLoginToken, upsertUser } from "../users.ts";

export const INSTANCE = "sec";
export const ADMIN_TOKEN = "sec-admin-token-3c1f0e2a9b7d4c56";
export const VIEWER_TOKEN = "sec-viewer-token-8e2d7a41c09b5f13";
export const METRICS_TOKEN = "sec-metrics-token-5a9c2e7f1d3b8064";
export const MIRROR_SECRET = "sec-mirror-secret-0f4e8d2c6b1a3957e2d4c6b8a0f1e3d5";
/** What a browser adds to a same-origin `fetch` write (`app.request` URLs are on localhost). */
export const SAME_ORIGIN = { "sec-fetch-site": "same-origin", origin: "http://localhost" };
/** The hashed asset of the fixture's web client. */
export const ASSET = "app-ABCDEFGH.js";

/** One statement a {@linkcode recordingDb} ran. */
export interface RecordedQuery {
  text: string;
  params: unknown[];
}

/** `db`, recording every statement (transactions included) into `sink`. */
export function recordingDb(db: Db, sink: RecordedQuery[]): Db {
  return {
    query(text, params = []) {
      sink.push({ text, params });
      return db.query(text, params);
    },
    exec(text) {
      sink.push({ text, params: [] });
      return db.exec(text);
    },
    copyRows: (table, columns, rows) => db.copyRows(table, columns, rows),
    transaction: (fn) => db.transaction((tx) => fn(recordingDb(tx, sink))),
    close: () => db.close(),
  };
}

/** A user logged in through a login link. */
export interface LoggedIn {
  /** `wb_session_<instance>=<token>`, for a `cookie` header. */
  cookie: string;
  /** The raw session token (what the cookie carries). */
  sessionToken: string;
  /** The raw login-link token it was bought with (used up). */
  loginToken: string;
}

/** The suite's instance. Dispose it at the end of a test file. */
export interface SecurityFixture extends AsyncDisposable {
  database: TestDatabase;
  redis: TestRedis;
  /** What both apps were built with (the recording database among them). */
  deps: AppDeps;
  /** Every statement either app ran, in order. */
  queries: RecordedQuery[];
  /** The instance: tokens, sessions, `/metrics` with its token, signed mirroring accepted. */
  app: Hono;
  /** The same instance with `OPEN_ACCESS=true`. */
  open: Hono;
  /** Ids of the fixture that exist: project `demo`, module `m001`, one PO and its metric. */
  ids: { projectId: string; moduleId: string; poId: string; metricId: string };
  /** The current run id of module `m001` (it changes with every run). */
  runId(): Promise<string>;
  /** A concrete path for a route pattern of `app.routes`, with the fixture's ids. */
  concretePath(pattern: string): Promise<string>;
  /** A fresh one-time login token for `email` (created or updated with `isAdmin`). */
  loginToken(email: string, isAdmin: boolean): Promise<string>;
  /** Logs `email` in through a fresh login link. */
  login(email: string, isAdmin: boolean): Promise<LoggedIn>;
}

/**
 * Builds the instance.
 *
 * @param overrides App dependencies to replace (e.g. `events` with mirrors), or a function of
 *   the recording database and the Redis store (called once Redis is connected) that
 *   returns them.
 */
export async function createSecurityFixture(
  overrides: Partial<AppDeps> | ((db: Db, store: RedisStore) => Partial<AppDeps>) = {},
): Promise<SecurityFixture> {
  const database = await createTestDatabase();
  await loadSmallFixture(database.db);
  const redis = await startRedis();
  const store = await connectTestStore(redis.url, {
    commandTimeoutMs: 500,
    maxReconnectDelayMs: 100,
  });
  const clientDir = await Deno.makeTempDir({ prefix: "wb-security-client-" });
  await Deno.writeTextFile(`${clientDir}/index.html`, "<!doctype html><title>wb</title>");
  await Deno.writeTextFile(`${clientDir}/${ASSET}`, "console.log('wb');");
  const queries: RecordedQuery[] = [];
  const db = recordingDb(database.db, queries);
  const deps: AppDeps = {
    db,
    caches: createServerCaches({ store, log: () => {} }),
    adminToken: ADMIN_TOKEN,
    viewerToken: VIEWER_TOKEN,
    metrics: new Registry(),
    metricsToken: METRICS_TOKEN,
    mirrorSecret: MIRROR_SECRET,
    instance: INSTANCE,
    clientDir: new URL(`file://${clientDir}/`),
    log: () => {},
    ...(typeof overrides === "function" ? overrides(db, store) : overrides),
  };
  const app = await createApp(deps);
  const open = await createApp({ ...deps, openAccess: true });

  const [po] = await database.db.query<{ poId: string; metricId: string }>(
    `SELECT po_id AS "poId", metric_id AS "metricId" FROM presentation_objects
      WHERE project_id = 'demo' ORDER BY po_id LIMIT 1`,
  );
  const ids = { projectId: "demo", moduleId: "m001", poId: po.poId, metricId: po.metricId };
  const runId = async () => {
    const [row] = await database.db.query<{ lastRun: string }>(
      `SELECT iso_ts(last_run) AS "lastRun" FROM modules
        WHERE project_id = $1 AND module_id = $2`,
      [ids.projectId, ids.moduleId],
    );
    if (!row?.lastRun) throw new Error("the fixture's module m001 has never run");
    return runIdOf(row.lastRun);
  };
  const loginToken = async (email: string, isAdmin: boolean) => {
    const { user } = await upsertUser(database.db, email, { isAdmin });
    return (await issueLoginToken(database.db, user.userId)).token;
  };
  return {
    database,
    redis,
    deps,
    queries,
    app,
    open,
    ids,
    runId,
    async concretePath(pattern) {
      let path = pattern.replace(/\*$/, "demo");
      for (const [name, value] of Object.entries(ids)) path = path.replace(`:${name}`, value);
      if (path.includes(":runId")) path = path.replace(":runId", await runId());
      if (/[:*{]/.test(path)) throw new Error(`no fixture value for a parameter of '${pattern}'`);
      return path;
    },
    loginToken,
    async login(email, isAdmin) {
      const token = await loginToken(email, isAdmin);
      const response = await app.request("/api/auth/login", {
        method: "POST",
        headers: { ...SAME_ORIGIN, "content-type": "application/json" },
        body: JSON.stringify({ token }),
      });
      if (response.status !== 200) {
        throw new Error(`login of ${email}: ${response.status} ${await response.text()}`);
      }
      await response.body?.cancel();
      const cookie = response.headers.get("set-cookie")!.split(";")[0];
      return { cookie, sessionToken: cookie.slice(cookie.indexOf("=") + 1), loginToken: token };
    },
    async [Symbol.asyncDispose]() {
      await store.close();
      await redis.stop();
      await database[Symbol.asyncDispose]();
      await Deno.remove(clientDir, { recursive: true });
    },
  };
}

/**
 * The routes of an app as `METHOD /pattern`, from `app.routes` (middleware, registered with
 * `app.use` and taking `next`, left out).
 */
export function routesOf(app: Hono): string[] {
  return [
    ...new Set(
      app.routes.filter((r) => !(r.method === "ALL" && r.handler.length >= 2)).map((r) =>
        `${r.method} ${r.path}`
      ),
    ),
  ];
}
