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
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { readSecrets } from "../cli/mod.ts";
import {
  type Answer,
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
  redisKeys,
  REPO,
  stopOrder,
  type TestInstance,
  wb,
  wbOk,
} from "./_e2e_world.ts";
import { buildStandInImages, defaultCacheDir } from "./images.ts";

const suiteStarted = performance.now();
const options = { sanitizeOps: false, sanitizeResources: false };
const ports: number[] = [];
const alpha: TestInstance = { id: "alpha", port: 0, instanceDir: "" };
const beta: TestInstance = { id: "beta", port: 0, instanceDir: "" };
const SUITE_IDS = ["alpha", "beta", "gamma"];
const timings: [string, number][] = [];

/** Runs `work` and records how long it took under `label`. */
async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    timings.push([label, performance.now() - started]);
  }
}

/** Every object answers `expected` (each path once, in order). */
async function expectEvery(instance: TestInstance, paths: string[], expected: string) {
  for (const path of paths) {
    const answer = await get(instance, path);
    assert.equal(answer.status, 200, `${instance.id} ${path}: ${answer.body.slice(0, 200)}`);
    assert.equal(answer.xCache, expected, `${instance.id} ${path}`);
  }
}

/** `/healthz` of an instance, parsed. */
async function healthz(instance: TestInstance): Promise<Record<string, unknown>> {
  const response = await fetch(`http://127.0.0.1:${instance.port}/healthz`, {
    signal: AbortSignal.timeout(5_000),
  });
  assert.equal(response.status, 200);
  return await response.json();
}

/** Names of every container, network and volume of the engine. */
async function engineInventory(): Promise<
  { containers: string[]; networks: string[]; volumes: string[] }
> {
  const lines = (s: string) => s.split("\n").map((l) => l.trim()).filter(Boolean).sort();
  return {
    containers: lines(await dockerOk("ps", "-a", "--format", "{{.Names}}")),
    networks: lines(await dockerOk("network", "ls", "--format", "{{.Name}}")),
    volumes: lines(await dockerOk("volume", "ls", "-q")),
  };
}

