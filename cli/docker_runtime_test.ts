/**
 * The docker path against a recording fake `docker` (testdata/fake_docker.sh) on `PATH`:
 * exact argument vectors and their order. The fake remembers labelled containers and
 * networks like docker does, and fake apps answer `/healthz` on the published ports,
 * logging each probe into the same sequence as `["@healthz", "<id>"]`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fakeDocker, fakeHealthz, tempWb } from "./_test_helpers.ts";
import type { Instance } from "./instance_schema.ts";
import { formatBatchSummary, type InstanceResult } from "./batch.ts";
import {
  BatchFailedError,
  CommandFailedError,
  ReadinessTimeoutError,
  StartFailedError,
} from "./errors.ts";
import { formatPullTable, pullImages } from "./pull.ts";
import { restartTargets, runTargets, statusTargets, stopTargets } from "./lifecycle_targets.ts";
import { initInstance } from "./init_instance.ts";
import { redisCli, showLogs } from "./ops.ts";
import { SUBDIRECTORIES } from "./plan.ts";
import { planDockerStart, planDockerStop } from "./docker_plan.ts";
import { freePort } from "./process.ts";
import { readSecrets, type Secrets } from "./secrets.ts";

const argv = (steps: { command: string; args: string[] }[]) => steps.map((s) => s.args);
const healthz = (id: string) => ["@healthz", id];

/** A temporary WB_HOME with the fake docker and docker instances on free ports. */
async function dockerWb(ids: string[], failOn?: string) {
  const wb = await tempWb({ healthTimeoutMs: 5_000 });
  const docker = await fakeDocker(wb.home, failOn);
  wb.context.env = docker.env;
  const instances: Instance[] = [];
  const secrets = new Map<string, Secrets>();
  for (const id of ids) {
    const instance = await initInstance(wb.context, id, {
      port: freePort(),
      runtime: "docker",
      tags: ["prod"],
    });
    instances.push(instance);
    secrets.set(id, await readSecrets(instance.instanceDir));
  }
  const start = (i: Instance) => argv(planDockerStart(i, { secrets: secrets.get(i.id)! }));
  const stop = (i: Instance) => argv(planDockerStop(i));
  return { wb, docker, instances, secrets, start, stop };
}

Deno.test("wb run (docker): the exact start plan, then a /healthz probe; secrets only in env and the 0600 redis.conf", async () => {
  const { wb, docker, instances: [web], secrets, start } = await dockerWb(["web"]);
  await using _ = wb;
  await using _apps = fakeHealthz([web], docker.env.FAKE_DOCKER_LOG);
  await runTargets(wb.context, ["web"]);
  assert.deepEqual(await docker.calls(), [...start(web), healthz("web")]);

  const log = await Deno.readTextFile(docker.env.FAKE_DOCKER_LOG);
  const { adminToken, postgresPassword, redisPassword } = secrets.get("web")!;
  for (const secret of [adminToken, postgresPassword, redisPassword]) {
    assert.ok(!log.includes(secret), "no secret in any docker argv");
  }
  const conf = join(web.instanceDir, "redis", "redis.conf");
  assert.equal((await Deno.stat(conf)).mode! & 0o777, 0o600);
  const text = await Deno.readTextFile(conf);
  assert.match(text, new RegExp(`^requirepass ${redisPassword}$`, "m"));
  assert.match(text, /^bind 0\.0\.0\.0$/m, "reachable on the instance network only");
  assert.match(text, /^appendfsync everysec$/m);
});

Deno.test("wb stop (docker) is the stop plan; wb restart is the stop plan, the start plan, /healthz", async () => {
  const { wb, docker, instances: [web], start, stop } = await dockerWb(["web"]);
  await using _ = wb;
  await using _apps = fakeHealthz([web], docker.env.FAKE_DOCKER_LOG);
  await stopTargets(wb.context, ["@prod"]);
  assert.deepEqual(await docker.calls(), [
    ["stop", "web"],
    ["stop", "web-redis"],
    ["stop", "-t", "30", "web-postgres"],
    ["network", "rm", "web"],
  ]);
  await docker.clear();
  await restartTargets(wb.context, ["web"]);
  assert.deepEqual(await docker.calls(), [...stop(web), ...start(web), healthz("web")]);
});

