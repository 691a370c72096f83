import assert from "node:assert/strict";
import { join } from "node:path";
import { fakeDocker, fakeHealthz, tempWb } from "./_test_helpers.ts";
import { loadConfig } from "./config.ts";
import { INSTANCE_KEYS } from "./instance_schema.ts";
import {
  formatInstanceTable,
  listInstances,
  removeInstance,
  showInstance,
  tagInstances,
  validateConfigFile,
} from "./config_commands.ts";
import { updateInstance } from "./config_update.ts";
import { CliError, UnknownTargetError, UsageError } from "./errors.ts";
import { runTargets, stopTargets } from "./lifecycle_targets.ts";
import { initInstance } from "./init_instance.ts";
import { freePort } from "./process.ts";
import { readSecrets } from "./secrets.ts";

Deno.test("c add rejects a taken id or port and bad versions; c update checks the same and stores good changes", async () => {
  await using wb = await tempWb();
  await initInstance(wb.context, "a", { port: 18710 });
  await initInstance(wb.context, "b", { port: 18720, runtime: "docker" });
  await assert.rejects(
    initInstance(wb.context, "a", { port: 18730 }),
    /Instance 'a' already exists/,
  );
  await assert.rejects(
    initInstance(wb.context, "c", { port: 18720 }),
    /Port 18720 is already the app port of 'b'/,
  );
  await assert.rejects(
    initInstance(wb.context, "c", { port: 18730, serverVersion: "1.0 beta" }),
    /Invalid server version '1\.0 beta'/,
  );
  await assert.rejects(
    initInstance(wb.context, "c", { port: 18730, redisMaxmemoryPolicy: "lru" }),
    UsageError,
  );

  await assert.rejects(updateInstance(wb.context, "zz", { label: "x" }), UnknownTargetError);
  await assert.rejects(
    updateInstance(wb.context, "b", { port: 18710 }),
    /'b': port 18710 is already the app port of 'a'/,
  );
  await assert.rejects(updateInstance(wb.context, "b", { adminVersion: "-x" }), UsageError);
  await assert.rejects(
    updateInstance(wb.context, "b", { redisPort: 5000 }),
    /'b' runs on docker: only native instances have Postgres and Redis ports/,
  );
  await assert.rejects(
    updateInstance(wb.context, "a", { redisPort: 18710, tcp: true }),
    /'a' would use a port twice: port 18710: app port of 'a' and Redis port of 'a'/,
  );
  const [b] = await updateInstance(wb.context, "b", {
    serverVersion: "1.5.0",
    adminVersion: "2.0",
    redisMaxmemory: "1GB",
    redisMaxmemoryPolicy: "allkeys-lfu",
    label: "Bee",
  });
  assert.deepEqual(
    [b.serverVersion, b.adminVersion, b.redisMaxmemory, b.redisMaxmemoryPolicy, b.label],
    ["1.5.0", "2.0", "1gb", "allkeys-lfu", "Bee"],
  );
  await updateInstance(wb.context, "b", { serverVersion: null, adminVersion: null });
  const stored = (await loadConfig(wb.home)).instances.find((i) => i.id === "b")!;
  assert.equal(stored.serverVersion, undefined);
  assert.equal(stored.adminVersion, undefined);
  assert.equal(stored.redisMaxmemory, "1gb");
});

Deno.test("c tag / untag work on targets; c list and c show never print secrets", async () => {
  await using wb = await tempWb();
  const a = await initInstance(wb.context, "a", { port: 18710, tags: ["eu"] });
  await initInstance(wb.context, "b", { port: 18720, tags: ["eu"], runtime: "docker" });
  await initInstance(wb.context, "c", { port: 18730 });
  await tagInstances(wb.context, ["@eu"], ["canary", "eu"]);
  await tagInstances(wb.context, ["a"], ["eu"], true);
  assert.deepEqual((await loadConfig(wb.home)).instances.map((i) => [i.id, i.tags]), [
    ["a", ["canary"]],
    ["b", ["eu", "canary"]],
    ["c", []],
  ]);
  await assert.rejects(tagInstances(wb.context, ["a"], ["all"]), UsageError);
  await assert.rejects(tagInstances(wb.context, ["@nope"], ["x"]), /No instance has tag 'nope'/);
  assert.deepEqual((await listInstances(wb.context, ["@canary"])).map((i) => i.id), ["a", "b"]);

  const table = formatInstanceTable(await listInstances(wb.context));
  const lines = table.split("\n");
  assert.match(
    lines[0],
    /^ID\s+LABEL\s+RUNTIME\s+PORT\s+PG PORT\s+REDIS PORT\s+SERVER\s+ADMIN\s+REDIS MEMORY\s+TAGS$/,
  );
  assert.match(
    lines[1],
    /^a\s+a\s+native\s+18710\s+socket\s+socket\s+latest\s+-\s+256mb allkeys-lru\s+canary$/,
  );
  assert.match(lines[2], /^b\s+b\s+docker\s+18720\s+-\s+-\s+latest/);

  const shown = await showInstance(wb.context, "a");
  assert.equal(shown.url, "http://127.0.0.1:18710");
  assert.deepEqual(shown.nativePorts, { postgres: 28710, redis: 38710 });
  assert.equal(shown.redis.config, join(a.instanceDir, "redis", "redis.conf"));
  const secrets = await readSecrets(a.instanceDir);
  const text = JSON.stringify(shown) + table;
  for (const secret of Object.values(secrets)) assert.ok(!text.includes(secret));
});