/** When a container logged a line matching `pattern` for the last time (ms since the epoch). */
async function loggedAt(container: string, pattern: RegExp): Promise<number> {
  const out = await docker("logs", "--timestamps", container);
  const line = `${out.stdout}\n${out.stderr}`.split("\n").filter((l) => pattern.test(l)).pop();
  assert.ok(line, `${container} never logged ${pattern}`);
  return Date.parse(line.split(" ")[0]);
}

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
  fn: async () => {
    const paths = await objectPaths(alpha);
    const keys = await redisKeys("alpha");
    assert.ok(keys.filter((k) => k.startsWith("cache:")).length >= paths.length, keys.join(" "));
    // Every key is now older than 1 s: AOF everysec has written them.
    await new Promise((r) => setTimeout(r, 1_100));

    const answers: (Answer & { startedMs: number; endedMs: number; path: string })[] = [];
    let killing = Infinity;
    let killedAt = Infinity;
    const targets = paths;
    let running = true;
    // Never two requests for one object at once (its detail and its items share the
    // detail's cache): a request that joins another's computation answers HIT (it
    // computed nothing), whatever that computation was.
    const inFlight = new Set<string>();
    const objectOf = (path: string) => path.replace(/\/items$/, "");
    let cursor = 0;
    const next = () => {
      for (let tries = 0; tries < targets.length; tries++) {
        const path = targets[cursor++ % targets.length];
        if (!inFlight.has(objectOf(path))) return path;
      }
      return undefined;
    };
    const worker = async () => {
      while (running) {
        const path = next();
        if (path === undefined) {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        inFlight.add(objectOf(path));
        const startedMs = Date.now();
        const answer = await get(alpha, path).catch((error) => ({
          status: 0,
          xCache: null,
          body: String(error),
        }));
        inFlight.delete(objectOf(path));
        answers.push({ ...answer, startedMs, endedMs: Date.now(), path });
      }
    };
    const traffic = [0, 1, 2, 3].map(() => worker());
    await new Promise((r) => setTimeout(r, 500));
    killing = Date.now();
    await dockerOk("kill", "alpha-redis");
    killedAt = Date.now();
    // Traffic goes on until every object was asked for after the kill (at most a minute).
    const deadline = Date.now() + 60_000;
    while (
      new Set(answers.filter((a) => a.startedMs > killedAt).map((a) => a.path)).size <
        paths.length && Date.now() < deadline
    ) await new Promise((r) => setTimeout(r, 100));
    running = false;
    await Promise.all(traffic);

    const failed = answers.filter((a) => a.status !== 200);
    assert.deepEqual(
      failed.map((a) => `${a.status} ${a.body.slice(0, 100)}`),
      [],
      "no 5xx, no error",
    );
    const before = answers.filter((a) => a.endedMs < killing);
    assert.ok(before.length > 0, "traffic before the kill");
    assert.deepEqual([...new Set(before.map((a) => a.xCache))], ["HIT"], "HIT before the kill");
    const after = answers.filter((a) => a.startedMs > killedAt);
    assert.deepEqual(new Set(after.map((a) => a.path)), new Set(paths), "every object after it");
    assert.deepEqual(
      after.filter((a) => a.xCache !== "BYPASS").map((a) =>
        `${a.startedMs - killedAt} ms after the kill: ${a.xCache} ${a.path}`
      ),
      [],
      "BYPASS after the kill",
    );
    console.log(
      `  ${answers.length} requests, all 200: ${before.length} HIT before the kill, ${after.length} BYPASS after it`,
    );

    const [status] = JSON.parse((await wb("status", "alpha", "--json")).stdout);
    const redis = status.services.find((s: { service: string }) => s.service === "redis");
    assert.equal(redis.state, "exited");
    assert.equal(redis.running, false);
    assert.equal(status.app.redis, "down");
    assert.equal(status.redis, undefined, "no INFO from a Redis that is down");
    const human = await wb("status", "alpha");
    assert.equal(human.code, 1, "wb status exits 1 for a degraded instance (Redis down)");
    assert.match(
      human.stdout,
      /^alpha\s+degraded\s+docker\s+running\s+exited\s+running\s+ok \d+ ms, redis down/m,
    );
    assert.match(human.stdout, /alpha: redis is exited/);

    await timed("wb restart alpha", () => wbOk("restart", "alpha"));
    const back = new Set(await redisKeys("alpha"));
    assert.deepEqual(keys.filter((k) => !back.has(k)), [], "every key older than 1 s is back");
    await expectEvery(alpha, paths, "HIT");
  },
});

