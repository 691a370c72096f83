/**
 * The real entry point as a process: it boots and serves within seconds when REDIS_URL
 * points at nothing, answers from Postgres (BYPASS), and exits cleanly on SIGTERM.
 */
import assert from "node:assert/strict";
import { freePort } from "../lib/testing/redis_server.ts";
import { createTestDatabase, loadSmallFixture } from "./testing/pg.ts";
import { REDIS_ENABLED } from "./testing/redis_mode.ts";

Deno.test("server/main.ts boots with an unreachable Redis, serves uncached, and stops on SIGTERM", async () => {
  await using database = await createTestDatabase();
  await loadSmallFixture(database.db);
  const port = freePort();
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./main.ts", import.meta.url).pathname],
    env: {
      PORT: String(port),
      HOST: "127.0.0.1",
      DATABASE_URL: database.url,
      REDIS_URL: `redis://127.0.0.1:${freePort()}`, // nothing listens there
      ADMIN_TOKEN: "main-test-admin-token-3f1e9d7c5b0a2468",
      OPEN_ACCESS: "true", // anonymous reads
      WB_INSTANCE: "boot-test",
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logs = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let logText = "";
  const reading = (async () => {
    for (;;) {
      const { value, done } = await logs.read();
      if (done) return;
      logText += value;
    }
  })();
  try {
    let health: Response | undefined;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      health = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
      if (health) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(health, `no /healthz within 20 s:\n${logText}`);
    const bootMs = performance.now() - started;
    console.log(`booted and answered /healthz in ${bootMs.toFixed(0)} ms with Redis unreachable`);
    const body = await health.json();
    assert.equal(body.redis, REDIS_ENABLED ? "down" : "disabled");
    const pos =
      await (await fetch(`http://127.0.0.1:${port}/api/projects/demo/presentation_objects`)).json();
    const items = await fetch(
      `http://127.0.0.1:${port}/api/projects/demo/presentation_objects/${pos.items[0].poId}/items`,
    );
    assert.equal(items.status, 200);
    assert.equal(items.headers.get("x-cache"), "BYPASS");
    await items.body?.cancel();
  } finally {
    child.kill("SIGTERM");
    const status = await child.status;
    await child.stdout.cancel();
    await reading;
    assert.equal(status.code, 0, `exit ${status.code}:\n${logText}`);
    assert.match(logText, /"event":"shutdown","signal":"SIGTERM"/);
    // The release flush did not hold up the boot: it found no Redis and went on.
    if (REDIS_ENABLED) assert.match(logText, /"event":"release_flush","outcome":"unavailable"/);
  }
});