Deno.test("wb restart @all (docker) rolls: each instance stopped, started and healthy before the next is touched", async () => {
  const { wb, docker, instances, start, stop } = await dockerWb(["a", "b", "c"]);
  await using _ = wb;
  await using _apps = fakeHealthz(instances, docker.env.FAKE_DOCKER_LOG);
  const started = performance.now();
  // Never started (the fake docker knows no container): --start-stopped rolls them all.
  const results = await restartTargets(wb.context, ["@all"], { startStopped: true });
  console.log(
    `rolling restart @all (fake docker): ${
      results.map((r) => `${r.id} ${r.ms.toFixed(0)} ms`).join(", ")
    }; total ${(performance.now() - started).toFixed(0)} ms`,
  );
  const [a, b, c] = instances;
  assert.deepEqual(await docker.calls(), [
    ...stop(a),
    ...start(a),
    healthz("a"),
    ...stop(b),
    ...start(b),
    healthz("b"),
    ...stop(c),
    ...start(c),
    healthz("c"),
  ]);
  assert.deepEqual(results.map((r) => [r.id, r.action, r.outcome]), [
    ["a", "restart", "ok"],
    ["b", "restart", "ok"],
    ["c", "restart", "ok"],
  ]);

  await docker.clear();
  await restartTargets(wb.context, ["@all"], { parallel: 3, startStopped: true });
  const calls = await docker.calls();
  for (const i of instances) {
    const own = calls.filter((call) =>
      call.some((arg) => arg === i.id || arg.startsWith(`${i.id}-`) || arg.endsWith(`=${i.id}`))
    );
    assert.deepEqual(
      own,
      [...stop(i), ...start(i), healthz(i.id)],
      `--parallel 3: ${i.id} in order`,
    );
  }
});

Deno.test("a failed Postgres start (docker) removes exactly what the start created, nothing of other instances", async () => {
  const { wb, docker, instances: [api, web] } = await dockerWb(
    ["api", "web"],
    "run -d --name web-postgres",
  );
  await using _ = wb;
  await using _apps = fakeHealthz([api], docker.env.FAKE_DOCKER_LOG);
  await runTargets(wb.context, ["api"]);
  await docker.clear();
  await assert.rejects(runTargets(wb.context, ["web"]), (error) => {
    assert.ok(error instanceof StartFailedError);
    assert.equal(error.code, "start_failed");
    assert.ok(error.cause instanceof CommandFailedError);
    assert.match(
      error.message,
      /^Command failed \(exit 1\): docker run -d --name web-postgres --network web --label dev\.wb\.instance=web/,
    );
    assert.match(error.message, /fake docker: failing on purpose/, "docker's stderr is shown");
    assert.match(
      error.message,
      /Rolled back 'web': removed container web-postgres, removed network web\.$/,
    );
    return true;
  });
  assert.deepEqual(await docker.calls(), [
    ["network", "create", "--label", "dev.wb.instance=web", "web"],
    ["rm", "web-postgres"],
    [
      "run",
      "-d",
      "--name",
      "web-postgres",
      "--network",
      "web",
      "--label",
      "dev.wb.instance=web",
      "-e",
      "POSTGRES_PASSWORD",
      "-e",
      "POSTGRES_DB=wb",
      "-v",
      `${web.instanceDir}/databases:/var/lib/postgresql/data`,
      "postgres:17.4",
    ],
    ["rm", "-f", "web-postgres"],
    ["network", "rm", "web"],
  ]); // deno-fmt-ignore
  const state = await Deno.readTextFile(`${docker.env.FAKE_DOCKER_LOG}.state`);
  assert.ok(!state.includes("dev.wb.instance=web\n"), `nothing of web is left:\n${state}`);
  assert.deepEqual(
    state.trim().split("\n").map((l) => l.split(" ")[1]).sort(),
    ["api", "api", "api-postgres", "api-redis"],
    "the other instance's containers and network are untouched",
  );
});

Deno.test("a failed start (docker) leaves what was there before it: a network that existed stays", async () => {
  const { wb, docker } = await dockerWb(["web"], "run -d --name web-postgres");
  await using _ = wb;
  const env = { ...Deno.env.toObject(), ...docker.env, FAKE_DOCKER_FAIL: "" };
  const made = await new Deno.Command("docker", {
    args: ["network", "create", "--label", "dev.wb.instance=web", "web"],
    env,
  }).output();
  assert.equal(made.code, 0);
  await docker.clear();
  await assert.rejects(runTargets(wb.context, ["web"]), (error) => {
    assert.ok(error instanceof StartFailedError);
    assert.match(error.message, /Rolled back 'web': removed container web-postgres\.$/);
    return true;
  });
  const calls = await docker.calls();
  assert.deepEqual(calls.at(-1), ["rm", "-f", "web-postgres"]);
  assert.ok(!calls.some((c) => c[0] === "network" && c[1] === "rm"), "the network stays");
  const state = await Deno.readTextFile(`${docker.env.FAKE_DOCKER_LOG}.state`);
  assert.match(state, /^network web /m);
});

