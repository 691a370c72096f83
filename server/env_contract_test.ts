import assert from "node:assert/strict";
import { readConfig } from "./config.ts";
import { appEnvRecord, dockerEnvArgs, ENV_NAMES } from "./env_contract.ts";

Deno.test("dockerEnvArgs() passes secrets by name only and plain values inline", () => {
  const { args, env } = dockerEnvArgs({
    port: 8000,
    databaseUrl: "postgres://postgres:pw@db/wb",
    redisUrl: "redis://:rpw@redis:6379",
    adminToken: "t".repeat(32),
    instance: "demo",
    workers: 4,
  });
  assert.deepEqual(args, [
    "-e",
    "PORT=8000",
    "-e",
    "DATABASE_URL",
    "-e",
    "REDIS_URL",
    "-e",
    "ADMIN_TOKEN",
    "-e",
    "WB_INSTANCE=demo",
    "-e",
    "DENO_JOBS=4",
  ]);
  assert.deepEqual(env, {
    DATABASE_URL: "postgres://postgres:pw@db/wb",
    REDIS_URL: "redis://:rpw@redis:6379",
    ADMIN_TOKEN: "t".repeat(32),
  });
  assert.ok(!args.some((arg) => arg.includes("pw")));
});

Deno.test("appEnvRecord() leaves unset fields out and joins lists", () => {
  assert.deepEqual(appEnvRecord({ instance: "d", workers: undefined }), { WB_INSTANCE: "d" });
  assert.deepEqual(appEnvRecord({ redisClusterNodes: ["redis://a:1", "redis://b:2"] }), {
    REDIS_CLUSTER_NODES: "redis://a:1,redis://b:2",
  });
});

Deno.test("readConfig() reads what appEnvRecord() writes", () => {
  const config = readConfig(appEnvRecord({
    port: 8710,
    host: "127.0.0.1",
    databaseUrl: "postgres://x/wb",
    redisUrl: "redis://127.0.0.1:6379",
    adminToken: "a".repeat(32),
    viewerToken: "v".repeat(32),
    instance: "demo",
  }));
  assert.equal(config.port, 8710);
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.databaseUrl, "postgres://x/wb");
  assert.equal(config.redisUrl, "redis://127.0.0.1:6379");
  assert.equal(config.adminToken, "a".repeat(32));
  assert.equal(config.viewerToken, "v".repeat(32));
  assert.equal(config.instance, "demo");
  assert.equal(ENV_NAMES.instance, "WB_INSTANCE");
});
