import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { tempWb } from "./_test_helpers.ts";
import type { Instance } from "./instance_schema.ts";
import { ReadinessTimeoutError, StartFailedError } from "./errors.ts";
import { readSecrets } from "./secrets.ts";
import { createClient } from "redis";
import { runtimeFor } from "./instances.ts";
import { restartTargets, runTargets, statusTargets, stopTargets } from "./lifecycle_targets.ts";
import { initInstance } from "./init_instance.ts";
import { flushCache } from "./ops.ts";
import { nativePaths } from "./native_plan.ts";
import { freePort, isAlive, probeHttp, readPidFile } from "./process.ts";

const FAKE_APP = [
  Deno.execPath(),
  "run",
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  new URL("./testdata/fake_app.ts", import.meta.url).pathname,
];

/** redis-cli against a native instance's Unix socket, logged in with its password (if any). */
async function redisCli(
  instance: Instance,
  password: string | undefined,
  ...args: string[]
): Promise<string> {
  const out = await new Deno.Command("redis-cli", {
    args: ["-s", nativePaths(instance.instanceDir).redisSocket, ...args],
    env: password === undefined ? {} : { REDISCLI_AUTH: password },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

/** psql on a native instance's Postgres socket; the password through PGPASSWORD. */
async function psql(instance: Instance, password: string | undefined, sql: string) {
  const paths = await pgPaths(instance);
  const out = await new Deno.Command("psql", {
    args: [
      "-h",
      paths.pgSocketDir,
      "-p",
      String(instance.postgresPort),
      "-U",
      "postgres",
      "-w",
      "-d",
      "wb",
      "-tAc",
      sql,
    ],
    env: password === undefined ? {} : { PGPASSWORD: password },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.code === 0 ? out.stdout : out.stderr).trim();
  return out.code === 0 ? text : `error: ${text}`;
}

/** The paths of an instance, following `databases/pg` when it links elsewhere. */
async function pgPaths(instance: Instance) {
  const link = join(instance.instanceDir, "databases", "pg");
  const info = await Deno.lstat(link).catch(() => undefined);
  return info?.isSymlink
    ? nativePaths(instance.instanceDir, dirname(await Deno.readLink(link)))
    : nativePaths(instance.instanceDir);
}

/** Pids of Postgres, Redis and the app as recorded in their pid files. */
async function pidsOf(instance: Instance): Promise<number[]> {
  const paths = await pgPaths(instance);
  const files = [join(paths.pgDataDir, "postmaster.pid"), paths.redisPidFile, paths.appPidFile];
  const pids = await Promise.all(files.map(readPidFile));
  return pids.filter((p): p is number => p !== undefined);
}

/** Ports handed out to this file's instances (distinct even when the kernel reuses one). */
const portsTaken = new Set<number>();

async function nativeInstance(wb: Awaited<ReturnType<typeof tempWb>>, id = "n1") {
  return await initInstance(wb.context, id, {
    port: freePort(portsTaken),
    postgresPort: freePort(portsTaken),
    redisPort: freePort(portsTaken),
  });
}

Deno.test({
  name:
    "native run/restart/stop: real Postgres, Redis (AOF) and app; keys survive a restart; no process left",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using wb = await tempWb({ appCommand: FAKE_APP, healthTimeoutMs: 20_000 });
    const instance = await nativeInstance(wb);
    const { redisPassword } = await readSecrets(instance.instanceDir);
    const cli = (...args: string[]) => redisCli(instance, redisPassword, ...args);
    let pids: number[] = [];
    try {
      await runTargets(wb.context, ["n1"]);
      pids = await pidsOf(instance);
      assert.equal(pids.length, 3, "Postgres, Redis and the app each have a live pid");
      const app = `http://127.0.0.1:${instance.port}`;
      assert.equal((await fetch(`${app}/healthz`).then((r) => r.json())).instance, "n1");
      assert.deepEqual(await fetch(`${app}/kv?key=through-app&value=1`).then((r) => r.json()), {
        key: "through-app",
        value: "1",
      });
      for (let i = 0; i < 50; i++) await cli("SET", `k${i}`, `v${i}`);
      assert.equal(await cli("DBSIZE"), "51");
      const { postgresPassword } = await readSecrets(instance.instanceDir);
      assert.equal(
        await psql(instance, postgresPassword, "select 42"),
        "42",
        "database wb exists and answers on its Unix socket with the password",
      );

      const started = performance.now();
      await restartTargets(wb.context, ["n1"]);
      const restartMs = performance.now() - started;
      console.log(`native restart took ${restartMs.toFixed(0)} ms`);
      for (const pid of pids) {
        assert.equal(await isAlive(pid), false, `old pid ${pid} is gone after restart`);
      }
      pids = await pidsOf(instance);
      assert.equal(pids.length, 3);

      assert.equal(await cli("DBSIZE"), "51", "keys survive the restart (AOF)");
      assert.equal(await cli("GET", "k49"), "v49");
      assert.equal((await fetch(`${app}/kv?key=through-app`).then((r) => r.json())).value, "1");
      assert.equal((await fetch(`${app}/healthz`)).status, 200);

      const [status] = await statusTargets(wb.context, ["n1"]);
      assert.deepEqual(status.services.map((s) => [s.service, s.running]), [
        ["network", true],
        ["postgres", true],
        ["redis", true],
        ["app", true],
      ]);
      assert.equal(status.health.ok, true);
      assert.equal(status.redisKeys, 51);

      await runTargets(wb.context, ["n1"]); // idempotent: everything is already running
      assert.deepEqual(await pidsOf(instance), pids, "a second run starts nothing new");
    } finally {
      await stopTargets(wb.context, ["n1"]);
    }
    for (const pid of pids) {
      assert.equal(await isAlive(pid), false, `pid ${pid} is gone after stop`);
    }
    assert.deepEqual(await pidsOf(instance), [], "no pid files left");
    const [status] = await statusTargets(wb.context, ["n1"]);
    assert.ok(status.services.filter((s) => s.service !== "network").every((s) => !s.running));
    assert.equal(status.health.ok, false);
  },
});

Deno.test({
  name:
    "native run ignores a stale app pid file; an app that never gets healthy fails with its log tail and is rolled back",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const broken = [
      Deno.execPath(),
      "eval",
      "console.log('booting'); console.error('boom: no healthz here'); await new Promise((r) => setTimeout(r, 60000))",
    ];
    await using wb = await tempWb({ appCommand: broken, healthTimeoutMs: 1_500 });
    const instance = await nativeInstance(wb, "n2");
    const paths = nativePaths(instance.instanceDir);
    await Deno.writeTextFile(paths.appPidFile, "999999\n"); // stale: no such process
    try {
      await assert.rejects(runTargets(wb.context, ["n2"]), (error) => {
        assert.ok(error instanceof StartFailedError);
        assert.ok(error.cause instanceof ReadinessTimeoutError);
        assert.match(error.message, /Rolled back 'n2': stopped redis, stopped postgres\.$/);
        assert.match(
          error.message,
          /did not answer http:\/\/127\.0\.0\.1:\d+\/healthz with 200 within 1\.5 s/,
        );
        assert.match(
          error.message,
          /boom: no healthz here/,
          "the message carries the app log tail",
        );
        return true;
      });
      assert.equal(await readPidFile(paths.appPidFile), undefined, "the unhealthy app was stopped");
      const [status] = await statusTargets(wb.context, ["n2"]);
      assert.deepEqual(
        status.services.filter((s) => s.running).map((s) => s.service),
        ["network"],
        "the rollback stopped Redis and Postgres",
      );
    } finally {
      await stopTargets(wb.context, ["n2"]);
    }
    assert.deepEqual(await pidsOf(instance), []);
  },
});

Deno.test({
  name: "native run as root keeps Postgres files where the postgres user can reach them",
  ignore: Deno.uid() !== 0,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const fallback = await Deno.makeTempDir({ prefix: "wb-pg-fallback-" });
    await Deno.chmod(fallback, 0o755);
    await using wb = await tempWb({ appCommand: FAKE_APP, postgresFallbackRoot: fallback });
    await Deno.chmod(wb.home, 0o700); // like /root: the postgres user cannot enter
    const instance = await nativeInstance(wb, "n3");
    try {
      await runTargets(wb.context, ["n3"]);
      const link = join(instance.instanceDir, "databases", "pg");
      assert.ok((await Deno.lstat(link)).isSymlink);
      assert.ok((await Deno.readLink(link)).startsWith(fallback));
      assert.ok((await Deno.stat(join(link, "PG_VERSION"))).isFile);
      assert.match(wb.context.reporter.lines.map((l) => l.message).join("\n"), /cannot reach/);
    } finally {
      await stopTargets(wb.context, ["n3"]);
      await Deno.remove(fallback, { recursive: true });
    }
  },
});

/** Polls every instance's /healthz until stopped; records the most found down at once. */
function healthWatcher(instances: readonly Instance[]) {
  let running = true;
  let maxDown = 0;
  let rounds = 0;
  const downSeen = new Set<string>();
  const loop = (async () => {
    while (running) {
      const probes = await Promise.all(
        instances.map((i) => probeHttp(`http://127.0.0.1:${i.port}/healthz`, 5_000)),
      );
      const down = instances.filter((_, k) => !probes[k].ok).map((i) => i.id);
      down.forEach((id) => downSeen.add(id));
      maxDown = Math.max(maxDown, down.length);
      rounds++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { maxDown, rounds, downSeen: [...downSeen].sort() };
    },
  };
}

Deno.test({
  name:
    "wb restart @all (native) rolls through three instances: cached keys survive, /healthz green between steps, never two down",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using wb = await tempWb({ appCommand: FAKE_APP, healthTimeoutMs: 20_000 });
    const instances = [
      await nativeInstance(wb, "r1"),
      await nativeInstance(wb, "r2"),
      await nativeInstance(wb, "r3"),
    ];
    const ports = instances.flatMap((i) => [i.port, i.postgresPort!, i.redisPort!]);
    assert.equal(new Set(ports).size, 9, "distinct ports");
    const passwords = new Map<string, string>();
    try {
      await runTargets(wb.context, ["@all"], { parallel: 3 });
      for (const instance of instances) {
        const { redisPassword } = await readSecrets(instance.instanceDir);
        passwords.set(instance.id, redisPassword);
        const pairs = Array.from(
          { length: 100 },
          (_, k) => [`cache:t:${k}`, `${instance.id}-${k}`],
        );
        assert.equal(await redisCli(instance, redisPassword, "MSET", ...pairs.flat()), "OK");
      }
      const keysOf = (i: Instance) => redisCli(i, passwords.get(i.id), "DBSIZE");

      const watcher = healthWatcher(instances);
      const between: string[] = [];
      const started = performance.now();
      const results = await restartTargets(wb.context, ["@all"], {
        onResult: async (result) => {
          for (const instance of instances) {
            const health = await probeHttp(`http://127.0.0.1:${instance.port}/healthz`);
            assert.equal(health.ok, true, `${instance.id} is green after ${result.id} restarted`);
            assert.equal((health.body as { redis: string }).redis, "up");
            assert.equal(await keysOf(instance), "100", `${instance.id} keeps its keys`);
          }
          between.push(result.id);
        },
      });
      const totalMs = performance.now() - started;
      const seen = await watcher.stop();
      console.log(
        `native rolling restart @all of 3: ${
          results.map((r) => `${r.id} ${(r.ms / 1000).toFixed(2)} s`).join(", ")
        }; total ${
          (totalMs / 1000).toFixed(2)
        } s; health polled ${seen.rounds} rounds, down at once at most ${seen.maxDown}`,
      );
      assert.deepEqual(between, ["r1", "r2", "r3"], "checked after each instance, in order");
      assert.deepEqual(results.map((r) => r.outcome), ["ok", "ok", "ok"]);
      assert.ok(seen.maxDown <= 1, `at most one instance down at a time (saw ${seen.maxDown})`);
      assert.deepEqual(seen.downSeen, ["r1", "r2", "r3"], "the watcher saw each one restart");
      for (const instance of instances) {
        assert.equal(
          await redisCli(instance, passwords.get(instance.id), "GET", "cache:t:99"),
          `${instance.id}-99`,
        );
      }
      const statuses = await statusTargets(wb.context, ["@all"]);
      assert.deepEqual(statuses.map((s) => [s.id, s.lastStart?.action, s.redisKeys]), [
        ["r1", "restart", 100],
        ["r2", "restart", 100],
        ["r3", "restart", 100],
      ]);
    } finally {
      await stopTargets(wb.context, ["@all"], { parallel: 3 });
    }
  },
});

Deno.test({
  name:
    "kill -9 of an instance's Redis, then wb run: every key written more than 1 s before the kill is there (AOF everysec)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using wb = await tempWb({ appCommand: FAKE_APP, healthTimeoutMs: 20_000 });
    const instance = await nativeInstance(wb, "k1");
    try {
      await runTargets(wb.context, ["k1"]);
      const { redisPassword } = await readSecrets(instance.instanceDir);
      const path = nativePaths(instance.instanceDir).redisSocket;
      const client = createClient({
        password: redisPassword,
        socket: { path, tls: false, reconnectStrategy: false },
      });
      client.on("error", () => {});
      await client.connect();
      const ackedAt = new Map<string, number>();
      const write = async (keys: string[]) => {
        await Promise.all(
          keys.map((key) => client.set(key, "x").then(() => ackedAt.set(key, performance.now()))),
        );
      };
      await write(Array.from({ length: 2000 }, (_, k) => `old:${k}`));
      await new Promise((r) => setTimeout(r, 1_200));
      const burstStarted = performance.now();
      for (let batch = 0; performance.now() - burstStarted < 300; batch++) {
        await write(Array.from({ length: 100 }, (_, k) => `recent:${batch}:${k}`));
      }
      const pid = (await readPidFile(nativePaths(instance.instanceDir).redisPidFile))!;
      Deno.kill(pid, "SIGKILL");
      const killedAt = performance.now();
      await client.destroy();
      while (await isAlive(pid)) await new Promise((r) => setTimeout(r, 10));

      await runTargets(wb.context, ["k1"]);
      const after = createClient({ password: redisPassword, socket: { path, tls: false } });
      after.on("error", () => {});
      await after.connect();
      const older = [...ackedAt].filter(([, at]) => at < killedAt - 1_000).map(([k]) => k);
      const newer = [...ackedAt].filter(([, at]) => at >= killedAt - 1_000).map(([k]) => k);
      const present = async (keys: string[]) =>
        keys.length === 0 ? 0 : (await after.mGet(keys)).filter((v) => v !== null).length;
      const olderPresent = await present(older);
      const newerPresent = await present(newer);
      await after.destroy();
      console.log(
        `AOF kill -9: keys written >1 s before the kill: ${olderPresent}/${older.length} present; ` +
          `written in the last second: ${newerPresent}/${newer.length} present`,
      );
      assert.equal(older.length, 2000);
      assert.equal(olderPresent, older.length, "every key older than 1 s survived");
    } finally {
      await stopTargets(wb.context, ["k1"]);
    }
  },
});

