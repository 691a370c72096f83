/**
 * The server-throughput benchmark's baseline: a bare Hono app on `Deno.serve` that answers
 * with the bytes of one Redis key (the server's exact response body for a presentation
 * object's items, stored there by the benchmark). Two routes:
 *
 * - `GET /bare`: Redis `GET` of the key, its bytes as `application/json`;
 * - `GET /bare_headers`: the same, with the four headers the server adds to a cached answer
 *   (`nosniff`, `Cache-Control`, `X-Cache`, a `Server-Timing` formatted per request), by the
 *   server's own `appendCachedHeaders`: what the response's shape costs without the server;
 * - `GET /bare_pg`: first the server's version query for the presentation object (the one
 *   indexed Postgres query every cached route runs, through the server's `Db`), then the same;
 * - `GET /bare_pg_prepared`: the same query as a prepared statement (postgres.js
 *   `unsafe(text, params, { prepare: true })`; the server's `Db` sends it unprepared, so
 *   Postgres plans it on every request), then the same.
 *
 * Usage: deno run -A bare_server.ts <port> <redisUrl> <databaseUrl> <key> <projectId> <poId>
 */
import { type Context, Hono } from "hono";
import { Buffer } from "node:buffer";
import { createClient, RESP_TYPES } from "redis";
import postgres from "postgres";
import { connectPostgres, type Db } from "../server/db.ts";
import { poVersions } from "../server/versions.ts";
import { appendCachedHeaders } from "../server/http.ts";

const [port, redisUrl, databaseUrl, key, projectId, poId] = Deno.args;
const redis = createClient({ url: redisUrl }).withTypeMapping({
  [RESP_TYPES.BLOB_STRING]: Buffer,
});
await redis.connect();
const db = connectPostgres(databaseUrl);
const prepared = postgres(databaseUrl, { max: 10, onnotice: () => {} });
// The exact statement and parameters poVersions sends (recorded through a stand-in Db), so
// the prepared route runs the server's query, whatever it becomes.
let versionQuery: { text: string; params: unknown[] } | undefined;
await poVersions(
  {
    query: (text: string, params: unknown[] = []) => {
      versionQuery ??= { text, params };
      return Promise.resolve([]);
    },
  } as unknown as Db,
  projectId,
  poId,
);
if (!versionQuery) throw new Error("poVersions sent no query");
const { text: versionText, params: versionParams } = versionQuery;

const app = new Hono();
const body = async (c: Context) => {
  const bytes = await redis.get(key);
  if (bytes === null) throw new Error(`key ${key} is missing`);
  // A view of the reply's bytes, not a copy.
  const view = new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
  return c.body(view, 200, { "content-type": "application/json" });
};
app.get("/bare", (c) => body(c));
app.get("/bare_headers", async (c) => {
  const started = performance.now();
  const response = await body(c);
  appendCachedHeaders(response.headers, "HIT", performance.now() - started, 0);
  return response;
});
app.get("/bare_pg", async (c) => {
  if (!(await poVersions(db, projectId, poId))) return c.text("no such presentation object", 404);
  return body(c);
});

app.get("/bare_pg_prepared", async (c) => {
  const rows = await prepared.unsafe(
    versionText,
    versionParams as postgres.ParameterOrJSON<never>[],
    { prepare: true },
  );
  if (rows.length === 0) return c.text("no such presentation object", 404);
  return body(c);
});

Deno.serve({
  port: Number(port),
  hostname: "127.0.0.1",
  onListen: () => console.log("listening"),
}, app.fetch);
