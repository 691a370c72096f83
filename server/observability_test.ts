/**
 * Observability: Prometheus metrics and cache log lines (in-process, real Redis and
 * Postgres), and OpenTelemetry spans from a real server process (Deno's built-in
 * OpenTelemetry, exported as OTLP/JSON to a collector on loopback).
 */
import assert from "node:assert/strict";
import { RedisStore } from "../lib/mod.ts";
import { freePort, startRedis } from "../lib/testing/redis_server.ts";
import { createApp } from "./app.ts";
import { createServerCaches } from "./caches.ts";
import { readConfig } from "./config.ts";
import { installObservability } from "./observability.ts";
import { createTestDatabase, loadSmallFixture } from "./testing/pg.ts";
import { REDIS_ENABLED } from "./testing/redis_mode.ts";

Deno.test({
  name:
    "GET /metrics counts hits, misses and fills per cache; cache_op log lines carry keys only at debug",
  ignore: !REDIS_ENABLED, // counts Redis hits
}, async () => {
  await using database = await createTestDatabase();
  await loadSmallFixture(database.db);
  await using redis = await startRedis();
  const store = await RedisStore.connect(redis.url, { log: () => {} });
  const lines: string[] = [];
  const observability = installObservability({
    store,
    logLevel: "info",
    log: (l) => lines.push(l),
  });
  try {
    const app = await createApp({
      openAccess: true, // anonymous reads: these tests are about caching, not access
      db: database.db,
      caches: createServerCaches({ store, log: () => {} }),
      metrics: observability.registry,
      metricsToken: "scrape",
      log: () => {},
    });
    const pos = await (await app.request("/api/projects/demo/presentation_objects")).json();
    const path = `/api/projects/demo/presentation_objects/${pos.items[0].poId}/items`;
    assert.equal((await app.request(path)).headers.get("x-cache"), "MISS");
    // Redis, then (once the read's TTL refresh has come back as an invalidation) the L1.
    for (let i = 0; i < 4; i++) {
      assert.equal((await app.request(path)).headers.get("x-cache"), "HIT");
    }
    assert.equal((await app.request("/metrics")).status, 401);
    assert.equal(
      (await app.request("/metrics", { headers: { authorization: "Bearer nope" } })).status,
      403,
    );
    const response = await app.request("/metrics", { headers: { authorization: "Bearer scrape" } });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /text\/plain/);
    const text = await response.text();
    assert.match(text, /cache_hits_total\{cache="po_items"\} 4/);
    assert.match(text, /cache_misses_total\{cache="po_items"\} 1/);
    assert.match(text, /cache_fills_total\{cache="po_items",outcome="leader"\} 1/);
    // How long the miss waited before computing (issue 21): one observation, the leader's.
    assert.match(text, /cache_fill_wait_seconds_count\{cache="po_items",outcome="leader"\} 1/);
    assert.match(text, /# TYPE cache_fill_takeovers_total counter/);
    assert.match(
      text,
      /cache_operation_duration_seconds_bucket\{le="0.001",cache="po_items",op="get_or_set"\}/,
    );
    // Every read is timed but those the L1 answered, which are counted.
    const sum = (pattern: RegExp) =>
      [...text.matchAll(pattern)].reduce((total, match) => total + Number(match[1]), 0);
    const l1Hits = sum(/^cache_l1_hits_total (\d+)$/gm);
    assert.ok(l1Hits >= 1, text);
    assert.equal(
      sum(/^cache_operation_duration_seconds_count\{cache="\w+",op="get_or_set"\} (\d+)$/gm) +
        l1Hits,
      sum(/^cache_(?:hits|misses)_total\{cache="\w+"\} (\d+)$/gm),
    );
    assert.match(text, /redis_up 1/);
    assert.match(text, /cache_l1_entries \d+/);
    const ops = lines.map((l) => JSON.parse(l)).filter((l) => l.event === "cache_op");
    assert.ok(
      ops.some((l) => l.cache === "po_items" && l.op === "get_or_set" && l.result === "hit"),
    );
    assert.ok(ops.every((l) => typeof l.latencyMs === "number" && !("key" in l)));
  } finally {
    observability.uninstall();
    await store.close();
  }

  const debugLines: string[] = [];
  await using redis2 = await startRedis();
  const store2 = await RedisStore.connect(redis2.url, { log: () => {} });
  const debug = installObservability({
    store: store2,
    logLevel: "debug",
    log: (l) => debugLines.push(l),
  });
  try {
    const app = await createApp({
      openAccess: true, // anonymous reads: these tests are about caching, not access
      db: database.db,
      caches: createServerCaches({ store: store2, log: () => {} }),
      log: () => {},
    });
    await app.request("/api/datasets/hfa/summary");
    assert.ok(debugLines.some((l) => JSON.parse(l).key?.startsWith("cache:ds_hfa:")));
  } finally {
    debug.uninstall();
    await store2.close();
  }
});