Deno.test({
  ...options,
  name:
    "a Redis that cannot start (bad image, unusable volume) leaves the app running uncached with a warning; a Postgres that cannot start fails the start and removes exactly what the start created",
  fn: async () => {
    const paths = await objectPaths(alpha);

    // A Redis image that does not exist.
    await wbOk("c", "update", "alpha", "--redis-image", "wb-local/no-such-redis:1");
    const badImage = await wb("restart", "alpha");
    assert.equal(badImage.code, 0, badImage.stderr);
    assert.match(
      badImage.stderr,
      /warning: Start Redis \(alpha-redis\) failed; continuing\. The app starts anyway and runs uncached until Redis is back\./,
    );
    assert.match(badImage.stderr, /wb-local\/no-such-redis:1/);
    assert.match(badImage.stdout, /alpha\s+restart\s+ok, warned/);
    assert.equal((await healthz(alpha)).redis, "down");
    await expectEvery(alpha, paths, "BYPASS");
    const [status] = JSON.parse((await wb("status", "alpha", "--json")).stdout);
    const redis = status.services.find((s: { service: string }) => s.service === "redis");
    assert.equal(redis.state, "absent");
    assert.equal(redis.configuredImage, "wb-local/no-such-redis:1");
    await wbOk("c", "update", "alpha", "--redis-image", "default");
    await wbOk("restart", "alpha");
    await expectEvery(alpha, paths, "HIT");

    // A Redis directory that is not a directory: nothing can be mounted or written there.
    const redisDir = inInstance(alpha, "redis");
    await Deno.rename(redisDir, `${redisDir}.aside`);
    await Deno.writeTextFile(redisDir, "not a directory\n");
    try {
      const badVolume = await wb("restart", "alpha");
      assert.equal(badVolume.code, 0, badVolume.stderr);
      assert.match(
        badVolume.stderr,
        /warning: Cannot write .*alpha\/redis\/redis\.conf: .*Redis of 'alpha' is not started/,
      );
      assert.equal((await healthz(alpha)).redis, "down");
      await expectEvery(alpha, paths, "BYPASS");
    } finally {
      await Deno.remove(redisDir);
      await Deno.rename(`${redisDir}.aside`, redisDir);
    }
    await wbOk("restart", "alpha");
    await expectEvery(alpha, paths, "HIT");

    // A Postgres that stops at once (a data directory of another major version): the start
    // fails with Postgres' own words and removes what it created, the container and the
    // network; the engine is as it was.
    const gamma: TestInstance = { id: "gamma", port: appPort(ports), instanceDir: "" };
    ports.push(gamma.port);
    await wbOk(
      "c",
      "add",
      "gamma",
      "--runtime",
      "docker",
      "--port",
      String(gamma.port),
      "--server-version",
      "e2e",
    );
    gamma.instanceDir = join((await getWorld()).home, "instances", "gamma");
    await Deno.writeTextFile(inInstance(gamma, "databases", "PG_VERSION"), "99\n");
    const before = await engineInventory();
    const corrupt = await wb("run", "gamma");
    assert.equal(corrupt.code, 1);
    // "it stopped": the wait ended when the container exited, not after its 60 s.
    assert.match(corrupt.stderr, /Postgres of 'gamma' did not accept connections: it stopped\./);
    assert.match(
      corrupt.stderr,
      /Last log lines:[\s\S]*postgres: could not access the server configuration file/,
    );
    assert.match(
      corrupt.stderr,
      /Rolled back 'gamma': removed container gamma-postgres, removed network gamma\./,
    );
    assert.deepEqual(await engineInventory(), before, "exactly what the start created is gone");

    // A Postgres image that does not exist, with gamma's network already there (left from
    // elsewhere): the start fails and that network, which it did not create, stays.
    await Deno.remove(inInstance(gamma, "databases", "PG_VERSION"));
    await wbOk("c", "update", "gamma", "--postgres-image", "wb-local/no-such-postgres:1");
    await dockerOk("network", "create", "--label", "dev.wb.instance=gamma", "gamma");
    const withNetwork = await engineInventory();
    const badPostgres = await wb("run", "gamma");
    assert.equal(badPostgres.code, 1);
    assert.match(
      badPostgres.stderr,
      /docker run -d --name gamma-postgres .* wb-local\/no-such-postgres:1/,
    );
    assert.match(badPostgres.stderr, /Rolled back 'gamma': nothing was left to remove\./);
    assert.deepEqual(await engineInventory(), withNetwork);
    await dockerOk("network", "rm", "gamma");
    await wbOk("c", "remove", "gamma");
    // The other instances never noticed.
    assert.equal((await healthz(beta)).redis, "up");
  },
});

Deno.test({
  ...options,
  name:
    "wb flush-cache, wb redis-cli, wb logs <id> redis|postgres|app|admin and wb user add work against containers; the login link opens the built web client",
  fn: async () => {
    assert.match(await wbOk("redis-cli", "alpha", "PING"), /PONG/);
    assert.match(
      await wbOk("redis-cli", "alpha", "CONFIG", "GET", "maxmemory-policy"),
      /allkeys-lru/,
    );

    const logs: [string, RegExp][] = [
      ["redis", /Ready to accept connections/],
      ["postgres", /database system is ready to accept connections/],
      ["app", /\S/],
    ];
    for (const [service, pattern] of logs) {
      const out = await wb("logs", "alpha", service, "-n", "50");
      assert.equal(out.code, 0, out.stderr);
      assert.match(`${out.stdout}${out.stderr}`, pattern, `wb logs alpha ${service}`);
    }
    const admin = await wb("logs", "beta", "admin", "-n", "5");
    assert.equal(admin.code, 0, admin.stderr);

    // Through the app while it runs: its caches and its Redis are emptied.
    assert.ok(await dbsize("beta") > 0);
    assert.match(await wbOk("flush-cache", "beta"), /Flushed the caches of 'beta' through the app/);
    assert.deepEqual((await redisKeys("beta")).filter((k) => k.startsWith("cache:")), []);
    const paths = await objectPaths(beta);
    assert.equal((await get(beta, paths[0])).xCache, "MISS");

    const added = await wbOk("user", "add", "alpha", "ada@example.org", "--admin");
    const link = added.match(/http:\/\/127\.0\.0\.1:\d+\/login\?token=\S+/)?.[0];
    assert.ok(link, added);
    assert.ok(link.startsWith(`http://127.0.0.1:${alpha.port}/`));
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
    });
    try {
      const page = await browser.newPage();
      await page.goto(link);
      await page.click("#login");
      await page.waitForSelector("#who");
      assert.equal(await page.textContent("#who"), "ada@example.org · administrator");
      await page.click('a[data-po-id="po_anc_by_lga"]');
      await page.waitForSelector(".po-view .chart[data-rendered] canvas", { timeout: 30_000 });
    } finally {
      await browser.close();
    }
  },
});

