/**
 * Events in one process against real Postgres (the small fixture) and a real redis-server:
 * typed events of the writes, the SSE streams (auth, `starting`, subscribe before build,
 * `Last-Event-ID`, per project, heartbeats), the graph's clears, the admin invalidation, a
 * Redis outage, shutdown.
 */
import assert from "node:assert/strict";
import type { Hono } from "hono";
import { RedisStore } from "../lib/mod.ts";
import { connectTestStore, REDIS_ENABLED } from "./testing/redis_mode.ts";
import { startRedis, type TestRedis } from "../lib/testing/redis_server.ts";
import { createApp } from "./app.ts";
import { createServerCaches, type ServerCaches } from "./caches.ts";
import {
  type CacheEvent,
  createCacheEventLog,
  createServerEvents,
  readVersionState,
  SERVER_ENTITIES,
  ServerEvents,
  versionedWrites,
  type VersionState,
} from "./events/mod.ts";
import { createTestDatabase, loadSmallFixture, type TestDatabase } from "./testing/pg.ts";
import { SseReader } from "./testing/sse.ts";

const ADMIN = "events-admin-token-4c2a0e8f6d1b3579";
const VIEWER = "events-viewer-token-7f5d3b1e9c0a2486";
const admin = { authorization: `Bearer ${ADMIN}` };
const quiet = () => {};

interface Fixture {
  store: RedisStore;
  app: Hono;
  events: ServerEvents;
  caches: ServerCaches;
  redis: TestRedis;
  database: TestDatabase;
  logLines: string[];
  poIds: string[];
}

let fixture: Fixture | undefined;

