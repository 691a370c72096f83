/**
 * What `wb status` says about a Redis's memory: parsed from a real redis-server's `INFO`
 * (evictions under a small `maxmemory`), and the warnings and the `MEMORY` cell built from it.
 */
import assert from "node:assert/strict";
import { createClient } from "redis";
import { startRedis } from "../lib/testing/redis_server.ts";
import { parseRedisInfo, type RedisInfo, redisWarnings } from "./redis_config.ts";
import type { InstanceStatus } from "./runtime.ts";
import { formatStatusTable } from "./status.ts";

const MIB = 1024 * 1024;

function status(redis: RedisInfo): InstanceStatus {
  return {
    id: "web",
    label: "web",
    runtime: "native",
    url: "http://127.0.0.1:8710",
    services: [{ service: "redis", running: true, detail: "pid 1" }],
    health: { ok: true, ms: 3 },
    redis,
    redisKeys: redis.keys,
    verdict: "healthy",
    problems: [],
    warnings: redisWarnings(redis, "web"),
  } as InstanceStatus;
}

Deno.test("redisWarnings() is silent for a Redis with room and no evictions", () => {
  const info: RedisInfo = {
    keys: 10,
    usedMemoryBytes: 100 * MIB,
    maxmemoryBytes: 256 * MIB,
    evictedKeys: 0,
    loading: false,
  };
  assert.deepEqual(redisWarnings(info, "web"), []);
  assert.doesNotMatch(formatStatusTable([status(info)]), /Warnings:/);
});

Deno.test("redisWarnings() warns at 90% of maxmemory, on any eviction, and while loading", () => {
  const full: RedisInfo = {
    keys: 10,
    usedMemoryBytes: 240 * MIB,
    usedMemoryHuman: "240.00M",
    maxmemoryBytes: 256 * MIB,
    maxmemoryHuman: "256.00M",
    maxmemoryPolicy: "allkeys-lru",
    evictedKeys: 1204,
    loading: true,
    loadingPercent: 42.4,
  };
  const warnings = redisWarnings(full, "web");
  assert.equal(warnings.length, 3);
  assert.match(warnings[0], /loading its AOF \(42%\).*BYPASS/);
  assert.match(warnings[1], /evicted 1,204 keys.*maxmemory 256\.00M.*wb c update web/);
  assert.match(warnings[2], /uses 94% of maxmemory \(240\.00M of 256\.00M\)/);
  assert.deepEqual(redisWarnings({ ...full, usedMemoryBytes: 230 * MIB, evictedKeys: 0 }, "web"), [
    warnings[0],
  ]);
  // Unbounded (maxmemory 0): no share to warn about.
  assert.deepEqual(
    redisWarnings({ keys: 1, usedMemoryBytes: 10 * MIB, maxmemoryBytes: 0 }, "web"),
    [],
  );
  const table = formatStatusTable([status(full)]);
  assert.match(table, /240\.00M \/ 256\.00M \(94%\) allkeys-lru, 1,204 evicted/);
  assert.match(table, /Warnings:\n {2}web: Redis is loading/);
  assert.equal(status(full).verdict, "healthy", "warnings do not change the verdict");
});

Deno.test("parseRedisInfo() of a real Redis that evicted under maxmemory feeds the warning", async () => {
  await using redis = await startRedis({
    args: ["--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru"],
  });
  const client = createClient({ url: redis.url });
  await client.connect();
  try {
    const value = "x".repeat(1024);
    for (let i = 0; i < 8000; i += 500) {
      await Promise.all(
        Array.from({ length: 500 }, (_, j) => client.set(`cache:t:${i + j}`, value)),
      );
    }
    const info = parseRedisInfo(await redis.cli("INFO"))!;
    assert.ok(info.evictedKeys! > 0, `evicted_keys ${info.evictedKeys}`);
    assert.equal(info.maxmemoryBytes, 4 * MIB);
    assert.equal(info.loading, false);
    assert.ok(info.keys < 8000);
    const warnings = redisWarnings(info, "web");
    assert.ok(warnings.some((w) => /evicted [\d,]+ keys/.test(w)), warnings.join("\n"));
  } finally {
    client.destroy();
  }
});
