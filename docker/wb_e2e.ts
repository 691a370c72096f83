/**
 * `deno task test:docker`: `wb` on a real Docker engine, the production path end to end
 * (issue 14). Real containers only: the engine of `DOCKER_HOST` (CI starts one) or a
 * private dockerd the suite starts (`docker/engine.ts`), the stand-in images of
 * `deno task docker:images` (Docker Hub is out of reach), the app image `wb build` makes from
 * this checkout. `wb` runs as an operator runs it, as a subprocess.
 *
 * The tests run in order and share two instances (`alpha`; `beta` with an admin service);
 * the last one stops everything and checks that nothing is left. Not part of
 * `deno task test` (the file name does not end in `_test.ts`).
 *
 * This file registers every test, in order, and holds the instances' lifecycle (start,
 * rolling restart, stop); the other bodies are in `_e2e_failures.ts` (what goes wrong) and
 * `_e2e_surface.ts` (what an operator and the network see). The shared instances and checks
 * are in `_e2e_fixture.ts`, the engine, `wb` and `docker` in `_e2e_world.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { readSecrets } from "../cli/mod.ts";
import {
  appPort,
  dbsize,
  disposeWorld,
  docker,
  dockerOk,
  engineEvents,
  facilitiesCsv,
  get,
  getWorld,
  inInstance,
  objectPaths,
  REPO,
  stopOrder,
  wb,
  wbOk,
} from "./_e2e_world.ts";
import { redisKilledUnderTraffic, servicesThatCannotStart } from "./_e2e_failures.ts";
import {
  alpha,
  beta,
  engineInventory,
  expectEvery,
  healthz,
  loggedAt,
  ports,
  timed,
  timings,
} from "./_e2e_fixture.ts";
import { nothingPublished, operatorCommands } from "./_e2e_surface.ts";
import { buildStandInImages, defaultCacheDir } from "./images.ts";

const suiteStarted = performance.now();
const options = { sanitizeOps: false, sanitizeResources: false };
const SUITE_IDS = ["alpha", "beta", "gamma"];

Deno.test({
  ...options,
  name:
    "two docker instances from an empty WB_HOME: wb run makes the subdirectories, starts Postgres, then Redis (AOF on, in {instanceDir}/redis), then the app with REDIS_URL; wb load loads the Kano data; every presentation object answers MISS then HIT",
  fn: async () => {
    const world = await timed("engine and stand-in images", getWorld);
    for (const [phase, ms] of Object.entries(world.timings)) {
      console.log(`  setup ${phase}: ${(ms / 1000).toFixed(1)} s`);
    }
    // docker:images is idempotent: the engine has every stand-in with its recipe now.
    const again = await buildStandInImages({
      repoRoot: REPO,
      cacheDir: defaultCacheDir(),
      env: world.env,
      log: () => {},
    });
    assert.deepEqual(again.map((r) => r.status), ["cached", "cached", "cached"]);

    // An empty WB_HOME with a hand-written servers.json: images set at every level (the
    // Postgres image globally, beta's Redis image on beta, the rest from the environment).
    alpha.port = appPort(ports);
    ports.push(alpha.port);
    beta.port = appPort(ports);
    ports.push(beta.port);
    assert.deepEqual([...Deno.readDirSync(world.home)], []);
    await Deno.writeTextFile(
      join(world.home, "servers.json"),
      JSON.stringify({
        images: { postgres: "wb-local/postgres:15" },
        instances: [
          { id: "alpha", port: alpha.port, runtime: "docker", serverVersion: "e2e", tags: ["e2e"] },
          {
            id: "beta",
            port: beta.port,
            runtime: "docker",
            serverVersion: "e2e",
            adminVersion: "e2e",
            tags: ["e2e"],
            images: { redis: "wb-local/redis:7" },
          },
        ],
      }),
    );
    alpha.instanceDir = join(world.home, "instances", "alpha");
    beta.instanceDir = join(world.home, "instances", "beta");
    const shown = JSON.parse((await wb("c", "show", "beta")).stdout);
    assert.deepEqual(shown.dockerImages, {
      postgres: "wb-local/postgres:15",
      redis: "wb-local/redis:7",
      app: "wb-server:e2e",
      admin: "wb-admin:e2e",
      deno: "wb-local/deno:2.9.6",
      sources: { postgres: "servers.json", redis: "instance", app: "default", deno: "environment" },
    });

    // The app image from this checkout on the stand-in Deno base, offline; the admin
    // service of beta runs the same image under its own name.
    const built = await timed("wb build", () => wbOk("build", "@all"));
    assert.match(
      built,
      /Built wb-server:e2e on wb-local\/deno:2\.9\.6 in [\d.]+ s \(for alpha, beta\)/,
    );
    await dockerOk("tag", "wb-server:e2e", "wb-admin:e2e");
    const pulled = await timed("wb pull", () => wbOk("pull", "@all"));
    for (
      const row of [
        /alpha\s+postgres\s+wb-local\/postgres:15\s+local/,
        /alpha\s+redis\s+wb-local\/redis:7\s+local/,
        /alpha\s+app\s+wb-server:e2e\s+local/,
        /beta\s+admin\s+wb-admin:e2e\s+local/,
        /beta\s+app\s+wb-server:e2e\s+local/,
      ]
    ) assert.match(pulled, row);
    assert.match(pulled, /4 image\(s\): 0 pulled, 4 local only, 0 missing/);

    const since = Date.now();
    const ran = await timed(
      "wb run @all (two instances, Postgres initdb)",
      () => wbOk("run", "@all"),
    );
    assert.match(ran, /2 instances: 2 ok/);
    for (const instance of [alpha, beta]) {
      for (const sub of ["databases", "sandbox", "exports", "assets", "redis"]) {
        assert.ok(Deno.statSync(inInstance(instance, sub)).isDirectory, `${instance.id}/${sub}`);
      }
      assert.match(ran, new RegExp(`Created missing subdirectories of '${instance.id}'`));
    }

    // Order: Postgres accepted connections (its log, after initdb on the empty volume)
    // before the Redis container started; Redis was ready before the app started.
    const events = await engineEvents(since, Date.now());
    const started = (name: string) => {
      const event = events.find((e) =>
        e.type === "container" && e.action === "start" && e.name === name
      );
      assert.ok(event, `no start event of ${name}`);
      return event.ms;
    };
    for (const instance of [alpha, beta]) {
      const { id } = instance;
      const postgresReady = await loggedAt(
        `${id}-postgres`,
        /database system is ready to accept connections/,
      );
      assert.match(
        await docker("logs", `${id}-postgres`).then((o) => `${o.stdout}${o.stderr}`),
        /PostgreSQL init process complete/,
      );
      const redisReady = await loggedAt(`${id}-redis`, /Ready to accept connections/);
      assert.ok(started(`${id}-postgres`) < postgresReady, `${id}: Postgres started, then ready`);
      assert.ok(
        postgresReady <= started(`${id}-redis`),
        `${id}: Postgres ready before Redis started`,
      );
      assert.ok(redisReady <= started(id), `${id}: Redis ready before the app started`);
      if (id === "beta") {
        assert.ok(
          started("beta-redis") < started("beta-admin") && started("beta-admin") < started("beta"),
        );
      }

      // Redis: AOF on, its files in {instanceDir}/redis on the host.
      assert.match(await wbOk("redis-cli", id, "CONFIG", "GET", "appendonly"), /appendonly\s+yes/);
      assert.match(await wbOk("redis-cli", id, "CONFIG", "GET", "appendfsync"), /everysec/);
      const mounts = JSON.parse(
        await dockerOk("inspect", "--format", "{{json .Mounts}}", `${id}-redis`),
      );
      assert.deepEqual(
        mounts.map((m: { Source: string; Destination: string }) => [m.Source, m.Destination]),
        [[inInstance(instance, "redis"), "/data"]],
      );
      const aof = [...Deno.readDirSync(inInstance(instance, "redis", "appendonlydir"))].map((e) =>
        e.name
      );
      assert.ok(aof.some((name) => name.endsWith(".manifest")), `AOF on the host: ${aof}`);

      // The app reaches <id>-redis by name on the instance network.
      const env =
        (await dockerOk("inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", id))
          .split("\n");
      const { redisPassword } = await readSecrets(instance.instanceDir);
      assert.ok(
        env.includes(`REDIS_URL=redis://:${encodeURIComponent(redisPassword)}@${id}-redis:6379`),
      );
      assert.equal((await healthz(instance)).redis, "up");
    }

    const csv = await facilitiesCsv();
    if (!csv) {
      console.warn("  the Kano CSV is not here: the loader's SYNTHETIC facility list is loaded");
    }
    await timed(
      "wb load alpha & beta (at once)",
      () =>
        Promise.all([alpha, beta].map(async (instance) => {
          const loaded = await wbOk("load", instance.id, ...(csv ? ["--facilities", csv] : []));
          const expected = csv ? new RegExp(`Loaded '${instance.id}': 1723 facilities`) : /Loaded/;
          assert.match(loaded, expected);
        })),
    );
    for (const instance of [alpha, beta]) {
      const paths = await objectPaths(instance);
      for (const path of paths) {
        const first = await get(instance, path);
        const second = await get(instance, path);
        assert.deepEqual([first.status, second.status], [200, 200], path);
        assert.deepEqual([first.xCache, second.xCache], ["MISS", "HIT"], `${instance.id} ${path}`);
        assert.equal(second.body, first.body);
      }
    }
  },
});

Deno.test({
  ...options,
  name:
    "wb restart @all rolls one instance at a time with health waits: every object HIT afterwards, Redis keys unchanged, docker events show the stop order app, admin, redis, postgres, network in restart and in stop",
  fn: async () => {
    const before = { alpha: await dbsize("alpha"), beta: await dbsize("beta") };
    // alpha's /healthz, polled while the roll goes on.
    const alphaHealthy: number[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const ok = await fetch(`http://127.0.0.1:${alpha.port}/healthz`, {
          signal: AbortSignal.timeout(1_000),
        }).then(async (r) => (await r.body?.cancel(), r.ok), () => false);
        if (ok) alphaHealthy.push(Date.now());
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const since = Date.now();
    const restarted = await timed("wb restart @all", () => wbOk("restart", "@all"));
    const until = Date.now();
    polling = false;
    await poller;
    assert.match(restarted, /2 instances: 2 ok/);
    const events = await engineEvents(since, until);
    const own = (id: string) => events.filter((e) => e.name === id || e.name.startsWith(`${id}-`));

    // One instance at a time: alpha is stopped, started and healthy before beta is touched.
    const alphaLast = Math.max(...own("alpha").map((e) => e.ms));
    const betaFirst = Math.min(...own("beta").map((e) => e.ms));
    assert.ok(alphaLast < betaFirst, "every event of alpha precedes every event of beta");
    const alphaAppStart = own("alpha").find((e) => e.action === "start" && e.name === "alpha")!.ms;
    assert.ok(
      alphaHealthy.some((t) => t > alphaAppStart && t < betaFirst),
      "alpha answered /healthz after its restart and before beta was stopped",
    );
    assert.deepEqual(stopOrder(events, "alpha"), ["app", "redis", "postgres", "network"]);
    assert.deepEqual(stopOrder(events, "beta"), ["app", "admin", "redis", "postgres", "network"]);
    // Postgres had shut down cleanly (SIGINT, a fast shutdown): no crash recovery on start.
    for (const id of ["alpha", "beta"]) {
      const out = await docker("logs", `${id}-postgres`);
      const log = `${out.stdout}${out.stderr}`;
      assert.match(log, /database system was shut down at/, id);
      assert.doesNotMatch(log, /was interrupted|automatic recovery|crash recovery/, id);
    }

    for (const instance of [alpha, beta]) {
      await expectEvery(instance, await objectPaths(instance), "HIT");
    }
    assert.deepEqual({ alpha: await dbsize("alpha"), beta: await dbsize("beta") }, before);

    // `wb stop` uses the very same order.
    const stopSince = Date.now();
    await wbOk("stop", "beta");
    const stopEvents = await engineEvents(stopSince, Date.now());
    assert.deepEqual(stopOrder(stopEvents, "beta"), [
      "app",
      "admin",
      "redis",
      "postgres",
      "network",
    ]);
    await wbOk("run", "beta");
    await expectEvery(beta, await objectPaths(beta), "HIT");
    assert.equal(await dbsize("beta"), before.beta);
  },
});

Deno.test({
  ...options,
  name:
    "docker kill <id>-redis under traffic: no 5xx, BYPASS; wb status shows Redis down; wb restart brings it back with every key older than 1 s",
  fn: redisKilledUnderTraffic,
});

Deno.test({
  ...options,
  name:
    "a Redis that cannot start (bad image, unusable volume) leaves the app running uncached with a warning; a Postgres that cannot start fails the start and removes exactly what the start created",
  fn: servicesThatCannotStart,
});

Deno.test({
  ...options,
  name:
    "wb flush-cache, wb redis-cli, wb logs <id> redis|postgres|app|admin and wb user add work against containers; the login link opens the built web client",
  fn: operatorCommands,
});

Deno.test({
  ...options,
  name:
    "nothing is published beyond what the docs say: Postgres and Redis only on the instance network, the app port on loopback (checked from the host)",
  fn: nothingPublished,
});

Deno.test({
  ...options,
  name:
    "wb stop @all stops in the same order; the suite leaves no container, network or volume behind",
  fn: async () => {
    try {
      const since = Date.now();
      await timed("wb stop @all", () => wbOk("stop", "@all"));
      const events = await engineEvents(since, Date.now());
      assert.deepEqual(stopOrder(events, "alpha"), ["app", "redis", "postgres", "network"]);
      assert.deepEqual(stopOrder(events, "beta"), ["app", "admin", "redis", "postgres", "network"]);
      // wb keeps stopped containers (their logs) until the next start replaces them; the
      // suite removes its own.
      for (const id of SUITE_IDS) {
        const names = (await dockerOk(
          "ps",
          "-a",
          "--filter",
          `label=dev.wb.instance=${id}`,
          "--format",
          "{{.Names}}",
        ))
          .split("\n").filter(Boolean);
        for (const name of names) {
          const state = (await dockerOk("inspect", "--format", "{{.State.Status}}", name)).trim();
          assert.notEqual(state, "running", `${name} was stopped`);
        }
        if (names.length > 0) await dockerOk("rm", ...names);
      }
      const left = await engineInventory();
      assert.deepEqual(left.containers, []);
      assert.deepEqual(left.networks.filter((n) => !["bridge", "host", "none"].includes(n)), []);
      assert.deepEqual(left.volumes, []);
    } finally {
      await disposeWorld();
      const totalS = (performance.now() - suiteStarted) / 1000;
      console.log("  timings:");
      for (const [label, ms] of timings) console.log(`    ${label}: ${(ms / 1000).toFixed(1)} s`);
      console.log(`  the whole suite: ${totalS.toFixed(1)} s`);
    }
  },
});