Deno.test({
  name:
    "native Redis of an instance refuses a connection without its password, listens on its Unix socket only, keeps the password off argv; flush-cache via the app or FLUSHDB",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using wb = await tempWb({ appCommand: FAKE_APP, healthTimeoutMs: 20_000 });
    const instance = await initInstance(wb.context, "p1", {
      port: freePort(),
      postgresPort: freePort(),
      redisPort: freePort(),
      redisMaxmemory: "64mb",
    });
    // An instance made before Redis passwords existed: secrets.json without one.
    const secretsPath = join(instance.instanceDir, "secrets.json");
    const { redisPassword: _, ...old } = JSON.parse(await Deno.readTextFile(secretsPath));
    await Deno.writeTextFile(secretsPath, JSON.stringify(old));
    try {
      await runTargets(wb.context, ["p1"]);
      const { redisPassword } = await readSecrets(instance.instanceDir);
      assert.match(redisPassword, /^[A-Za-z0-9_-]{43}$/, "generated on first need");
      assert.equal((await Deno.stat(secretsPath)).mode! & 0o777, 0o600);
      const paths = nativePaths(instance.instanceDir);
      assert.equal((await Deno.stat(paths.redisConf)).mode! & 0o777, 0o600);

      assert.equal(await redisCli(instance, undefined, "PING"), "NOAUTH Authentication required.");
      assert.match(await redisCli(instance, "wrong", "PING"), /NOAUTH|WRONGPASS/);
      assert.equal(await redisCli(instance, redisPassword, "PING"), "PONG");
      assert.equal(await redisCli(instance, redisPassword, "CONFIG", "GET", "port"), "port\n0");
      assert.equal(
        await redisCli(instance, redisPassword, "CONFIG", "GET", "unixsocketperm"),
        "unixsocketperm\n700",
      );
      for (const port of [instance.redisPort!, instance.postgresPort!]) {
        await assert.rejects(
          Deno.connect({ hostname: "127.0.0.1", port }),
          `nothing listens on TCP ${port}`,
        );
      }
      const pid = (await readPidFile(paths.redisPidFile))!;
      const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
      assert.ok(!cmdline.includes(redisPassword), `the password is not on argv: ${cmdline}`);
      const app = `http://127.0.0.1:${instance.port}`;
      assert.equal((await fetch(`${app}/healthz`).then((r) => r.json())).redis, "up");

      const [status] = await statusTargets(wb.context, ["p1"]);
      assert.equal(status.app?.version, "fake-1.0");
      assert.equal(status.redis?.aofEnabled, true);
      assert.equal(status.redis?.aofLastWriteStatus, "ok");
      assert.equal(status.redis?.maxmemoryBytes, 64 * 1024 * 1024);
      assert.equal(status.redis?.maxmemoryPolicy, "allkeys-lru");
      assert.equal(status.lastStart?.action, "run");

      await fetch(`${app}/kv?key=a&value=1`).then((r) => r.body?.cancel());
      assert.equal(await redisCli(instance, redisPassword, "DBSIZE"), "1");
      const viaApp = await flushCache(wb.context, "p1");
      assert.equal(viaApp.via, "app");
      assert.match(viaApp.message, /through the app \(POST \/caches\/flush-all\)/);
      assert.equal(await redisCli(instance, redisPassword, "DBSIZE"), "0");

      await runtimeFor(wb.context, instance).stop(instance, "app");
      await redisCli(instance, redisPassword, "SET", "b", "2");
      const direct = await flushCache(wb.context, "p1");
      assert.equal(direct.via, "redis");
      assert.match(direct.message, /not running; flushed its Redis directly \(FLUSHDB\)/);
      assert.equal(await redisCli(instance, redisPassword, "DBSIZE"), "0");
    } finally {
      await stopTargets(wb.context, ["p1"]);
    }
  },
});
