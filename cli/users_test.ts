/**
 * `wb user add`: the steps as data (native and docker), the output turned into a login
 * link, and the command end to end against a recording fake `deno` (the server side,
 * `server/user_add.ts`, runs for real in `client/browser_test.ts`).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { tempWb } from "./_test_helpers.ts";
import type { Instance } from "./instance_schema.ts";
import { CliError } from "./errors.ts";
import { runTargets, stopTargets } from "./lifecycle_targets.ts";
import { initInstance } from "./init_instance.ts";
import { buildProgram } from "./main.ts";
import { freePort } from "./process.ts";
import { addUser, listUsers, parseUserAdded, removeUser, revokeUser, userStep } from "./users.ts";

const FAKE_DENO = new URL("./testdata/fake_deno_user_add.sh", import.meta.url).pathname;

Deno.test("userStep(): server/user_admin.ts with the instance's DATABASE_URL, on the host or in the app image", () => {
  const native = {
    id: "demo",
    label: "demo",
    port: 8710,
    runtime: "native",
    instanceDir: "/wb/demo",
    tags: [],
  } as Instance;
  const context = { repoRoot: "/repo", denoPath: "/bin/deno" };
  const url = "postgres://postgres:pw@localhost:18710/wb?host=%2Fwb%2Fdemo%2Frun";
  const step = userStep(native, url, ["add", "ada@example.org", "--admin"], context);
  assert.equal(step.command, "/bin/deno");
  assert.deepEqual(step.args, [
    "run",
    "-A",
    "/repo/server/user_admin.ts",
    "add",
    "ada@example.org",
    "--admin",
  ]);
  assert.equal(step.env?.DATABASE_URL, url, "the password travels in the environment");
  assert.ok(!step.args.join(" ").includes("pw"));

  const docker = { ...native, runtime: "docker", serverVersion: "1.2.0" } as Instance;
  const inImage = userStep(
    docker,
    "postgres://postgres:pw@demo-postgres:5432/wb",
    ["add", "v@example.org"],
    context,
  );
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
    "server/user_admin.ts",
    "add",
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
  assert.match(recorded[0], /^run -A .*\/server\/user_admin\.ts add ada@example\.org --admin$/);
  assert.match(recorded[1], /^DATABASE_URL=postgres:\/\/postgres:[^@]+@localhost:15432\/wb\?host=/);

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

Deno.test({
  name:
    "wb user add twice keeps an administrator; revoke and remove make its sessions and login links fail (real app and Postgres)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using wb = await tempWb({ healthTimeoutMs: 60_000, buildClient: false });
    const port = freePort();
    await initInstance(wb.context, "users", {
      port,
      postgresPort: freePort(),
      redisPort: freePort(),
      publicUrl: "https://users.example.org",
    });
    const base = `http://127.0.0.1:${port}`;
    const login = async (loginUrl: string) => {
      const token = new URL(loginUrl).searchParams.get("token")!;
      const response = await fetch(`${base}/api/auth/login`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          origin: base,
          "sec-fetch-site": "same-origin",
        },
        body: JSON.stringify({ token }),
      });
      await response.body?.cancel();
      const cookie = response.headers.get("set-cookie")?.split(";")[0];
      return { status: response.status, cookie };
    };
    const me = async (cookie: string) =>
      await (await fetch(`${base}/api/auth/me`, { headers: { cookie } })).json();
    try {
      await runTargets(wb.context, ["users"]);
      const first = await addUser(wb.context, "users", "Ada@example.org", { role: "admin" });
      assert.deepEqual([first.created, first.isAdmin], [true, true]);
      assert.match(
        first.loginUrl,
        /^https:\/\/users\.example\.org\/login\?token=/,
        "the public URL",
      );
      const session = await login(first.loginUrl);
      assert.equal(session.status, 200);
      assert.equal((await me(session.cookie!)).isAdmin, true);

      // A fresh link, as the help suggests: the administrator stays one.
      const again = await addUser(wb.context, "users", "ada@example.org");
      assert.deepEqual([again.created, again.isAdmin], [false, true]);
      await addUser(wb.context, "users", "viewer@example.org");
      const listed = await listUsers(wb.context, "users");
      assert.deepEqual(
        listed.map((u) => [u.email, u.isAdmin, u.activeSessions, u.pendingLinks]),
        [["ada@example.org", true, 1, 1], ["viewer@example.org", false, 0, 1]],
      );

      // revoke: the session ends, the unused link is void, the user stays.
      const revoked = await revokeUser(wb.context, "users", "ada@example.org");
      assert.deepEqual(revoked, { sessions: 1, links: 1 });
      assert.equal((await me(session.cookie!)).isAdmin, false, "the session no longer works");
      assert.equal((await login(again.loginUrl)).status, 401, "the unused link no longer works");

      // remove: a new session and link, then the user goes and both fail.
      const third = await addUser(wb.context, "users", "ada@example.org");
      const fourth = await addUser(wb.context, "users", "ada@example.org");
      const live = await login(third.loginUrl);
      assert.equal((await me(live.cookie!)).isAdmin, true);
      await removeUser(wb.context, "users", "ada@example.org");
      assert.equal((await me(live.cookie!)).isAdmin, false, "its session fails");
      assert.equal((await login(fourth.loginUrl)).status, 401, "its link fails");
      await assert.rejects(
        removeUser(wb.context, "users", "ada@example.org"),
        (e: Error) => e instanceof CliError && e.code === "usage" && /no user/.test(e.message),
      );
      assert.deepEqual((await listUsers(wb.context, "users")).map((u) => u.email), [
        "viewer@example.org",
      ]);
    } finally {
      await stopTargets(wb.context, ["users"]);
    }
  },
});
