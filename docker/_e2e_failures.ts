/**
 * What goes wrong in the docker suite (`docker/wb_e2e.ts`), and what `wb` does about it:
 * alpha's Redis killed under traffic, then a Redis and a Postgres that cannot start. The test
 * bodies only; `wb_e2e.ts` registers them, in order, on the instances its first test started.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type Answer,
  appPort,
  dockerOk,
  get,
  getWorld,
  inInstance,
  objectPaths,
  redisKeys,
  type TestInstance,
  wb,
  wbOk,
} from "./_e2e_world.ts";
import {
  alpha,
  beta,
  engineInventory,
  expectEvery,
  healthz,
  ports,
  timed,
} from "./_e2e_fixture.ts";

/**
 * `docker kill alpha-redis` while four clients read every object: no 5xx, HIT before the
 * kill and BYPASS after it; `wb status` shows Redis down (exit 1); `wb restart alpha` brings
 * it back with every key older than 1 s (AOF everysec).
 *
 * @throws {AssertionError} If any of that does not hold.
 */
export async function redisKilledUnderTraffic(): Promise<void> {
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
}

/**
 * A Redis that cannot start (an image that does not exist, a Redis directory that is a file)
 * leaves alpha running uncached with a warning; a Postgres that cannot start (a data
 * directory of another major version, an image that does not exist) fails the start of
 * `gamma` and removes exactly what that start created.
 *
 * @throws {AssertionError} If any of that does not hold.
 */
export async function servicesThatCannotStart(): Promise<void> {
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
}
