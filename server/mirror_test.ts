/**
 * Mirroring between two real server instances (each its own process, Postgres database
 * and redis-server; each lists the other in CACHE_MIRRORS): a local invalidation is applied
 * once on the other side and never bounces back; replays, stale or forged credentials are
 * refused; a mirror that is down is retried without slowing the request that caused it.
 */
import assert from "node:assert/strict";
import { freePort, startRedis } from "../lib/testing/redis_server.ts";
import { type MirrorBody, signMirrorRequest } from "./events/mod.ts";
import { type ServerProcess, startServer } from "./testing/server_process.ts";
import { createTestDatabase, loadSmallFixture } from "./testing/pg.ts";
import { SseReader } from "./testing/sse.ts";

const ADMIN = "mirror-admin-token-1a9e7c5f3d0b2468";
const SECRET = "mirror-secret-shared-by-both-instances-0123456789";
const admin = { authorization: `Bearer ${ADMIN}` };

async function openStream(url: string): Promise<SseReader> {
  const response = await fetch(`${url}/api/events`, { headers: admin });
  assert.equal(response.status, 200);
  const reader = new SseReader(response.body!);
  assert.equal((await reader.next()).event, "starting");
  return reader;
}

const postSigned = async (url: string, body: string, token: string) => {
  const response = await fetch(`${url}/api/cache/invalidate`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body,
  });
  return { status: response.status, body: await response.json() };
};

