/**
 * Event streams are bounded and end with their session:
 *
 * - `?access_token=` is read on the two stream routes only, never on a path that merely ends
 *   in `/events`; a project named after an `Object.prototype` property is no stream (404);
 * - a user holds at most `SSE_MAX_STREAMS_PER_USER` streams (1,500 by default: the 1,501st is
 *   429), the process at most `SSE_MAX_STREAMS`;
 * - a logout ends the session's streams from the logout request itself (no sweep needed),
 *   a session deleted in the database (revoked, or logged out in another worker) ends them at
 *   the next sweep.
 */
import assert from "node:assert/strict";
import { createApp } from "../app.ts";
import { REDIS_ENABLED } from "../testing/redis_mode.ts";
import { startServer } from "../testing/server_process.ts";
import { SseReader } from "../testing/sse.ts";
import { hashToken } from "../users.ts";
import {
  ADMIN_TOKEN,
  createSecurityFixture,
  INSTANCE,
  METRICS_TOKEN,
  MIRROR_SECRET,
  SAME_ORIGIN,
  type SecurityFixture,
  VIEWER_TOKEN,
} from "./_fixture.ts";

let fixture: SecurityFixture | undefined;

async function setup(): Promise<SecurityFixture> {
  fixture ??= await createSecurityFixture();
  return fixture;
}

/** Waits for `condition` (a bound against hanging, not a timing assertion). */
async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("?access_token= is read on /api/events and /api/projects/:projectId/events only, not on other paths ending in /events", async () => {
  const f = await setup();
  for (const path of ["/api/events", `/api/projects/${f.ids.projectId}/events`]) {
    const response = await f.app.request(`${path}?access_token=${VIEWER_TOKEN}`);
    assert.equal(response.status, 200, path);
    await response.body?.cancel();
  }
  for (
    const path of [
      `/api/projects/${f.ids.projectId}/presentation_objects/events`,
      `/api/projects/${f.ids.projectId}/metrics/events/info`,
      "/api/projects/events",
      `/api/projects/${f.ids.projectId}/events/events`,
      "/api/events/",
    ]
  ) {
    const response = await f.app.request(`${path}?access_token=${VIEWER_TOKEN}`);
    assert.ok([401, 404].includes(response.status), `${path}: ${response.status}`);
    assert.notEqual(response.headers.get("content-type"), "text/event-stream");
    await response.body?.cancel();
  }
});

Deno.test("a project named after an Object.prototype property is no stream: 404 (/api/projects/constructor/events was a 200 stream)", async () => {
  const f = await setup();
  for (const name of ["constructor", "toString", "hasOwnProperty", "valueOf", "__proto__"]) {
    const response = await f.app.request(`/api/projects/${name}/events`, {
      headers: { authorization: `Bearer ${VIEWER_TOKEN}` },
    });
    assert.equal(response.status, 404, `${name}: ${response.status}`);
    await response.body?.cancel();
  }
});

