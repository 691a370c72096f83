/**
 * Two real server processes (`server/main.ts`) on one Postgres database and one
 * redis-server: an event raised in one reaches the SSE clients of both (Redis pub/sub), and
 * with Redis down still reaches the clients of the process that raised it.
 */
import { REDIS_ENABLED } from "./testing/redis_mode.ts";
import assert from "node:assert/strict";
import { startRedis } from "../lib/testing/redis_server.ts";
import type { CacheEvent } from "./events/mod.ts";
import { startServer } from "./testing/server_process.ts";
import { createTestDatabase, loadSmallFixture } from "./testing/pg.ts";
import { SseReader } from "./testing/sse.ts";

const ADMIN = "fanout-admin-token-8d2f0b6e4c1a3957";
const admin = { authorization: `Bearer ${ADMIN}` };

async function openStream(url: string): Promise<SseReader> {
  const response = await fetch(`${url}/api/events`, { headers: admin });
  assert.equal(response.status, 200);
  const reader = new SseReader(response.body!);
  assert.equal((await reader.next()).event, "starting");
  return reader;
}

Deno.test({
  name: "a module run in one process raises one event that reaches SSE clients of two processes",
  ignore: !REDIS_ENABLED, // the fan-out between processes is Redis pub/sub
}, async () => {
  await using database = await createTestDatabase();
  await loadSmallFixture(database.db);
  await using redis = await startRedis();
  const env = {
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    ADMIN_TOKEN: ADMIN,
    OPEN_ACCESS: "true", // anonymous reads
    WB_INSTANCE: "fanout",
  };
  await using a = await startServer(env);
  await using b = await startServer(env);
  // Both processes' subscriber connections are on the channel.
  const deadline = Date.now() + 20_000;
  while ((await redis.cli("PUBSUB", "NUMSUB", "wb:events")).split("\n")[1] !== "2") {
    assert.ok(Date.now() < deadline, "both processes subscribed within 20 s");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const clientA = await openStream(a.url);
  const clientB = await openStream(b.url);
  try {
    const started = performance.now();
    const run = await fetch(`${a.url}/api/projects/demo/modules/m001/run`, {
      method: "POST",
      headers: admin,
    });
    assert.equal(run.status, 200);
    const { lastRun } = await run.json();
    const runMs = performance.now() - started;
    // A marker raised in the other process: what comes before it is all the run raised.
    const marker = await fetch(`${b.url}/api/cache/invalidate`, {
      method: "POST",
      headers: { ...admin, "content-type": "application/json" },
      body: JSON.stringify({ entity: "windowed_aggregate", mirror: false }),
    });
    assert.equal(marker.status, 200);
    await marker.body?.cancel();

    const got = [];
    for (const client of [clientA, clientB]) {
      const first = await client.next();
      const second = await client.next();
      assert.equal(first.event, "module_run");
      assert.equal(second.event, "invalidated", "one event per run, then the marker");
      const event: CacheEvent = JSON.parse(first.data);
      assert.equal(event.type === "module_run" && event.version, lastRun);
      got.push({ event, latencyMs: first.receivedAt - event.at });
    }
    assert.equal(got[0].event.eventId, got[1].event.eventId);
    assert.equal(got[0].event.seq, got[1].event.seq);
    console.log(
      `module run ${runMs.toFixed(0)} ms; event raised → received: ` +
        `${got[0].latencyMs} ms on the raising process's client, ` +
        `${got[1].latencyMs} ms on the other process's client (target < 100 ms)`,
    );
    assert.equal(
      a.logLines().filter((l) => l.event === "invalidate" && l.type === "module_run").length,
      1,
    );

    // Redis down: the raising process's clients still hear it.
    await redis.kill();
    const patched = await fetch(
      `${a.url}/api/projects/demo/presentation_objects/${
        (await (await fetch(`${a.url}/api/projects/demo/presentation_objects`)).json())
          .items[0].poId
      }`,
      {
        method: "PATCH",
        headers: { ...admin, "content-type": "application/json" },
        body: JSON.stringify({ label: "edited while Redis is down" }),
      },
    );
    assert.equal(patched.status, 200);
    await patched.body?.cancel();
    const local = await clientA.next();
    assert.equal(local.event, "presentation_object_updated");
    console.log(
      `Redis down: the raising process's client got the event; the other process's client ` +
        `has ${clientB.buffered} buffered (pub/sub cannot reach it)`,
    );

    // SIGTERM with streams open: the server ends them and exits cleanly.
    const status = await a.stop();
    assert.equal(status.code, 0, a.logs());
    await assert.rejects(clientA.next({ timeoutMs: 5000 }), /ended/);
  } finally {
    await clientA.close();
    await clientB.close();
  }
});