async function setup(): Promise<Fixture> {
  if (fixture) return fixture;
  const database = await createTestDatabase();
  await loadSmallFixture(database.db);
  const redis = await startRedis();
  const store = await connectTestStore(redis.url, {
    log: quiet,
    commandTimeoutMs: 300,
    maxReconnectDelayMs: 100,
  });
  const logLines: string[] = [];
  const events = createServerEvents({
    db: database.db,
    instance: "events-test",
    store,
    log: createCacheEventLog({ instance: "events-test", destination: (l) => logLines.push(l) }),
  });
  const caches = createServerCaches({ store, log: quiet });
  const app = await createApp({
    db: database.db,
    caches,
    adminToken: ADMIN,
    viewerToken: VIEWER,
    instance: "events-test",
    log: quiet,
    events,
    sse: { heartbeatMs: 60_000 },
  });
  const pos =
    await (await app.request("/api/projects/demo/presentation_objects", { headers: admin }))
      .json();
  fixture = {
    store,
    app,
    events,
    caches,
    redis,
    database,
    logLines,
    poIds: pos.items.map((p: { poId: string }) => p.poId),
  };
  return fixture;
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function open(app: Hono, path: string, headers: HeadersInit = admin): Promise<SseReader> {
  const response = await app.request(path, { headers });
  if (response.status !== 200) {
    assert.fail(`${path}: ${response.status} ${await response.text()}`);
  }
  assert.match(response.headers.get("content-type")!, /^text\/event-stream/);
  return new SseReader(response.body!);
}

/** Closes readers and waits until the server dropped their subscriptions. */
async function closeAll(events: ServerEvents, ...readers: SseReader[]) {
  await Promise.all(readers.map((reader) => reader.close()));
  await until(() => events.subscriberCount === 0, "streams to be dropped");
}

const patchPo = (app: Hono, poId: string, label: string) =>
  app.request(`/api/projects/demo/presentation_objects/${poId}`, {
    method: "PATCH",
    headers: { ...admin, "content-type": "application/json" },
    body: JSON.stringify({ label }),
  });

const marker = (app: Hono) =>
  app.request("/api/cache/invalidate", {
    method: "POST",
    headers: { ...admin, "content-type": "application/json" },
    body: JSON.stringify({ entity: "windowed_aggregates", mirror: false }),
  });

Deno.test("GET /api/events: 401 without a token, 403 with a wrong one; viewer and access_token work", async () => {
  const f = await setup();
  const none = await f.app.request("/api/events");
  assert.equal(none.status, 401);
  assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="wb"');
  await none.body?.cancel();
  const wrong = await f.app.request("/api/events", { headers: { authorization: "Bearer nope" } });
  assert.equal(wrong.status, 403);
  await wrong.body?.cancel();
  const wrongQuery = await f.app.request("/api/events?access_token=nope");
  assert.equal(wrongQuery.status, 403);
  await wrongQuery.body?.cancel();
  const viewer = await open(f.app, `/api/events?access_token=${VIEWER}`, {});
  assert.equal((await viewer.next()).event, "starting");
  const header = await open(f.app, "/api/events", { authorization: `Bearer ${VIEWER}` });
  assert.equal((await header.next()).event, "starting");
  await closeAll(f.events, viewer, header);
  // A viewer may listen but not write.
  const run = await f.app.request("/api/projects/demo/modules/m001/run", {
    method: "POST",
    headers: { authorization: `Bearer ${VIEWER}` },
  });
  assert.equal(run.status, 403);
  await run.body?.cancel();
});

Deno.test("GET /api/events starts with the full current version state", async () => {
  const f = await setup();
  const stream = await open(f.app, "/api/events");
  const starting = await stream.next();
  assert.equal(starting.event, "starting");
  assert.equal(starting.id, String(f.events.lastSeq));
  const body = JSON.parse(starting.data);
  assert.equal(body.instance, "events-test");
  assert.deepEqual(body.state, await readVersionState(f.database.db));
  const state: VersionState = body.state;
  assert.equal(state.structure, "1");
  assert.deepEqual(state.datasets, { hmis: "1", hfa: "1" });
  assert.match(state.projects.demo.modules.m001!, /^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
  assert.equal(Object.keys(state.projects.demo.presentationObjects).length, f.poIds.length);
  await closeAll(f.events, stream);
});

Deno.test("a module run raises exactly one module_run event, carrying its cascade", async () => {
  const f = await setup();
  const stream = await open(f.app, "/api/events");
  await stream.nextOf("starting");
  const run = await f.app.request("/api/projects/demo/modules/m001/run", {
    method: "POST",
    headers: admin,
  });
  assert.equal(run.status, 200);
  const { lastRun } = await run.json();
  assert.equal((await marker(f.app)).status, 200);
  const first = await stream.next();
  const second = await stream.next();
  assert.equal(first.event, "module_run");
  assert.equal(second.event, "invalidated", "nothing but the run's one event before the marker");
  const event: CacheEvent = JSON.parse(first.data);
  assert.equal(first.id, String(event.seq));
  assert.equal(event.type, "module_run");
  assert.deepEqual(
    { projectId: event.type === "module_run" && event.projectId, version: event.version },
    { projectId: "demo", version: lastRun },
  );
  assert.deepEqual(event.affected, SERVER_ENTITIES.reach("module"));
  assert.equal(Number(second.id), event.seq + 1);
  const logged = f.logLines.map((line) => JSON.parse(line)).find((line) =>
    line.eventId === event.eventId
  );
  assert.equal(logged.event, "invalidate");
  assert.equal(logged.reason, "module demo/m001 ran");
  assert.equal(logged.fanOut, REDIS_ENABLED ? "redis" : "this process only");
  await closeAll(f.events, stream);
});

Deno.test("PATCH raises presentation_object_updated with the new last_updated", async () => {
  const f = await setup();
  const stream = await open(f.app, "/api/events");
  await stream.nextOf("starting");
  const patched = await patchPo(f.app, f.poIds[0], "Renamed by the events test");
  assert.equal(patched.status, 200);
  const { lastUpdated } = await patched.json();
  const message = await stream.next();
  assert.equal(message.event, "presentation_object_updated");
  const event = JSON.parse(message.data);
  assert.deepEqual([event.poId, event.version, event.affected], [
    f.poIds[0],
    lastUpdated,
    ["presentation_object", "presentation_object_item"],
  ]);
  // A failed edit (unknown object) raises nothing.
  assert.equal((await patchPo(f.app, "no_such_po", "x")).status, 404);
  assert.equal((await marker(f.app)).status, 200);
  assert.equal((await stream.next()).event, "invalidated");
  await closeAll(f.events, stream);
});

Deno.test("starting reflects a write that committed while the state was being built", async () => {
  const f = await setup();
  // The same events, with the state read wrapped so a real write lands inside the build.
  let duringBuild: "before_read" | "after_read" | undefined;
  let written: string | undefined;
  // deno-lint-ignore prefer-const
  let app: Hono;
  const write = async () => {
    const response = await patchPo(app, f.poIds[1], `edited during the build ${Date.now()}`);
    written = (await response.json()).lastUpdated;
  };
  const events = new ServerEvents({
    db: f.database.db,
    instance: "build-test",
    readState: async (db, projectId) => {
      if (duringBuild === "before_read") await write();
      const state = await readVersionState(db, projectId);
      if (duringBuild === "after_read") await write(); // the state read is now stale
      return state;
    },
  });
  app = await createApp({
    db: f.database.db,
    caches: f.caches,
    adminToken: ADMIN,
    log: quiet,
    events,
  });
  try {
    for (const when of ["before_read", "after_read"] as const) {
      duringBuild = when;
      const stream = await open(app, "/api/events");
      const starting = await stream.next();
      duringBuild = undefined;
      assert.equal(starting.event, "starting");
      const state: VersionState = JSON.parse(starting.data).state;
      assert.equal(state.projects.demo.presentationObjects[f.poIds[1]], written, when);
      // The write's event arrived during the build: it follows `starting`, nothing is lost.
      const next = await stream.next();
      assert.equal(next.event, "presentation_object_updated", when);
      assert.equal(JSON.parse(next.data).version, written, when);
      await closeAll(events, stream);
    }
  } finally {
    await events.close();
  }
});

Deno.test("Last-Event-ID replays what a reconnecting browser missed; an uncovered id gets a fresh starting", async () => {
  const f = await setup();
  const stream = await open(f.app, "/api/events");
  await stream.nextOf("starting");
  assert.equal((await patchPo(f.app, f.poIds[2], "replay one")).status, 200);
  const seen = await stream.next();
  await closeAll(f.events, stream);
  // Missed while disconnected:
  assert.equal((await patchPo(f.app, f.poIds[2], "replay two")).status, 200);
  assert.equal((await marker(f.app)).status, 200);

  const resumed = await open(f.app, "/api/events", { ...admin, "last-event-id": seen.id! });
  const first = await resumed.next();
  assert.equal(first.event, "resumed");
  assert.equal(JSON.parse(first.data).replayed, 2);
  const missed = await resumed.next();
  assert.equal(missed.event, "presentation_object_updated");
  assert.equal(Number(missed.id), Number(seen.id) + 1);
  assert.equal((await resumed.next()).event, "invalidated");
  // Still live after the replay:
  assert.equal((await marker(f.app)).status, 200);
  assert.equal((await resumed.next()).event, "invalidated");

  const ahead = await open(f.app, `/api/events?lastEventId=${f.events.lastSeq + 1000}`);
  assert.equal((await ahead.next()).event, "starting", "an id from the future: fresh state");
  const garbage = await open(f.app, "/api/events", { ...admin, "last-event-id": "abc" });
  assert.equal((await garbage.next()).event, "starting");
  await closeAll(f.events, resumed, ahead, garbage);
});

Deno.test("the ring buffer forgets old events: an id older than it keeps gets a fresh starting", async () => {
  const f = await setup();
  const events = new ServerEvents({ db: f.database.db, instance: "ring-test", ringSize: 2 });
  try {
    const first = await events.invalidate("module", "m001", { projectId: "demo" });
    assert.deepEqual(events.replaySince(first.seq), []);
    await events.invalidate("dataset", "hmis");
    await events.invalidate("dataset", "hfa");
    assert.equal(events.replaySince(first.seq - 1), undefined, "the first was evicted");
    assert.deepEqual(events.replaySince(first.seq)!.map((e) => e.seq), [
      first.seq + 1,
      first.seq + 2,
    ]);
    assert.equal(events.replaySince(first.seq + 3), undefined, "beyond anything seen");
  } finally {
    await events.close();
  }
});

Deno.test("GET /api/projects/:projectId/events: its project's events and instance-wide ones; 404 for an unknown project", async () => {
  const f = await setup();
  const missing = await f.app.request("/api/projects/nope/events", { headers: admin });
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  const stream = await open(f.app, "/api/projects/demo/events");
  const starting = JSON.parse((await stream.nextOf("starting")).data);
  assert.deepEqual(Object.keys(starting.state.projects), ["demo"]);
  await f.events.invalidate("module", "m9", { projectId: "other_project" });
  await f.events.invalidate("module", "m001", { projectId: "demo" });
  await f.events.invalidate("dataset", "hmis");
  const first = JSON.parse((await stream.next()).data);
  const second = JSON.parse((await stream.next()).data);
  assert.deepEqual([first.projectId, first.id], ["demo", "m001"], "other projects' events skipped");
  assert.deepEqual([second.entity, second.id], ["dataset", "hmis"]);
  await closeAll(f.events, stream);
});

Deno.test("heartbeats arrive as SSE comments", async () => {
  const f = await setup();
  const events = new ServerEvents({ db: f.database.db, instance: "heartbeat-test" });
  const app = await createApp({
    db: f.database.db,
    caches: f.caches,
    adminToken: ADMIN,
    log: quiet,
    events,
    sse: { heartbeatMs: 20 },
  });
  try {
    const stream = await open(app, "/api/events");
    await stream.nextOf("starting");
    const beat = await stream.next({ comments: true });
    assert.equal(beat.event, "comment");
    assert.match(beat.data, /^heartbeat \d+$/);
    await closeAll(events, stream);
  } finally {
    await events.close();
  }
});

Deno.test("the graph clears exactly the dependents: a structure import empties the structure cache, a dataset import the windowed aggregates", async () => {
  const f = await setup();
  const cleared: string[] = [];
  const removers = SERVER_ENTITIES.names.map((name) =>
    f.events.onClear(name, () => void cleared.push(name))
  );
  try {
    assert.equal((await f.app.request("/api/structure", { headers: admin })).status, 200);
    assert.equal(f.caches.structure.size, 1);
    await f.events.raise({ type: "dataset_imported", datasetId: "hmis", version: "1" });
    assert.deepEqual(cleared.sort(), SERVER_ENTITIES.reach("dataset").sort());
    assert.ok(!cleared.includes("structure") && !cleared.includes("indicator"));
    assert.equal(f.caches.structure.size, 1, "a dataset import leaves the structure alone");

    cleared.length = 0;
    await f.events.invalidate("presentation_objects", f.poIds[0], { projectId: "demo" });
    assert.deepEqual(cleared.sort(), ["presentation_object", "presentation_object_item"]);

    cleared.length = 0;
    await f.events.raise({ type: "structure_imported", version: "1" });
    assert.deepEqual(cleared.sort(), [...SERVER_ENTITIES.names].sort());
    assert.equal(f.caches.structure.size, 0, "the structure cache was emptied");
  } finally {
    for (const remove of removers) remove();
  }
});

Deno.test("reloading the instance raises structure_imported, dataset_imported ×2 and module_run", async () => {
  const f = await setup();
  const stream = await open(f.app, "/api/events");
  await stream.nextOf("starting");
  const summary = await versionedWrites(f.database.db, f.events).loadInstance({
    facilityLimit: 120,
    months: 24,
    seed: 1,
  });
  const got = [];
  for (let i = 0; i < 4; i++) got.push(JSON.parse((await stream.next()).data));
  assert.deepEqual(got.map((e) => [e.type, e.datasetId, e.version]), [
    ["structure_imported", undefined, String(summary.versions.structure)],
    ["dataset_imported", "hmis", String(summary.versions.hmis)],
    ["dataset_imported", "hfa", String(summary.versions.hfa)],
    ["module_run", undefined, summary.moduleLastRun],
  ]);
  await closeAll(f.events, stream);
});

Deno.test("POST /api/cache/invalidate (admin): plural names, 400 for unknown entities, 401/403 without the token", async () => {
  const f = await setup();
  const post = (body: unknown, headers: HeadersInit = admin) =>
    f.app.request("/api/cache/invalidate", {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const none = await post({ entity: "modules" }, {});
  assert.equal(none.status, 401);
  await none.body?.cancel();
  const wrong = await post({ entity: "modules" }, { authorization: "Bearer wrong" });
  assert.equal(wrong.status, 403);
  await wrong.body?.cancel();
  const unknown = await post({ entity: "widgets" });
  assert.equal(unknown.status, 400);
  assert.match((await unknown.json()).message, /'entity' must be one of: structure, /);
  const badId = await post({ entity: "modules", id: "a b" });
  assert.equal(badId.status, 400);
  await badId.body?.cancel();

  const eventId = crypto.randomUUID();
  const applied = await post({ entity: "modules", id: "m001", projectId: "demo", eventId });
  assert.equal(applied.status, 200);
  const body = await applied.json();
  assert.deepEqual([body.applied, body.eventId, body.affected], [
    true,
    eventId,
    SERVER_ENTITIES.reach("module"),
  ]);
  const again = await post({ entity: "module", id: "m001", projectId: "demo", eventId });
  assert.deepEqual(await again.json(), { applied: false, duplicate: true, eventId });
});

Deno.test({
  name: "with Redis down, an event still reaches this process's streams",
  ignore: !REDIS_ENABLED, // kills the test Redis
}, async () => {
  const f = await setup();
  const stream = await open(f.app, "/api/events");
  await stream.nextOf("starting");
  await f.redis.kill();
  try {
    assert.equal((await patchPo(f.app, f.poIds[3], "edited while Redis is down")).status, 200);
    const message = await stream.next();
    assert.equal(message.event, "presentation_object_updated");
    const logged = JSON.parse(f.logLines.at(-1)!);
    assert.equal(logged.fanOut, "this process only");
  } finally {
    await f.redis.restart();
  }
  await closeAll(f.events, stream);
});

Deno.test("closing the events ends every stream and refuses new ones (503)", async () => {
  const f = await setup();
  const events = new ServerEvents({ db: f.database.db, instance: "close-test" });
  const app = await createApp({
    db: f.database.db,
    caches: f.caches,
    adminToken: ADMIN,
    log: quiet,
    events,
  });
  const stream = await open(app, "/api/events");
  await stream.nextOf("starting");
  await events.close();
  await assert.rejects(stream.next(), /the event stream ended/);
  const refused = await app.request("/api/events", { headers: admin });
  assert.equal(refused.status, 503);
  await refused.body?.cancel();
  await stream.close();
});

Deno.test("events tests teardown", async () => {
  if (!fixture) return;
  await fixture.events.close();
  await fixture.store.close();
  await fixture.redis.stop();
  await fixture.database[Symbol.asyncDispose]();
});