Deno.test("a failed Redis start (docker) is a warning: no PING wait, and the app still starts and is awaited", async () => {
  const { wb, docker, instances: [web], start } = await dockerWb(
    ["web"],
    "run -d --name web-redis",
  );
  await using _ = wb;
  await using _apps = fakeHealthz([web], docker.env.FAKE_DOCKER_LOG);
  const [result] = await runTargets(wb.context, ["web"]);
  assert.equal(result.outcome, "warned");
  const expected = start(web).filter((args) => !args.includes("PING"));
  assert.deepEqual(await docker.calls(), [...expected, healthz("web")]);
  const warnings = wb.context.reporter.lines.filter((l) => l.level === "warn");
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0].message,
    /Start Redis \(web-redis\) failed; continuing\. The app starts anyway and runs uncached/,
  );
  assert.match(
    warnings[0].message,
    /docker run -d --name web-redis .* redis:7-alpine redis-server \/data\/redis\.conf/,
  );
  assert.match(warnings[0].message, /fake docker: failing on purpose/);
});

Deno.test("an app that never answers /healthz (docker) fails with its log tail and is rolled back", async () => {
  const { wb, docker, instances: [web], start } = await dockerWb(["web"]);
  await using _ = wb;
  wb.context.healthTimeoutMs = 300;
  await assert.rejects(runTargets(wb.context, ["web"]), (error) => {
    assert.ok(error instanceof StartFailedError);
    assert.ok(error.cause instanceof ReadinessTimeoutError);
    assert.match(
      error.message,
      /did not answer http:\/\/127\.0\.0\.1:\d+\/healthz with 200 within 0\.3 s/,
    );
    assert.match(
      error.message,
      /removed container web-postgres, removed container web-redis, removed container web, removed network web/,
    );
    return true;
  });
  assert.deepEqual(await docker.calls(), [
    ...start(web),
    ["logs", "--tail", "20", "web"],
    ["rm", "-f", "web-postgres", "web-redis", "web"],
    ["network", "rm", "web"],
  ]);
});

Deno.test("wb run (docker) creates missing subdirectories instead of failing", async () => {
  const { wb, docker, instances: [web], start } = await dockerWb(["web"]);
  await using _ = wb;
  await using _apps = fakeHealthz([web], docker.env.FAKE_DOCKER_LOG);
  await Deno.remove(join(web.instanceDir, "exports"));
  await Deno.remove(join(web.instanceDir, "redis"), { recursive: true });
  await runTargets(wb.context, ["web"]);
  for (const name of SUBDIRECTORIES) {
    assert.ok((await Deno.stat(join(web.instanceDir, name))).isDirectory, name);
  }
  assert.ok(
    wb.context.reporter.lines.some((l) =>
      l.message.includes("Created missing subdirectories of 'web': exports, redis")
    ),
  );
  assert.deepEqual(await docker.calls(), [...start(web), healthz("web")]);
});

Deno.test("pullImages() pulls base and app images, reporting layer progress", async () => {
  const { wb, docker } = await dockerWb(["web"]);
  await using _ = wb;
  const results = await pullImages(wb.context);
  assert.deepEqual(results.map((r) => [r.image, r.usedBy, r.status, r.progress]), [
    ["postgres:17.4", ["web postgres"], "pulled", {
      layers: 3,
      done: 3,
      status: "Downloaded newer image for postgres:17.4",
    }],
    ["redis:7-alpine", ["web redis"], "pulled", {
      layers: 3,
      done: 3,
      status: "Downloaded newer image for redis:7-alpine",
    }],
    ["wb-server:latest", ["web app"], "pulled", {
      layers: 3,
      done: 3,
      status: "Downloaded newer image for wb-server:latest",
    }],
  ]); // deno-fmt-ignore
  assert.deepEqual(await docker.calls(), [
    ["pull", "postgres:17.4"],
    ["pull", "redis:7-alpine"],
    ["pull", "wb-server:latest"],
  ]);
  const progress = wb.context.reporter.lines.filter((l) => l.level === "progress");
  assert.deepEqual(
    progress.slice(0, 6).map((l) => l.message),
    ["0/0 layers", "0/1 layers", "0/2 layers", "1/3 layers", "1/3 layers", "2/3 layers"],
  );
  assert.ok(wb.context.reporter.lines.some((l) => l.message === "Pull redis:7-alpine (2/3)"));
});

