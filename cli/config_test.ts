import assert from "node:assert/strict";
import { join } from "node:path";
import { loadConfig, portConflicts, resolveTargets, resolveWbHome, saveConfig } from "./config.ts";
import { validateInstance } from "./instance_validation.ts";
import {
  parsePort,
  postgresPortOf,
  redisPortOf,
  validateId,
  validateMaxmemory,
  validateMaxmemoryPolicy,
  validateTag,
  validateVersion,
} from "./instance_schema.ts";
import { CliError, UnknownTargetError, UsageError } from "./errors.ts";
import { ensureSecrets, generateSecrets, readAdminToken, readSecrets } from "./secrets.ts";

const base = { label: "x", runtime: "native" as const, tags: [] as string[] };
const config = {
  instances: [
    { ...base, id: "a", port: 1000, instanceDir: "/wb/a", tags: ["prod"] },
    { ...base, id: "b", port: 1001, instanceDir: "/wb/b", tags: ["dev"] },
    {
      ...base,
      id: "c",
      port: 1002,
      instanceDir: "/wb/c",
      tags: ["prod", "dev"],
      serverVersion: "1.4.2",
    },
  ],
};

Deno.test("validateId() accepts ^[a-z][a-z0-9-]{0,30}$ only", () => {
  for (const ok of ["a", "demo", "a-1", "a".repeat(31)]) assert.equal(validateId(ok), ok);
  for (const bad of ["", "A", "1a", "-a", "a_b", "a".repeat(32), "a b"]) {
    assert.throws(() => validateId(bad), UsageError);
  }
});

Deno.test("parsePort() accepts 1..65535 and rejects the rest with a UsageError", () => {
  assert.equal(parsePort("8710"), 8710);
  assert.equal(parsePort(65535), 65535);
  for (const bad of ["0", "65536", "abc", "12.5", "-1", ""]) {
    assert.throws(() => parsePort(bad), UsageError);
  }
});

Deno.test("resolveWbHome() prefers WB_HOME, else ~/.wb", () => {
  assert.equal(resolveWbHome("/x", "/root"), "/x");
  assert.equal(resolveWbHome(undefined, "/root"), "/root/.wb");
  assert.throws(() => resolveWbHome(undefined, undefined), UsageError);
});

Deno.test("validateInstance() fills defaults: instanceDir, label, native ports", () => {
  const instance = validateInstance({ id: "demo", port: 8710, runtime: "native" }, "/home/wb");
  assert.deepEqual(instance, {
    id: "demo",
    label: "demo",
    port: 8710,
    instanceDir: "/home/wb/instances/demo",
    runtime: "native",
    tags: [],
  });
  assert.equal(postgresPortOf(instance), 18710);
  assert.equal(redisPortOf(instance), 28710);
  assert.equal(postgresPortOf({ port: 8710, postgresPort: 5555 }), 5555);
});

Deno.test("validateInstance() rejects bad ids, ports, runtimes and tags with code 'config'", () => {
  const cases: unknown[] = [
    { id: "Bad", port: 1 },
    { id: "ok", port: 70000 },
    { id: "ok", port: 1, runtime: "podman" },
    { id: "ok", port: 1, tags: "prod" },
    { id: "ok", port: 50000, runtime: "native" }, // redis port would be 70000
    null,
  ];
  for (const raw of cases) {
    assert.throws(
      () => validateInstance(raw, "/wb"),
      (e) => e instanceof CliError && e.code === "config",
    );
  }
});

