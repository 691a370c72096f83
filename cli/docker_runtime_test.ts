import assert from "node:assert/strict";
import { join } from "node:path";
import { fakeDocker, tempWb } from "./_test_helpers.ts";
import { loadConfig } from "./config.ts";
import { CommandFailedError } from "./errors.ts";
import {
  initInstance,
  pullImages,
  restartTargets,
  runTargets,
  statusTargets,
  stopTargets,
} from "./instances.ts";
import { planDockerRestart, planDockerStart, planDockerStop, SUBDIRECTORIES } from "./plan.ts";
import { readSecrets } from "./secrets.ts";

const argv = (steps: { command: string; args: string[] }[]) => steps.map((s) => s.args);

async function dockerWb(failOn?: string) {
  const wb = await tempWb();
  const docker = await fakeDocker(wb.home, failOn);
  wb.context.env = docker.env;
  const instance = await initInstance(wb.context, "web", {
    port: 18080,
    runtime: "docker",
    tags: ["prod"],
  });
  const secrets = await readSecrets(instance.instanceDir);
  return { wb, docker, instance, secrets };
}

Deno.test("runTargets() on a docker instance records exactly the start plan, in order", async () => {
  const { wb, docker, instance, secrets } = await dockerWb();
  await using _ = wb;
  await runTargets(wb.context, ["web"]);
  assert.deepEqual(await docker.calls(), argv(planDockerStart(instance, { secrets })));
});

Deno.test("stopTargets() records exactly the stop plan; restartTargets() the stop plan then the start plan", async () => {
  const { wb, docker, instance, secrets } = await dockerWb();
  await using _ = wb;
  await stopTargets(wb.context, ["@prod"]);
  const stop = await docker.calls();
  assert.deepEqual(stop, argv(planDockerStop(instance)));
  assert.deepEqual(stop.map((a) => a.at(-1)), ["web", "web-redis", "web-postgres", "web"]);
  await docker.clear();
  await restartTargets(wb.context, ["web"]);
  const restart = await docker.calls();
  assert.deepEqual(restart, argv(planDockerRestart(instance, { secrets })));
  assert.deepEqual(restart.slice(0, stop.length), stop, "restart stops in the same order as stop");
});

Deno.test("the fake docker receives secrets through the environment, not argv", async () => {
  const wb = await tempWb();
  await using _ = wb;
  const docker = await fakeDocker(wb.home);
  // A docker that prints the env vars it was given by name, like `docker run -e NAME` reads them.
  const script = join(wb.home, "bin", "docker");
  await Deno.writeTextFile(
    script,
    (await Deno.readTextFile(script)).replace(
      "exit 0\n",
      'case "$*" in *"-e POSTGRES_PASSWORD"*) echo "POSTGRES_PASSWORD=$POSTGRES_PASSWORD" >> "$FAKE_DOCKER_LOG.env";; esac\nexit 0\n',
    ),
  );
  wb.context.env = docker.env;
  const instance = await initInstance(wb.context, "web", { port: 18081, runtime: "docker" });
  await runTargets(wb.context, ["web"]);
  const { postgresPassword } = await readSecrets(instance.instanceDir);
  assert.equal(
    (await Deno.readTextFile(`${docker.env.FAKE_DOCKER_LOG}.env`)).trim(),
    `POSTGRES_PASSWORD=${postgresPassword}`,
  );
  assert.ok(!(await Deno.readTextFile(docker.env.FAKE_DOCKER_LOG)).includes(postgresPassword));
});

Deno.test("a failing Redis `docker run` is a warning and the app still starts", async () => {
  const { wb, docker } = await dockerWb("run -d --name web-redis");
  await using _ = wb;
  await runTargets(wb.context, ["web"]);
  const calls = await docker.calls();
  const names = calls.filter((a) => a[0] === "run").map((a) => a[a.indexOf("--name") + 1]);
  assert.deepEqual(
    names,
    ["web-postgres", "web-redis", "web"],
    "the app container is run after the failed Redis",
  );
  const warnings = wb.context.reporter.lines.filter((l) => l.level === "warn");
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0].message,
    /Start Redis \(web-redis\) failed; continuing\. The app starts anyway and runs uncached/,
  );
  assert.match(
    warnings[0].message,
    /docker run -d --name web-redis .* redis:7-alpine redis-server --appendonly yes/,
  );
  assert.match(
    warnings[0].message,
    /fake docker: failing on purpose/,
    "the warning shows docker's stderr",
  );
});

Deno.test("a failing Postgres `docker run` stops the start with the command and its stderr", async () => {
  const { wb, docker } = await dockerWb("run -d --name web-postgres");
  await using _ = wb;
  await assert.rejects(runTargets(wb.context, ["web"]), (error) => {
    assert.ok(error instanceof CommandFailedError);
    assert.equal(error.code, "command_failed");
    assert.match(
      error.message,
      /^Command failed \(exit 1\): docker run -d --name web-postgres --network web/,
    );
    assert.match(error.message, /fake docker: failing on purpose/);
    return true;
  });
  const calls = await docker.calls();
  assert.deepEqual(
    calls.at(-1)!.slice(0, 4),
    ["run", "-d", "--name", "web-postgres"],
    "nothing runs after it",
  );
});

Deno.test("run creates missing subdirectories instead of failing", async () => {
  const { wb, instance } = await dockerWb();
  await using _ = wb;
  await Deno.remove(join(instance.instanceDir, "exports"));
  await Deno.remove(join(instance.instanceDir, "redis"));
  await runTargets(wb.context, ["web"]);
  for (const name of SUBDIRECTORIES) {
    assert.ok((await Deno.stat(join(instance.instanceDir, name))).isDirectory, name);
  }
  assert.ok(
    wb.context.reporter.lines.some((l) =>
      l.message.includes("Created missing subdirectories of 'web': exports, redis")
    ),
  );
});

Deno.test("pullImages() pulls the base images and the app image of docker instances", async () => {
  const { wb, docker } = await dockerWb();
  await using _ = wb;
  assert.deepEqual(await pullImages(wb.context), [
    "postgres:17.4",
    "redis:7-alpine",
    "wb-server:latest",
  ]);
  assert.deepEqual(await docker.calls(), [
    ["pull", "postgres:17.4"],
    ["pull", "redis:7-alpine"],
    ["pull", "wb-server:latest"],
  ]);
});

Deno.test("statusTargets() inspects every container of a docker instance", async () => {
  const { wb, docker } = await dockerWb();
  await using _ = wb;
  const [status] = await statusTargets(wb.context, ["web"]);
  assert.deepEqual(status.services.map((s) => s.service), ["network", "postgres", "redis", "app"]);
  const calls = await docker.calls();
  assert.deepEqual(calls.slice(0, 4).map((a) => a.at(-1)), [
    "web",
    "web-postgres",
    "web-redis",
    "web",
  ]);
  assert.deepEqual(calls.at(-1), ["exec", "web-redis", "redis-cli", "DBSIZE"]);
  assert.equal((await loadConfig(wb.home)).instances[0].runtime, "docker");
});
