/**
 * Load: 1,000 concurrent SSE clients on one real server process (loopback only). Every
 * client gets its `starting`, then every client gets one event; the server's memory per
 * open stream is printed. Bounded: the clients are closed and the server stopped at the end,
 * whatever happened.
 */
import assert from "node:assert/strict";
import { startRedis } from "../lib/testing/redis_server.ts";
import { startServer } from "./testing/server_process.ts";
import { createTestDatabase, loadSmallFixture } from "./testing/pg.ts";
import { SseReader } from "./testing/sse.ts";

const CLIENTS = 1000;
const OPEN_CONCURRENCY = 100;
const ADMIN = "load-admin-token-9c3e1a7f5b2d4068";
const VIEWER = "load-viewer-token-2f8a6c0e4d1b9753";

/** Resident memory of a process, in bytes (Linux). */
async function rssBytes(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

Deno.test("1,000 concurrent SSE clients on one process hold, and each receives the event", async () => {
  await using database = await createTestDatabase();
  await loadSmallFixture(database.db);
  await using redis = await startRedis();
  await using server = await startServer({
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    ADMIN_TOKEN: ADMIN,
    VIEWER_TOKEN: VIEWER,
    WB_INSTANCE: "load",
  });
  const url = `${server.url}/api/events?access_token=${VIEWER}`;
  const readers: SseReader[] = [];
  const errors: string[] = [];
  let received = 0;
  let lastArrival = 0;
  let raisedAt = 0;
  try {
    // Warm the paths once, so the baseline includes the code, not just an idle process.
    const warm = new SseReader((await fetch(url)).body!);
    await warm.nextOf("starting");
    await warm.close();
    const before = await rssBytes(server.pid);

    const opened = performance.now();
    for (let i = 0; i < CLIENTS; i += OPEN_CONCURRENCY) {
      await Promise.all(
        Array.from({ length: Math.min(OPEN_CONCURRENCY, CLIENTS - i) }, async () => {
          try {
            const response = await fetch(url);
            if (response.status !== 200) {
              errors.push(`status ${response.status}`);
              await response.body?.cancel();
              return;
            }
            const reader = new SseReader(response.body!, (message) => {
              if (message.event === "invalidated") {
                received++;
                raisedAt = JSON.parse(message.data).at;
                lastArrival = Math.max(lastArrival, message.receivedAt);
              }
            });
            readers.push(reader);
            await reader.nextOf("starting", 30_000);
          } catch (error) {
            errors.push(String(error));
          }
        }),
      );
    }
    const openMs = performance.now() - opened;
    assert.deepEqual(errors, []);
    assert.equal(readers.length, CLIENTS);
    const after = await rssBytes(server.pid);

    const raised = await fetch(`${server.url}/api/cache/invalidate`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify({ entity: "datasets", id: "hmis" }),
    });
    assert.equal(raised.status, 200);
    await raised.body?.cancel();
    const deadline = Date.now() + 30_000;
    while (received < CLIENTS && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(received, CLIENTS, "every client received the event");
    assert.ok(readers.every((reader) => !reader.ended), "no stream was dropped");
    console.log(
      `${CLIENTS} SSE clients opened in ${openMs.toFixed(0)} ms; server RSS ` +
        `${(before / 2 ** 20).toFixed(1)} → ${(after / 2 ** 20).toFixed(1)} MiB, ` +
        `≈ ${((after - before) / CLIENTS / 1024).toFixed(1)} KiB per open stream; ` +
        `one event reached all ${CLIENTS} clients ${lastArrival - raisedAt} ms after it was raised`,
    );
  } finally {
    await Promise.all(readers.map((reader) => reader.close()));
    const status = await server.stop();
    assert.equal(status.code, 0, server.logs().slice(-2000));
  }
});
