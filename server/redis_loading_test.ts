/**
 * The real server (`server/main.ts` as a process) while its Redis reads a large AOF back
 * after a restart: Redis answers `LOADING` to every data command for seconds, and each
 * request must still be answered correctly from Postgres (`BYPASS`, the same body), never
 * a 5xx and never held past the command timeout; once the load ends, hits come back
 * without restarting the server (issue 16).
 */
import assert from "node:assert/strict";
import { startRedis } from "../lib/testing/redis_server.ts";
import { createTestDatabase, loadSmallFixture } from "./testing/pg.ts";
import { REDIS_ENABLED } from "./testing/redis_mode.ts";
import { startServer } from "./testing/server_process.ts";

/** The server's reply deadline for one Redis call (`REDIS_COMMAND_TIMEOUT_MS`), in ms. */
const COMMAND_TIMEOUT_MS = 1000;
/**
 * A request answered later than this counts as hung: the command timeout plus room for a
 * 2-core machine busy loading the AOF (Postgres work included), in ms.
 */
const HUNG_MS = COMMAND_TIMEOUT_MS + 4000;
/** Filler keys in the AOF: enough that loading it takes a few seconds here. */
const FILLER_KEYS = 2_000_000;

interface Answer {
  status: number;
  xCache: string | null;
  body: unknown;
}

Deno.test({
  name: "server: requests while Redis loads a large AOF are BYPASS with the right body, then HIT",
  ignore: !REDIS_ENABLED, // about Redis itself
}, async () => {
  await using database = await createTestDatabase();
  await loadSmallFixture(database.db);
  await using redis = await startRedis({
    appendonly: true,
    args: ["--enable-debug-command", "yes"],
  });
  await using server = await startServer({
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
    ADMIN_TOKEN: "loading-test-admin-token-8c2f4e6a1b3d5079",
    OPEN_ACCESS: "true",
    WB_INSTANCE: "loading-test",
  });
  const get = async (path: string): Promise<Answer> => {
    const response = await fetch(`${server.url}${path}`, { signal: AbortSignal.timeout(HUNG_MS) });
    const text = await response.text();
    return {
      status: response.status,
      xCache: response.headers.get("x-cache"),
      body: response.status === 200 ? JSON.parse(text) : text,
    };
  };
  const projects = (await get("/api/projects")).body as { items: { projectId: string }[] };
  const projectId = projects.items[0].projectId;
  const pos = (await get(`/api/projects/${projectId}/presentation_objects`)).body as {
    items: { poId: string }[];
  };
  const paths = pos.items.slice(0, 3).map((po) =>
    `/api/projects/${projectId}/presentation_objects/${po.poId}/items`
  );
  const expected = new Map<string, unknown>();
  for (const path of paths) {
    const cold = await get(path);
    assert.equal(cold.status, 200, path);
    expected.set(path, cold.body);
    assert.equal((await get(path)).xCache, "HIT", path);
  }

  await redis.populateAof(FILLER_KEYS);
  await redis.kill();
  await redis.restart({ loading: true });
  const during: (Answer & { path: string; ms: number })[] = [];
  while (await redis.loading()) {
    for (const path of paths) {
      const started = performance.now();
      let answer: Answer;
      try {
        answer = await get(path);
      } catch (error) {
        throw new Error(`${path} while Redis was loading: no answer (${error})`);
      }
      during.push({ ...answer, path, ms: performance.now() - started });
    }
  }
  console.log(
    `${during.length} requests while Redis loaded ${FILLER_KEYS.toLocaleString("en-US")} keys: ` +
      `${during.filter((a) => a.xCache === "BYPASS").length} BYPASS, slowest ` +
      `${Math.max(...during.map((a) => a.ms)).toFixed(0)} ms`,
  );
  assert.ok(during.length > 0, "Redis finished loading before the first request");
  for (const answer of during) {
    assert.equal(answer.status, 200, `${answer.path}: ${JSON.stringify(answer.body)}`);
    assert.ok(
      answer.xCache === "BYPASS" || answer.xCache === "HIT",
      `${answer.path}: X-Cache ${answer.xCache}`,
    );
    assert.deepEqual(answer.body, expected.get(answer.path), answer.path);
  }
  // The L1 was emptied when the connection dropped: these requests went to the loading Redis.
  assert.ok(during.some((a) => a.xCache === "BYPASS"), "no request met the loading Redis");
  // Nothing was stored while loading, and what the AOF held is served again once it is read.
  for (const path of paths) {
    let answer = await get(path);
    for (let i = 0; i < 100 && answer.xCache !== "HIT"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      answer = await get(path);
    }
    assert.equal(answer.xCache, "HIT", `${path} after the load`);
    assert.deepEqual(answer.body, expected.get(path), path);
  }
  assert.ok(
    Number(await redis.cli("DBSIZE")) >= FILLER_KEYS + paths.length,
    "the warm entries did not survive the restart",
  );
});
