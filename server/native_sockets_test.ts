/**
 * The app's connections as `wb` gives them to a native instance: Redis on a Unix socket
 * (`REDIS_URL=unix://:<password>@/path/redis.sock`, through `lib/redis.ts`) and Postgres on
 * a Unix socket directory (`DATABASE_URL=…?host=/dir`, through `connectPostgres`); and
 * `/healthz` reporting the instance id and the state of both.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { connectRedis, parseUnixUrl, redactRedisUrl } from "../lib/redis.ts";
import { connectPostgres, socketDirOf } from "./db.ts";
import { createApp } from "./app.ts";
import { createServerCaches } from "./caches.ts";
import { PostgresHealth } from "./postgres_health.ts";
import { RedisStore } from "../lib/mod.ts";

Deno.test("parseUnixUrl() and redactRedisUrl() read unix:// URLs without ever printing the password", () => {
  assert.deepEqual(parseUnixUrl("unix://:p%40ss@/run/wb/redis.sock?db=2"), {
    path: "/run/wb/redis.sock",
    password: "p@ss",
    database: 2,
  });
  assert.deepEqual(parseUnixUrl("unix:///tmp/r.sock"), { path: "/tmp/r.sock" });
  assert.equal(parseUnixUrl("redis://127.0.0.1:6379"), undefined);
  assert.equal(parseUnixUrl("unix://:pw@/"), undefined);
  assert.equal(redactRedisUrl("unix://:secret@/run/r.sock"), "unix://:***@/run/r.sock");
});

Deno.test("socketDirOf() takes libpq's host=<directory> off the URL for postgres.js", () => {
  assert.deepEqual(socketDirOf("postgres://u:p@localhost:5432/wb?host=%2Frun%2Fpg"), {
    url: "postgres://u:p@localhost:5432/wb",
    socketDir: "/run/pg",
  });
  assert.deepEqual(
    socketDirOf("postgres://u:p@localhost:5432/wb?host=%2Frun%2Fpg&sslmode=disable"),
    {
      url: "postgres://u:p@localhost:5432/wb?sslmode=disable",
      socketDir: "/run/pg",
    },
  );
  assert.deepEqual(socketDirOf("postgres://u@db:5432/wb"), { url: "postgres://u@db:5432/wb" });
});

Deno.test({
  name: "connectRedis() talks to a password-protected Redis on its Unix socket",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "wb-unix-redis-" });
    const socket = join(dir, "redis.sock");
    const server = new Deno.Command("redis-server", {
      args: [
        "--port",
        "0",
        "--unixsocket",
        socket,
        "--unixsocketperm",
        "700",
        "--requirepass",
        "pw",
        "--save",
        "",
        "--dir",
        dir,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      for (let i = 0; i < 100 && !(await Deno.lstat(socket).catch(() => undefined)); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const lines: string[] = [];
      const redis = await connectRedis(`unix://:pw@${socket}`, { log: (l) => lines.push(l) });
      try {
        const client = redis.ready();
        assert.ok(client, `ready: ${lines.join("\n")}`);
        await client.set("k", "v");
        assert.equal(await client.get("k"), "v");
        assert.ok(!lines.join("\n").includes(":pw@"), "the password is never logged");
      } finally {
        await redis.close();
      }
      const wrong = await connectRedis(`unix://:nope@${socket}`, {
        log: () => {},
        connectTimeoutMs: 500,
      });
      assert.equal(wrong.ready(), undefined, "a wrong password is not a connection");
      await wrong.close();
    } finally {
      server.kill("SIGKILL");
      await server.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "connectPostgres() connects through a socket directory (host=/dir); /healthz says Postgres up, then down (PostgresHealth)",
  ignore: !(await Deno.lstat("/var/run/postgresql/.s.PGSQL.5432").catch(() => undefined)),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const db = connectPostgres(
      "postgres://postgres@localhost:5432/postgres?host=%2Fvar%2Frun%2Fpostgresql",
    );
    try {
      const [{ one }] = await db.query<{ one: number }>("SELECT 1 AS one");
      assert.equal(one, 1);
      const health = new PostgresHealth(db);
      assert.equal(health.state(), "unknown");
      assert.equal(await health.check(), "up");
      const app = await createApp({
        db,
        caches: createServerCaches({ store: RedisStore.disabled(), log: () => {} }),
        instance: "sock",
        log: () => {},
        postgresHealth: () => health.state(),
      });
      const up = await app.request("/healthz");
      assert.equal(up.status, 200);
      const body = await up.json();
      assert.deepEqual([body.instance, body.postgres, body.ok], ["sock", "up", true]);
    } finally {
      await db.close();
    }
    // A Postgres that does not answer: /healthz says so (ok: false), within its bound.
    const gone = connectPostgres(
      "postgres://postgres@localhost:5432/postgres?host=%2Fnonexistent",
      {
        connectTimeoutS: 5,
      },
    );
    try {
      const health = new PostgresHealth(gone, { timeoutMs: 1000 });
      assert.equal(await health.check(), "down");
      const app = await createApp({
        db: gone,
        caches: createServerCaches({ store: RedisStore.disabled(), log: () => {} }),
        instance: "sock",
        log: () => {},
        postgresHealth: () => health.state(),
      });
      const down = await app.request("/healthz");
      assert.equal(down.status, 200, "a liveness answer: the process serves");
      const body = await down.json();
      assert.deepEqual([body.instance, body.postgres, body.ok, body.status], [
        "sock",
        "down",
        false,
        "down",
      ]);
    } finally {
      await gone.close();
    }
  },
});