Deno.test("pullImages(): an image no registry gives is fine when the engine has it, missing otherwise", async () => {
  const { wb, docker } = await dockerWb(["web"], "pull wb-");
  await using _ = wb;
  wb.context.imageDefaults = { redis: "wb-local/redis:7" };
  wb.context.env = { ...docker.env, FAKE_DOCKER_IMAGES: "wb-local/redis:7" };
  let results = await pullImages(wb.context);
  assert.deepEqual(results.map((r) => [r.image, r.status]), [
    ["postgres:17.4", "pulled"],
    ["wb-local/redis:7", "local"],
    ["wb-server:latest", "missing"],
  ]);
  assert.match(results[1].error!, /fake docker: failing on purpose/);
  const warning = wb.context.reporter.lines.find((l) => l.level === "warn")!.message;
  assert.match(
    warning,
    /wb-server:latest is neither pullable nor in the engine .* build it with `wb build web`\. Needed by: web app/,
  );
  assert.deepEqual(
    formatPullTable(results).split("\n").map((l) => l.trim().split(/\s+/)),
    [
      ["INSTANCE", "SERVICE", "IMAGE", "PULL"],
      ["web", "postgres", "postgres:17.4", "pulled"],
      ["web", "redis", "wb-local/redis:7", "local"],
      ["web", "app", "wb-server:latest", "missing"],
    ],
  );
  wb.context.env = { ...docker.env, FAKE_DOCKER_IMAGES: "wb-local/redis:7 wb-server:latest" };
  results = await pullImages(wb.context);
  assert.deepEqual(results.map((r) => r.status), ["pulled", "local", "local"]);
});

Deno.test("statusTargets() (docker) inspects every container, reads Redis INFO with the password and the app version", async () => {
  const { wb, docker, instances: [web] } = await dockerWb(["web"]);
  await using _ = wb;
  await using _apps = fakeHealthz([web], docker.env.FAKE_DOCKER_LOG);
  const [status] = await statusTargets(wb.context, ["web"]);
  assert.deepEqual(status.services.map((s) => s.service), ["network", "postgres", "redis", "app"]);
  assert.equal(status.app?.version, "9.9.9", "the version /healthz reports");
  const format = "{{.State.Status}} {{.State.StartedAt}} {{.Config.Image}}";
  assert.deepEqual(await docker.calls(), [
    ["network", "inspect", "web"],
    ["inspect", "--format", format, "web-postgres"],
    ["inspect", "--format", format, "web-redis"],
    ["inspect", "--format", format, "web"],
    healthz("web"),
    ["exec", "-e", "REDISCLI_AUTH", "web-redis", "redis-cli", "INFO"],
  ]);
});

Deno.test("wb redis-cli and wb logs (docker): docker exec with REDISCLI_AUTH by name, docker logs", async () => {
  const { wb, docker } = await dockerWb(["web"]);
  await using _ = wb;
  assert.equal(await redisCli(wb.context, "web", ["--scan", "--pattern", "cache:*"]), 0);
  assert.equal(await showLogs(wb.context, "web", "redis", { tailLines: 5, follow: true }), 0);
  assert.deepEqual(await docker.calls(), [
    [
      "exec",
      "-i",
      "-e",
      "REDISCLI_AUTH",
      "web-redis",
      "redis-cli",
      "--scan",
      "--pattern",
      "cache:*",
    ],
    ["logs", "--follow", "--tail", "5", "web-redis"],
  ]);
  await assert.rejects(showLogs(wb.context, "web", "admin"), /'web' has no service 'admin'/);
  await assert.rejects(redisCli(wb.context, "@prod", []), /names a group/);
});