Deno.test({
  ...options,
  name:
    "nothing is published beyond what the docs say: Postgres and Redis only on the instance network, the app port on loopback (checked from the host)",
  fn: async () => {
    const hostAddresses = Deno.networkInterfaces()
      .filter((i) => i.family === "IPv4" && !i.address.startsWith("127."))
      .map((i) => i.address);
    for (const instance of [alpha, beta]) {
      const { id } = instance;
      for (const service of ["postgres", "redis", ...(id === "beta" ? ["admin"] : [])]) {
        const name = `${id}-${service}`;
        assert.equal(
          await dockerOk("inspect", "--format", "{{json .HostConfig.PortBindings}}", name),
          "{}\n",
          name,
        );
        assert.equal((await dockerOk("port", name)).trim(), "", `${name} publishes nothing`);
      }
      const bindings = JSON.parse(
        await dockerOk("inspect", "--format", "{{json .HostConfig.PortBindings}}", id),
      );
      assert.deepEqual(bindings, {
        "8000/tcp": [{ HostIp: "127.0.0.1", HostPort: String(instance.port) }],
      });
      for (const address of hostAddresses) {
        const refused = await Deno.connect({ hostname: address, port: instance.port }).then(
          (conn) => (conn.close(), false),
          () => true,
        );
        assert.ok(refused, `${id}'s app port is not reachable on ${address}`);
      }
    }
    // On the host, docker-proxy binds only the two app ports, on loopback.
    const ips = new Set<string>();
    for (
      const name of [
        "alpha",
        "alpha-postgres",
        "alpha-redis",
        "beta",
        "beta-postgres",
        "beta-redis",
        "beta-admin",
      ]
    ) {
      const ip = (await dockerOk(
        "inspect",
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        name,
      )).trim();
      ips.add(`${name} ${ip}`);
    }
    const proxies: string[] = [];
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      const argv = (() => {
        try {
          return Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0");
        } catch {
          return [];
        }
      })();
      if (!argv[0]?.endsWith("docker-proxy")) continue;
      const arg = (flag: string) => argv[argv.indexOf(flag) + 1];
      const target = [...ips].find((x) => x.endsWith(` ${arg("-container-ip")}`));
      if (target) proxies.push(`${target.split(" ")[0]} ${arg("-host-ip")}:${arg("-host-port")}`);
    }
    assert.deepEqual(proxies.sort(), [
      `alpha 127.0.0.1:${alpha.port}`,
      `beta 127.0.0.1:${beta.port}`,
    ]);
    // Each container is on its own instance's network and no other; by name, alpha's
    // Redis is known on alpha's network and unknown on beta's. (A name the engine does not
    // know goes to the host's resolver from a container without a route out, so each
    // negative lookup waits for its timeout: one is enough.)
    for (const instance of [alpha, beta]) {
      const services = ["postgres", "redis", ...(instance.id === "beta" ? ["admin"] : [])];
      for (const name of [instance.id, ...services.map((s) => `${instance.id}-${s}`)]) {
        const networks = JSON.parse(
          await dockerOk("inspect", "--format", "{{json .NetworkSettings.Networks}}", name),
        );
        assert.deepEqual(Object.keys(networks), [instance.id], name);
      }
    }
    const lookup = (container: string, name: string) =>
      docker("exec", container, "getent", "hosts", name).then((o) => o.code);
    assert.equal(
      await lookup("alpha-postgres", "alpha-redis"),
      0,
      "alpha-redis on alpha's network",
    );
    assert.notEqual(await lookup("beta-postgres", "alpha-redis"), 0, "alpha-redis not on beta's");
  },
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