Deno.test("c validate reports every problem at once: bad fields, duplicate ids and ports, open secrets", async () => {
  await using wb = await tempWb();
  const okDir = join(wb.home, "ok");
  await Deno.mkdir(okDir);
  await Deno.writeTextFile(join(okDir, "secrets.json"), "{}", { mode: 0o644 });
  await Deno.chmod(join(okDir, "secrets.json"), 0o644);
  await Deno.writeTextFile(
    join(wb.home, "servers.json"),
    JSON.stringify({
      instances: [
        { id: "ok", port: 18710, runtime: "native", instanceDir: okDir, tcp: true },
        { id: "clash", port: 28710, runtime: "docker" },
        { id: "ok", port: 18800, runtime: "docker" },
        { id: "bad", port: 18900, runtime: "docker", serverVersion: "not a tag" },
        { id: "mem", port: 19000, runtime: "docker", redisMaxmemory: "lots" },
        { id: "typo", port: 19100, runtime: "docker", tgas: ["prod"] },
        { port: 19200 },
      ],
      defaults: {},
    }),
  );
  const report = await validateConfigFile(wb.home);
  assert.equal(report.instances, 7);
  assert.deepEqual(report.errors, [
    "unknown key 'defaults'; known keys: instances, images",
    "duplicate instance id 'ok'",
    "instance 'bad' (entry 4), field 'serverVersion': Invalid server version 'not a tag': use a docker tag (up to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-')",
    "instance 'mem' (entry 5), field 'redisMaxmemory': Invalid Redis maxmemory 'lots': use a positive size such as 256mb or 1gb",
    `instance 'typo' (entry 6): unknown key 'tgas' (did you mean 'tags'?); known keys: ${
      INSTANCE_KEYS.join(", ")
    }`,
    "instance (entry 7), field 'id': missing",
    "port 28710: Postgres port of 'ok' and app port of 'clash'",
  ]);
  for (const error of report.errors) assert.ok(!error.includes("{"), `no object dump: ${error}`);
  assert.ok(
    report.warnings.some((w) => /secrets\.json is readable by others \(mode 644\)/.test(w)),
  );
  assert.ok(report.warnings.some((w) => /'clash': .* has no secrets yet/.test(w)));

  await Deno.writeTextFile(join(wb.home, "servers.json"), JSON.stringify({ instances: [] }));
  assert.deepEqual((await validateConfigFile(wb.home)).errors, []);
});

Deno.test("c remove refuses a running instance unless forced, and keeps its data", async () => {
  await using wb = await tempWb({ healthTimeoutMs: 5_000 });
  const docker = await fakeDocker(wb.home);
  wb.context.env = docker.env;
  const web = await initInstance(wb.context, "web", { port: freePort(), runtime: "docker" });
  await using _apps = fakeHealthz([web], docker.env.FAKE_DOCKER_LOG);
  await runTargets(wb.context, ["web"]);
  await assert.rejects(removeInstance(wb.context, "web"), (error) => {
    assert.ok(error instanceof CliError);
    assert.equal(
      error.message,
      "'web' is running (postgres, redis, app); `wb stop web` first, or remove it with --force",
    );
    return true;
  });
  await stopTargets(wb.context, ["web"]);
  await removeInstance(wb.context, "web");
  assert.deepEqual((await loadConfig(wb.home)).instances, []);
  assert.ok((await Deno.stat(join(web.instanceDir, "secrets.json"))).isFile, "data stays");
  assert.ok(
    wb.context.reporter.lines.some((l) =>
      l.message === `Removed 'web' from servers.json; its data stays in ${web.instanceDir}`
    ),
  );
});