Deno.test("a second wb run (docker) finds everything running: docker's 'already' errors count as done", async () => {
  const { wb, docker, instances: [web], start } = await dockerWb(["web"]);
  await using _ = wb;
  await using _apps = fakeHealthz([web], docker.env.FAKE_DOCKER_LOG);
  await runTargets(wb.context, ["web"]);
  const state = await Deno.readTextFile(`${docker.env.FAKE_DOCKER_LOG}.state`);
  await docker.clear();
  const [again] = await runTargets(wb.context, ["web"]);
  assert.equal(again.outcome, "ok");
  assert.deepEqual(await docker.calls(), [...start(web), healthz("web")]);
  assert.equal(await Deno.readTextFile(`${docker.env.FAKE_DOCKER_LOG}.state`), state);
  const [status] = await statusTargets(wb.context, ["web"]);
  assert.deepEqual(status.services.map((s) => [s.service, s.state]), [
    ["network", "present"],
    ["postgres", "running"],
    ["redis", "running"],
    ["app", "running"],
  ]);
});

Deno.test("a rolling restart (docker) stops at the first instance that fails; later ones are not touched", async () => {
  const { wb, docker, instances: [a, _b, c], start, stop } = await dockerWb(["a", "b", "c"]);
  await using _ = wb;
  await using _apps = fakeHealthz([a, c], docker.env.FAKE_DOCKER_LOG); // b's app never answers
  wb.context.healthTimeoutMs = 300;
  let summary: InstanceResult[] = [];
  await assert.rejects(
    restartTargets(wb.context, ["@all"], { startStopped: true, onDone: (all) => summary = all }),
    (error) => {
      assert.ok(error instanceof BatchFailedError);
      assert.match(error.message, /^1 of 3 instances failed:\n- b: The app of 'b' did not answer/);
      assert.match(error.message, /\nNot touched after the failure: c$/);
      return true;
    },
  );
  const calls = await docker.calls();
  assert.deepEqual(calls.slice(0, stop(a).length + start(a).length + 1), [
    ...stop(a),
    ...start(a),
    healthz("a"),
  ]);
  assert.ok(!calls.flat().some((arg) => arg === "c" || arg.startsWith("c-")), "c untouched");
  assert.deepEqual(summary.map((r) => [r.id, r.outcome]), [
    ["a", "ok"],
    ["b", "failed"],
    ["c", "skipped"],
  ]);
  const table = formatBatchSummary(summary, 1234).split("\n");
  assert.match(table[0], /^INSTANCE\s+ACTION\s+RESULT\s+TIME\s+URL\s+NOTE$/);
  assert.match(table[1], /^a\s+restart\s+ok\s+\d+\.\d s\s+http:\/\/127\.0\.0\.1:\d+$/);
  assert.match(
    table[2],
    /^b\s+restart\s+FAILED\s+\d+\.\d s\s+http:\S+\s+The app of 'b' did not answer/,
  );
  assert.match(table[3], /^c\s+restart\s+SKIPPED\s+-\s+http:\S+$/);
  assert.equal(table[4], "3 instances: 1 ok, 1 failed, 1 skipped; 1.2 s in all");
});

Deno.test("readiness timeouts (docker) say what was not ready: Postgres fails the start, Redis only warns", async () => {
  {
    const { wb, docker } = await dockerWb(["web"], "pg_isready");
    await using _ = wb;
    wb.context.postgresReadyMs = 300;
    await assert.rejects(runTargets(wb.context, ["web"]), (error) => {
      assert.ok(error instanceof StartFailedError);
      assert.ok(error.cause instanceof ReadinessTimeoutError);
      assert.match(
        error.message,
        /^Postgres of 'web' did not accept connections within 0\.3 s\. Last attempt: Command failed \(exit 1\): docker exec web-postgres pg_isready -h 127\.0\.0\.1 -U postgres -d wb\n {2}fake docker: failing on purpose/,
      );
      assert.match(
        error.message,
        /Rolled back 'web': removed container web-postgres, removed network web\.$/,
      );
      return true;
    });
    assert.ok((await docker.calls()).filter((c) => c.includes("pg_isready")).length >= 2, "polled");
  }
  {
    const { wb, docker, instances: [web] } = await dockerWb(["web"], "redis-cli PING");
    await using _ = wb;
    await using _apps = fakeHealthz([web], docker.env.FAKE_DOCKER_LOG);
    wb.context.redisReadyMs = 300;
    const [result] = await runTargets(wb.context, ["web"]);
    assert.equal(result.outcome, "warned");
    assert.match(
      result.warnings[0],
      /^Wait for Redis \(web-redis\) to answer PING failed; continuing\. The app starts anyway and runs uncached until Redis is back\.\nRedis of 'web' did not answer PING within 0\.3 s\./,
    );
    assert.deepEqual(
      (await docker.calls()).at(-1),
      healthz("web"),
      "the app was started and awaited",
    );
  }
});
