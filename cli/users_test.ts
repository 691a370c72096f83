/**
 * `wb user add`: the steps as data (native and docker), the output turned into a login
 * link, and the command end to end against a recording fake `deno` (the server side,
 * `server/user_add.ts`, runs for real in `client/browser_test.ts`).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { tempWb } from "./_test_helpers.ts";
import type { Instance } from "./config.ts";
import { CliError } from "./errors.ts";
import { initInstance } from "./instances.ts";
import { buildProgram } from "./main.ts";
import { freePort } from "./process.ts";
import { addUser, parseUserAdded, userAddStep } from "./users.ts";

const SECRETS = { adminToken: "a", postgresPassword: "pw", redisPassword: "r" };
const FAKE_DENO = new URL("./testdata/fake_deno_user_add.sh", import.meta.url).pathname;

Deno.test("userAddStep(): server/user_add.ts with the instance's DATABASE_URL, on the host or in the app image", () => {
  const native = {
    id: "demo",
    label: "demo",
    port: 8710,
    runtime: "native",
    instanceDir: "/wb/demo",
    tags: [],
  } as Instance;
  const context = { repoRoot: "/repo", denoPath: "/bin/deno" };
  const step = userAddStep(native, SECRETS, { email: "ada@example.org", admin: true }, context);
  assert.equal(step.command, "/bin/deno");
  assert.deepEqual(step.args, [
    "run",
    "-A",
    "/repo/server/user_add.ts",
    "ada@example.org",
    "--admin",
  ]);
  assert.equal(step.env?.DATABASE_URL, "postgres://postgres@127.0.0.1:18710/wb");

  const docker = { ...native, runtime: "docker", serverVersion: "1.2.0" } as Instance;
  const inImage = userAddStep(docker, SECRETS, { email: "v@example.org", admin: false }, context);
  assert.equal(inImage.command, "docker");
  assert.deepEqual(inImage.args, [
    "run",
    "--rm",
    "--network",
    "demo",
    "--label",
    "dev.wb.instance=demo",
    "-e",
    "DATABASE_URL",
    "wb-server:1.2.0",
    "deno",
    "run",
    "-A",
    "server/user_add.ts",
    "v@example.org",
  ]);
  assert.match(inImage.env!.DATABASE_URL, /^postgres:\/\/postgres:pw@demo-postgres:5432\//);
});

Deno.test("parseUserAdded(): the login link on the instance's port; other output is a command_failed", () => {
  const added = parseUserAdded(
    'notice\n{"email":"a@b.c","isAdmin":true,"created":false,"token":"t/+","expiresAt":"x"}\n',
    { port: 8711 },
  );
  assert.deepEqual(added, {
    email: "a@b.c",
    isAdmin: true,
    created: false,
    loginUrl: "http://127.0.0.1:8711/login?token=t%2F%2B",
    expiresAt: "x",
  });
  assert.throws(
    () => parseUserAdded("oops", { port: 1 }),
    (e: Error) => e instanceof CliError && e.code === "command_failed",
  );
});

Deno.test("wb user add <id> <email> --admin: runs the step and prints the one-time link", async () => {
  await using wb = await tempWb({ denoPath: FAKE_DENO });
  const log = join(wb.home, "deno.log");
  wb.context.env = { FAKE_DENO_LOG: log };
  const port = freePort();
  await initInstance(wb.context, "demo", { port, postgresPort: 15432, redisPort: freePort() });
  let exit = 0;
  await buildProgram(wb.context, (code) => exit = code).parseAsync(
    ["user", "add", "demo", "ada@example.org", "--admin"],
    { from: "user" },
  );
  assert.equal(exit, 0);
  const printed = wb.context.reporter.lines.map((l) => l.message).join("\n");
  assert.match(printed, /Created ada@example.org \(administrator\)/);
  assert.match(printed, new RegExp(`http://127\\.0\\.0\\.1:${port}/login\\?token=tok%2F%2B1`));
  const recorded = (await Deno.readTextFile(log)).trim().split("\n");
  assert.match(recorded[0], /^run -A .*\/server\/user_add\.ts ada@example\.org --admin$/);
  assert.equal(recorded[1], "DATABASE_URL=postgres://postgres@127.0.0.1:15432/wb");

  const viewer = await addUser(wb.context, "demo", "viewer@example.org");
  assert.equal(viewer.isAdmin, false);
  await assert.rejects(
    addUser(wb.context, "demo", "down@example.org"),
    (e: Error) =>
      e instanceof CliError && e.code === "not_running" && /wb run demo/.test(e.message),
  );
  await assert.rejects(
    addUser(wb.context, "demo", "not-an-address"),
    (e: Error) => e instanceof CliError && e.code === "usage",
  );
  await assert.rejects(
    addUser(wb.context, "@all", "a@b.c"),
    (e: Error) => e instanceof CliError && e.code === "usage",
  );
});
