/**
 * wb's Redis readiness against a real redis-server that is reading a large AOF back: it
 * answers `LOADING` to PING, and wb counts that as started (issue 16).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startRedis } from "../lib/testing/redis_server.ts";
import { nativePaths, nativeRedisSteps } from "./native_plan.ts";
import { redisStarted } from "./plan.ts";
import { parseRedisInfo, redisWarnings } from "./redis_config.ts";
import { execStep, runStep } from "./runner.ts";

Deno.test("redisStarted() accepts PONG and LOADING, refuses error replies and silence", () => {
  assert.equal(redisStarted("PONG\n"), true);
  assert.equal(redisStarted("LOADING Redis is loading the dataset in memory\n"), true);
  assert.equal(redisStarted("NOAUTH Authentication required.\n"), false);
  assert.equal(redisStarted("WRONGPASS invalid username-password pair\n"), false);
  assert.equal(redisStarted(""), false);
});

Deno.test("nativeRedisSteps().ping counts a Redis loading its AOF as started", async () => {
  const instanceDir = await Deno.makeTempDir({ prefix: "wb-loading-" });
  const paths = nativePaths(instanceDir);
  await Deno.mkdir(join(instanceDir, "redis"), { recursive: true, mode: 0o700 });
  await using redis = await startRedis({
    appendonly: true,
    password: "loading-test-pw",
    args: [
      ...["--unixsocket", paths.redisSocket, "--unixsocketperm", "700"],
      ...["--enable-debug-command", "yes"],
    ],
  });
  try {
    await redis.populateAof(2_000_000);
    await redis.kill();
    await redis.restart({ loading: true });
    const instance = { id: "loading", port: 8710, instanceDir, runtime: "native", tags: [] };
    const ping = nativeRedisSteps(instance as never, paths, "loading-test-pw", 30_000).ping;
    const out = await execStep(ping);
    const result = await runStep(ping);
    const stillLoading = await redis.loading();
    assert.ok(
      stillLoading,
      "Redis finished loading before the check: the AOF is too small for this machine",
    );
    assert.match(out.stdout, /^LOADING/);
    // `wb status` reads INFO (answered while loading) and says so.
    const info = parseRedisInfo(await redis.cli("INFO"))!;
    if (info.loading) assert.match(redisWarnings(info, "loading")[0], /loading its AOF/);
    assert.equal(result.status, "ok");
    assert.match(result.output.stdout, /^LOADING/);
  } finally {
    await Deno.remove(instanceDir, { recursive: true }).catch(() => {});
  }
});