Deno.test("loadConfig() of a missing file is empty; saveConfig() round-trips", async () => {
  const home = await Deno.makeTempDir();
  try {
    assert.deepEqual(await loadConfig(home), { instances: [] });
    await saveConfig(home, config);
    assert.deepEqual(await loadConfig(home), config);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("loadConfig() rejects invalid JSON and duplicate ids", async () => {
  const home = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(home, "servers.json"), "{nope");
    await assert.rejects(loadConfig(home), /not valid JSON/);
    await Deno.writeTextFile(
      join(home, "servers.json"),
      JSON.stringify({ instances: [config.instances[0], config.instances[0]] }),
    );
    await assert.rejects(loadConfig(home), /duplicate instance id 'a'/);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("resolveTargets() handles ids, @all and @<tag> in config order without duplicates", () => {
  const ids = (targets: string[]) => resolveTargets(config, targets).map((i) => i.id);
  assert.deepEqual(ids(["b"]), ["b"]);
  assert.deepEqual(ids(["@all"]), ["a", "b", "c"]);
  assert.deepEqual(ids(["@prod"]), ["a", "c"]);
  assert.deepEqual(ids(["c", "@dev", "a"]), ["a", "b", "c"]);
  assert.deepEqual(ids(["server=1.4.2"]), ["c"]);
  assert.deepEqual(ids(["server=latest"]), ["a", "b"], "no serverVersion means latest");
  assert.throws(
    () => resolveTargets(config, ["server=9"]),
    /No instance runs server version '9'\. Versions in use: latest, 1\.4\.2/,
  );
});

Deno.test("validateVersion(), validateTag(), validateMaxmemory() and validateMaxmemoryPolicy() say what is wrong", () => {
  assert.equal(validateVersion("1.4.2-rc_1"), "1.4.2-rc_1");
  for (const bad of ["", "-1", ".x", "a b", "v1/2", "x".repeat(129)]) {
    assert.throws(() => validateVersion(bad), UsageError, bad);
  }
  assert.throws(
    () => validateVersion("v 1", "admin version"),
    /^UsageError: Invalid admin version 'v 1': use a docker tag/,
  );
  assert.equal(validateTag("eu-west_1"), "eu-west_1");
  for (const bad of ["all", "Prod", "-x", ""]) assert.throws(() => validateTag(bad), UsageError);
  assert.equal(validateMaxmemory("512MB"), "512mb");
  for (const bad of ["0", "lots", "1tb", "-1mb"]) {
    assert.throws(() => validateMaxmemory(bad), UsageError);
  }
  assert.equal(validateMaxmemoryPolicy("allkeys-lfu"), "allkeys-lfu");
  assert.throws(() => validateMaxmemoryPolicy("lru"), /use one of allkeys-lru, allkeys-lfu/);
  assert.throws(
    () => validateInstance({ id: "x", port: 1, serverVersion: "bad version" }, "/wb"),
    /field 'serverVersion': Invalid server version 'bad version'/,
  );
});

Deno.test("portConflicts() finds every port used twice, across roles and instances", () => {
  assert.deepEqual(portConflicts(config.instances), [], "1000/11000/21000, 1001/...: no clash");
  assert.deepEqual(
    portConflicts([
      { id: "a", port: 8710, runtime: "native", tcp: true },
      { id: "b", port: 8710, runtime: "docker" },
      { id: "c", port: 8711, runtime: "native", redisPort: 18710, tcp: true },
      { id: "d", port: 8712, runtime: "native", redisPort: 18710 }, // sockets only
    ]),
    [
      "port 8710: app port of 'a' and app port of 'b'",
      "port 18710: Postgres port of 'a' and Redis port of 'c'",
    ],
  );
});

Deno.test("resolveTargets() names the known ids when an id or tag is unknown", () => {
  assert.throws(() => resolveTargets(config, ["zzz"]), (error) => {
    assert.ok(error instanceof UnknownTargetError);
    assert.equal(error.code, "unknown_target");
    assert.equal(error.message, "Unknown instance 'zzz'. Known instances: a, b, c");
    return true;
  });
  assert.throws(
    () => resolveTargets(config, ["@nope"]),
    /No instance has tag 'nope'\. Known instances: a, b, c/,
  );
});

Deno.test("ensureSecrets() writes mode 0600 once; readAdminToken() returns a 32-byte base64url token", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await ensureSecrets(dir, generateSecrets());
    assert.equal((await Deno.stat(join(dir, "secrets.json"))).mode! & 0o777, 0o600);
    const again = await ensureSecrets(dir, generateSecrets());
    assert.deepEqual(again, first, "secrets are not rotated by a second init/run");
    const token = await readAdminToken({ instanceDir: dir });
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(atob(token.replaceAll("-", "+").replaceAll("_", "/") + "=").length, 32);
    assert.equal((await readSecrets(dir)).postgresPassword, first.postgresPassword);
    assert.match(first.redisPassword, /^[A-Za-z0-9_-]{43}$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readAdminToken() of an instance without secrets fails with code 'config'", async () => {
  await assert.rejects(
    readAdminToken({ instanceDir: "/nonexistent/wb" }),
    (e) => e instanceof CliError && e.code === "config",
  );
});

Deno.test("readSecrets() gives an instance made before Redis passwords one, stored with mode 0600", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "secrets.json");
    await Deno.writeTextFile(path, JSON.stringify({ adminToken: "a", postgresPassword: "p" }), {
      mode: 0o644,
    });
    const secrets = await readSecrets(dir);
    assert.equal(secrets.adminToken, "a");
    assert.match(secrets.redisPassword, /^[A-Za-z0-9_-]{43}$/);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.deepEqual(await readSecrets(dir), secrets, "generated once, then kept");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
