/**
 * The per-instance app worker count: stored and checked by the config commands, and turned
 * into `deno serve --parallel` (native command line, docker command) with `DENO_JOBS`.
 */
import assert from "node:assert/strict";
import { tempWb } from "./_test_helpers.ts";
import { loadConfig } from "./config.ts";
import { validateInstance } from "./instance_validation.ts";
import { type Instance, validateWorkers } from "./instance_schema.ts";
import { showInstance } from "./config_commands.ts";
import { updateInstance } from "./config_update.ts";
import { CliError, UsageError } from "./errors.ts";
import { initInstance } from "./init_instance.ts";
import { nativePaths } from "./native_plan.ts";
import { nativeAppEnv } from "./native_app_plan.ts";
import { nativeAppCommand } from "./native_runtime.ts";
import { appWorkerArgs, planDockerStart } from "./docker_plan.ts";

const secrets = { adminToken: "tok", postgresPassword: "pw", redisPassword: "rpw" };
const native: Instance = {
  id: "big",
  label: "big",
  port: 8710,
  instanceDir: "/wb/instances/big",
  runtime: "native",
  tags: [],
};

Deno.test("validateWorkers() accepts 1..64 and says what is wrong otherwise", () => {
  assert.equal(validateWorkers("4"), 4);
  assert.equal(validateWorkers(64), 64);
  for (const bad of ["0", "65", "2.5", "", "many", -1]) {
    assert.throws(() => validateWorkers(bad), (error) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, /Invalid worker count '.*': use an integer from 1 to 64/);
      return true;
    });
  }
  assert.throws(
    () => validateInstance({ id: "x", port: 8710, workers: 0 }, "/wb"),
    (error) => error instanceof CliError && /field 'workers'/.test(error.message),
  );
  assert.equal(validateInstance({ id: "x", port: 8710, workers: 3 }, "/wb").workers, 3);
});

Deno.test("nativeAppCommand() runs one process, or deno serve --parallel with DENO_JOBS", () => {
  const context = { repoRoot: "/repo", denoPath: "deno" };
  assert.deepEqual(nativeAppCommand(context, native), [
    "deno",
    "run",
    "-A",
    "/repo/server/main.ts",
  ]);
  assert.deepEqual(nativeAppCommand(context, { ...native, workers: 4 }), [
    "deno",
    "serve",
    "-A",
    "--parallel",
    "--port",
    "8710",
    "--host",
    "127.0.0.1",
    "/repo/server/serve.ts",
  ]);
  assert.equal(nativeAppEnv(native, nativePaths("/wb/d"), secrets).DENO_JOBS, undefined);
  assert.equal(
    nativeAppEnv({ ...native, workers: 4 }, nativePaths("/wb/d"), secrets).DENO_JOBS,
    "4",
  );
  // A test's own app command wins (the worker count still reaches it as DENO_JOBS).
  assert.deepEqual(
    nativeAppCommand({ ...context, appCommand: ["fake"] }, { ...native, workers: 4 }),
    ["fake"],
  );
});

Deno.test("the docker app runs deno serve --parallel with DENO_JOBS when workers > 1", () => {
  const docker: Instance = { ...native, runtime: "docker", serverVersion: "1.5.0" };
  assert.deepEqual(appWorkerArgs(docker), ["wb-server:1.5.0"]);
  const app = planDockerStart({ ...docker, workers: 3 }, { secrets }).at(-1)!;
  assert.deepEqual(app.args.slice(app.args.indexOf("WB_INSTANCE=big") + 1), [
    "-e",
    "DENO_JOBS=3",
    "wb-server:1.5.0",
    "serve",
    "-A",
    "--parallel",
    "--port",
    "8000",
    "server/serve.ts",
  ]);
});

Deno.test("wb c add --workers and wb c update --workers store the count; c show reports it", async () => {
  await using wb = await tempWb();
  await initInstance(wb.context, "big", { port: 18710, runtime: "docker", workers: 4 });
  assert.equal((await loadConfig(wb.home)).instances[0].workers, 4);
  assert.equal((await showInstance(wb.context, "big")).workers, 4);
  await updateInstance(wb.context, "big", { workers: 2 });
  assert.equal((await loadConfig(wb.home)).instances[0].workers, 2);
  await assert.rejects(updateInstance(wb.context, "big", { workers: 0 }), UsageError);
  await updateInstance(wb.context, "big", { workers: null });
  assert.equal((await loadConfig(wb.home)).instances[0].workers, undefined);
  assert.equal((await showInstance(wb.context, "big")).workers, 1);
});