const adminInvalidate = async (url: string, body: Record<string, unknown>) => {
  const response = await fetch(`${url}/api/cache/invalidate`, {
    method: "POST",
    headers: { ...admin, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 200);
  return await response.json();
};

Deno.test("mirroring between two instances: applied once, never bounced, forged or replayed requests refused, a down mirror retried", async (t) => {
  await using databaseA = await createTestDatabase();
  await using databaseB = await createTestDatabase();
  await Promise.all([loadSmallFixture(databaseA.db), loadSmallFixture(databaseB.db)]);
  await using redisA = await startRedis();
  await using redisB = await startRedis();
  const portA = freePort();
  const portB = freePort();
  const envB = {
    DATABASE_URL: databaseB.url,
    REDIS_URL: redisB.url,
    ADMIN_TOKEN: ADMIN,
    WB_INSTANCE: "prod",
    CACHE_MIRRORS: `http://127.0.0.1:${portA}`,
    MIRROR_SECRET: SECRET,
  };
  await using a = await startServer({
    DATABASE_URL: databaseA.url,
    REDIS_URL: redisA.url,
    ADMIN_TOKEN: ADMIN,
    WB_INSTANCE: "staging",
    CACHE_MIRRORS: `http://127.0.0.1:${portB}`,
    MIRROR_SECRET: SECRET,
  }, { port: portA });
  let b: ServerProcess = await startServer(envB, { port: portB });
  const streams: SseReader[] = [];
  try {
    let streamB = await openStream(b.url);
    streams.push(streamB);

    await t.step("a module run on staging is applied once on prod and not sent back", async () => {
      const started = performance.now();
      const run = await fetch(`${a.url}/api/projects/demo/modules/m001/run`, {
        method: "POST",
        headers: admin,
      });
      assert.equal(run.status, 200);
      await run.body?.cancel();
      const runMs = performance.now() - started;
      const raised = await a.waitForLog((l) => l.event === "invalidate" && l.type === "module_run");
      assert.deepEqual(raised.mirrors, [`http://127.0.0.1:${portB}`]);

      const message = await streamB.next();
      assert.equal(message.event, "invalidated");
      const event = JSON.parse(message.data);
      assert.deepEqual(
        [event.eventId, event.entity, event.id, event.projectId, event.origin, event.reason],
        [raised.eventId, "module", "m001", "demo", "mirror:staging", "mirror from staging"],
      );
      const sent = await a.waitForLog((l) => l.event === "mirror_sent");
      assert.deepEqual([sent.eventId, sent.applied, sent.attempt], [raised.eventId, true, 1]);
      const applied = b.logLines().find((l) =>
        l.event === "invalidate" && l.eventId === raised.eventId
      )!;
      assert.deepEqual(applied.mirrors, [], "prod does not forward a mirrored invalidation");
      assert.ok(b.logLines().some((l) => l.event === "mirror_received"));
      assert.ok(!a.logLines().some((l) => l.event === "mirror_received"), "nothing came back");
      console.log(
        `module run on staging: ${runMs.toFixed(0)} ms; delivered to prod in ${sent.ms} ms`,
      );
    });

    await t.step("an admin invalidation on prod goes to staging and stops there", async () => {
      const answer = await adminInvalidate(b.url, { entity: "datasets", id: "hmis" });
      assert.equal(answer.applied, true);
      assert.equal((await streamB.next()).event, "invalidated");
      const received = await a.waitForLog((l) =>
        l.event === "mirror_received" && l.eventId === answer.eventId
      );
      assert.equal(received.from, "prod");
      const onA = a.logLines().find((l) =>
        l.event === "invalidate" && l.eventId === answer.eventId
      )!;
      assert.deepEqual(onA.mirrors, []);
    });

    await t.step(
      "signed requests: applied once; replay, stale, forged and tampered ones are 401",
      async () => {
        const body = (eventId: string, extra: Partial<MirrorBody> = {}) =>
          JSON.stringify({
            entity: "dataset",
            id: "hfa",
            eventId,
            mirror: false,
            origin: "test",
            ...extra,
          });
        const first = crypto.randomUUID();
        const token = await signMirrorRequest(body(first), SECRET, { issuer: "test" });
        const applied = await postSigned(b.url, body(first), token);
        assert.deepEqual([applied.status, applied.body.applied], [200, true]);
        const event = JSON.parse((await streamB.next()).data);
        assert.deepEqual([event.eventId, event.origin], [first, "mirror:test"]);

        const replay = await postSigned(b.url, body(first), token);
        assert.equal(replay.status, 401);
        assert.match(replay.body.message, /token replayed/);

        const fresh = await signMirrorRequest(body(first), SECRET, { issuer: "test" });
        const duplicate = await postSigned(b.url, body(first), fresh);
        assert.deepEqual([duplicate.status, duplicate.body], [200, {
          applied: false,
          duplicate: true,
          eventId: first,
        }]);

        const forged = await signMirrorRequest(body(crypto.randomUUID()), "x".repeat(40), {
          issuer: "test",
        });
        const forgedBody = body(crypto.randomUUID());
        const bad = await postSigned(b.url, forgedBody, forged);
        assert.equal(bad.status, 401);

        const staleBody = body(crypto.randomUUID());
        const stale = await signMirrorRequest(staleBody, SECRET, {
          issuer: "test",
          issuedAtS: Math.floor(Date.now() / 1000) - 600,
        });
        const old = await postSigned(b.url, staleBody, stale);
        assert.equal(old.status, 401);
        assert.match(old.body.message, /expired or too old/);

        const signedFor = body(crypto.randomUUID());
        const tamperedToken = await signMirrorRequest(signedFor, SECRET, { issuer: "test" });
        const tampered = await postSigned(
          b.url,
          body(crypto.randomUUID(), { entity: "structure" }),
          tamperedToken,
        );
        assert.equal(tampered.status, 401);
        assert.match(tampered.body.message, /body does not match/);

        const loopBody = body(crypto.randomUUID(), { mirror: true as false });
        const loop = await postSigned(
          b.url,
          loopBody,
          await signMirrorRequest(loopBody, SECRET, { issuer: "test" }),
        );
        assert.equal(loop.status, 400, "a signed request must say mirror: false");

        // Nothing of the above was applied: the next event on prod is this marker.
        const marker = await adminInvalidate(b.url, {
          entity: "windowed_aggregate",
          mirror: false,
        });
        assert.equal(JSON.parse((await streamB.next()).data).eventId, marker.eventId);
        const reasons = b.logLines().filter((l) => l.event === "mirror_rejected").map((l) =>
          String(l.reason)
        );
        assert.equal(reasons.length, 4, reasons.join("\n"));
        assert.ok(reasons.some((r) => r === "bad signature"), reasons.join("\n"));
        console.log(`prod refused (cache event log): ${reasons.join(" | ")}`);
      },
    );

    await t.step(
      "a mirror that is down is retried, and the request that caused it is not slowed",
      async () => {
        await streamB.close();
        assert.equal((await b.stop()).code, 0, b.logs());
        const started = performance.now();
        const run = await fetch(`${a.url}/api/projects/demo/modules/m001/run`, {
          method: "POST",
          headers: admin,
        });
        assert.equal(run.status, 200);
        await run.body?.cancel();
        const runMs = performance.now() - started;
        const raisedAt = Date.now();
        const raised = a.logLines().filter((l) =>
          l.event === "invalidate" && l.type === "module_run"
        )
          .at(-1)!;
        const failed = await a.waitForLog((l) =>
          l.event === "mirror_failed" && l.eventId === raised.eventId
        );
        assert.match(String(failed.error), /onnection refused|error sending request|os error/i);

        b = await startServer(envB, { port: portB });
        streamB = await openStream(b.url);
        streams.push(streamB);
        const sent = await a.waitForLog(
          (l) => l.event === "mirror_sent" && l.eventId === raised.eventId,
          40_000,
        );
        assert.ok(Number(sent.attempt) >= 2);
        await b.waitForLog((l) => l.event === "mirror_received" && l.eventId === raised.eventId);
        const attempts = a.logLines().filter((l) =>
          l.event === "mirror_failed" && l.eventId === raised.eventId
        );
        console.log(
          `mirror down: module run answered in ${runMs.toFixed(0)} ms; ${attempts.length} failed ` +
            `attempts (retry delays ${attempts.map((l) => l.nextRetryMs).join(", ")} ms); ` +
            `delivered on attempt ${sent.attempt}, ${Date.now() - raisedAt} ms after the run`,
        );
      },
    );
  } finally {
    for (const stream of streams) await stream.close();
    await b.stop();
  }
});