Deno.test("the process cap refuses a stream beyond SSE_MAX_STREAMS (429 with Retry-After), whoever asks; a closed stream frees its place", async () => {
  const f = await setup();
  const app = await createApp({ ...f.deps, sse: { maxStreams: 3, maxStreamsPerUser: 2 } });
  const open = async (token: string) => {
    const response = await app.request("/api/events", {
      headers: { authorization: `Bearer ${token}` },
    });
    return response;
  };
  const a = await open(VIEWER_TOKEN);
  const b = await open(VIEWER_TOKEN);
  const overUser = await open(VIEWER_TOKEN);
  assert.deepEqual([a.status, b.status, overUser.status], [200, 200, 429]);
  assert.match((await overUser.json()).message, /this user already has 2 open/);
  const c = await open(ADMIN_TOKEN);
  const overProcess = await open(ADMIN_TOKEN);
  assert.deepEqual([c.status, overProcess.status], [200, 429]);
  assert.equal(overProcess.headers.get("retry-after"), "5");
  assert.match((await overProcess.json()).message, /Too many event streams on this server/);
  await a.body?.cancel();
  let again: Response | undefined;
  for (let i = 0; i < 200 && again?.status !== 200; i++) {
    await again?.body?.cancel();
    again = await open(ADMIN_TOKEN);
    if (again.status !== 200) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(again?.status, 200, "the cancelled stream's place was freed");
  for (const response of [b, c, again!]) await response.body?.cancel();
});

Deno.test("a logout ends the session's streams itself (no sweep runs); another session's stream goes on", async () => {
  const f = await setup();
  // A sweep every hour: whatever ends the streams here is the logout.
  const app = await createApp({ ...f.deps, sse: { sessionCheckMs: 3_600_000 } });
  const alice = await f.login("alice-sse@example.org", false);
  const bob = await f.login("bob-sse@example.org", false);
  const streamOf = async (cookie: string) => {
    const response = await app.request(`/api/projects/${f.ids.projectId}/events`, {
      headers: { cookie },
    });
    assert.equal(response.status, 200);
    const reader = new SseReader(response.body!);
    await reader.nextOf("starting");
    return reader;
  };
  const alices = [await streamOf(alice.cookie), await streamOf(alice.cookie)];
  const bobs = await streamOf(bob.cookie);
  const loggedOut = await app.request("/api/auth/logout", {
    method: "POST",
    headers: { ...SAME_ORIGIN, cookie: alice.cookie },
  });
  assert.equal(loggedOut.status, 200);
  const at = performance.now();
  for (const reader of alices) {
    const ended = await reader.nextOf("session_ended", 10_000);
    assert.match(ended.data, /session ended/);
  }
  await until(() => alices.every((reader) => reader.ended), "alice's streams to end", 10_000);
  console.log(
    `logout → both of the session's streams ended in ${(performance.now() - at).toFixed(1)} ms`,
  );
  assert.ok(!bobs.ended, "another session's stream goes on");
  // The dead session opens nothing more.
  const again = await app.request("/api/events", { headers: { cookie: alice.cookie } });
  assert.equal(again.status, 401);
  await again.body?.cancel();
  await bobs.close();
});

Deno.test("a session deleted in the database (revoked, or ended by another worker) ends its streams at the next sweep", async () => {
  const f = await setup();
  const app = await createApp({ ...f.deps, sse: { sessionCheckMs: 200 } });
  const carol = await f.login("carol-sse@example.org", false);
  const response = await app.request("/api/events", { headers: { cookie: carol.cookie } });
  assert.equal(response.status, 200);
  const reader = new SseReader(response.body!);
  await reader.nextOf("starting");
  await f.database.db.query("DELETE FROM sessions WHERE session_hash = $1", [
    hashToken(carol.sessionToken),
  ]);
  const at = performance.now();
  await reader.nextOf("session_ended", 10_000);
  await until(() => reader.ended, "the revoked session's stream to end", 10_000);
  console.log(
    `revoked session → stream ended in ${(performance.now() - at).toFixed(1)} ms (sweep 200 ms)`,
  );
});

Deno.test({
  name:
    "server process, defaults: one user's 1,501st stream is 429 while another user's opens; all 1,500 end when the session logs out",
  async fn() {
    const f = await setup();
    await using server = await startServer({
      DATABASE_URL: f.database.url,
      ...(REDIS_ENABLED ? { REDIS_URL: f.redis.url } : { REDIS_ENABLED: "false" }),
      ADMIN_TOKEN,
      VIEWER_TOKEN,
      METRICS_TOKEN,
      MIRROR_SECRET,
      WB_INSTANCE: INSTANCE, // the fixture's cookie name
    });
    const dave = await f.login("dave-sse@example.org", false);
    const erin = await f.login("erin-sse@example.org", false);
    const url = `${server.url}/api/events`;
    const readers: SseReader[] = [];
    try {
      for (let i = 0; i < 1500; i += 100) {
        await Promise.all(Array.from({ length: 100 }, async () => {
          const response = await fetch(url, { headers: { cookie: dave.cookie } });
          if (response.status !== 200) {
            assert.fail(
              `stream ${readers.length + 1}: ${response.status} ${await response.text()}`,
            );
          }
          const reader = new SseReader(response.body!);
          readers.push(reader);
          await reader.nextOf("starting", 30_000);
        }));
      }
      const refused = await fetch(url, { headers: { cookie: dave.cookie } });
      assert.equal(refused.status, 429);
      assert.ok(refused.headers.get("retry-after"));
      assert.match((await refused.json()).message, /already has 1500 open/);
      const other = await fetch(url, { headers: { cookie: erin.cookie } });
      assert.equal(other.status, 200, "another user is not affected");
      const erins = new SseReader(other.body!);
      readers.push(erins);
      await erins.nextOf("starting");

      const logout = await fetch(`${server.url}/api/auth/logout`, {
        method: "POST",
        headers: { cookie: dave.cookie, "sec-fetch-site": "same-origin" },
      });
      assert.equal(logout.status, 200);
      await logout.body?.cancel();
      const at = performance.now();
      const daves = readers.filter((reader) => reader !== erins);
      await Promise.all(daves.map((reader) => reader.nextOf("session_ended", 30_000)));
      await until(() => daves.every((reader) => reader.ended), "the 1,500 streams to end", 30_000);
      console.log(
        `logout → all 1,500 streams of the session ended ${
          (performance.now() - at).toFixed(0)
        } ms after the logout answer was read (server process, 2 shared cores)`,
      );
      assert.ok(!erins.ended, "the other user's stream goes on");
    } finally {
      await Promise.all(readers.map((reader) => reader.close()));
    }
  },
});

Deno.test("event streams teardown", async () => {
  if (!fixture) return;
  await fixture[Symbol.asyncDispose]();
  fixture = undefined;
});