Deno.test("readConfig() parses REDIS_ENABLED and REDIS_LOG_LEVEL, refusing nonsense", () => {
  assert.equal(readConfig({}).redisEnabled, true);
  assert.equal(readConfig({ REDIS_ENABLED: "false" }).redisEnabled, false);
  assert.equal(readConfig({ REDIS_LOG_LEVEL: "debug" }).redisLogLevel, "debug");
  assert.throws(() => readConfig({ REDIS_ENABLED: "maybe" }), RangeError);
  assert.throws(() => readConfig({ REDIS_LOG_LEVEL: "loud" }), RangeError);
});

Deno.test({
  name:
    "a server with OTEL_DENO=true exports cache and database spans; REDIS_ENABLED=false serves uncached",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using database = await createTestDatabase();
    await loadSmallFixture(database.db);
    await using redis = await startRedis();
    const bodies: string[] = [];
    const collector = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen() {} },
      async (request) => {
        if (new URL(request.url).pathname === "/v1/traces") bodies.push(await request.text());
        else await request.body?.cancel();
        return Response.json({});
      },
    );
    const port = freePort();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./main.ts", import.meta.url).pathname],
      env: {
        PORT: String(port),
        HOST: "127.0.0.1",
        DATABASE_URL: database.url,
        REDIS_URL: redis.url,
        REDIS_ENABLED: "false",
        REDIS_LOG_LEVEL: "warn",
        OPEN_ACCESS: "true", // anonymous reads
        OTEL_DENO: "true",
        OTEL_SERVICE_NAME: "wb-server-test",
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.addr.port}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      },
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      let up = false;
      for (let i = 0; i < 200 && !up; i++) {
        up = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) =>
          r.body?.cancel().then(() =>
            true
          ), () => false) ?? false;
        if (!up) {
          await new Promise((r) =>
            setTimeout(r, 100)
          );
        }
      }
      assert.ok(up, "the server did not come up");
      const health = await (await fetch(`http://127.0.0.1:${port}/healthz`)).json();
      assert.equal(health.redis, "disabled");
      const pos =
        await (await fetch(`http://127.0.0.1:${port}/api/projects/demo/presentation_objects`))
          .json();
      for (let i = 0; i < 2; i++) {
        const items = await fetch(
          `http://127.0.0.1:${port}/api/projects/demo/presentation_objects/${
            pos.items[0].poId
          }/items`,
        );
        assert.equal(items.headers.get("x-cache"), "BYPASS");
        await items.body?.cancel();
      }
      assert.equal(await redis.cli("DBSIZE"), "0"); // nothing written with Redis disabled
      child.kill("SIGTERM");
      await child.status; // shutdown flushes the exporter
      const deadline = Date.now() + 5000;
      const names = () =>
        new Set(bodies.flatMap((b) => [...b.matchAll(/"name":\s*"([^"]+)"/g)].map((m) => m[1])));
      while (!names().has("cache.get_or_set") && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const name of ["cache.get_or_set", "cache.fill", "db.query"]) {
        assert.ok(names().has(name), `no '${name}' span in ${[...names()]}`);
      }
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
      await collector.shutdown();
    }
  },
});
