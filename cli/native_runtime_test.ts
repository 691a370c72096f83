import assert from "node:assert/strict";
import { join } from "node:path";
import { tempWb } from "./_test_helpers.ts";
import type { Instance } from "./config.ts";
import { ReadinessTimeoutError } from "./errors.ts";
import {
  initInstance,
  restartTargets,
  runTargets,
  statusTargets,
  stopTargets,
} from "./instances.ts";
import { nativePaths } from "./native_plan.ts";
import { freePort, isAlive, readPidFile } from "./process.ts";

const FAKE_APP = [
  Deno.execPath(),
  "run",
  "--allow-net",
  "--allow-env",
  new URL("./testdata/fake_app.ts", import.meta.url).pathname,
];

async function redisCli(port: number, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("redis-cli", {
    args: ["-h", "127.0.0.1", "-p", String(port), ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

/** Pids of Postgres, Redis and the app as recorded in their pid files. */
async function pidsOf(instance: Instance): Promise<number[]> {
  const paths = nativePaths(instance.instanceDir);
  const files = [join(paths.pgDataDir, "postmaster.pid"), paths.redisPidFile, paths.appPidFile];
  const pids = await Promise.all(files.map(readPidFile));
  return pids.filter((p): p is number => p !== undefined);
}

async function nativeInstance(wb: Awaited<ReturnType<typeof tempWb>>, id = "n1") {
  return await initInstance(wb.context, id, {
    port: freePort(),
    postgresPort: freePort(),
    redisPort: freePort(),
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
      for (let i = 0; i < 50; i++) await redisCli(instance.redisPort!, "SET", `k${i}`, `v${i}`);
      assert.equal(await redisCli(instance.redisPort!, "DBSIZE"), "51");
      assert.equal(
        await new Deno.Command("psql", {
          args: [
            "-h",
            "127.0.0.1",
            "-p",
            String(instance.postgresPort),
            "-U",
            "postgres",
            "-d",
            "wb",
            "-tAc",
            "select 42",
          ],
          stdout: "piped",
        }).output().then((o) => new TextDecoder().decode(o.stdout).trim()),
        "42",
        "database wb exists and answers over TCP",
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

      assert.equal(
        await redisCli(instance.redisPort!, "DBSIZE"),
        "51",
        "keys survive the restart (AOF)",
      );
      assert.equal(await redisCli(instance.redisPort!, "GET", "k49"), "v49");
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
    "native run ignores a stale app pid file and fails with the log tail when the app never gets healthy",
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
        assert.ok(error instanceof ReadinessTimeoutError);
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
      assert.equal(status.services.find((s) => s.service === "postgres")!.running, true);
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
