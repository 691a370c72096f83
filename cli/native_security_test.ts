/**
 * A native instance against a local co-tenant (issue 20): an unprivileged user (`nobody`,
 * through `runuser`) cannot connect to its Postgres or Redis, cannot read any file under
 * its instance directory, and a Redis that user starts on the instance's ports is never
 * used by `wb` or the app, nor sent a secret. Real processes throughout: Postgres, Redis,
 * the real app (`server/main.ts`) on its Unix sockets. Needs root (for `runuser`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { tempWb } from "./_test_helpers.ts";
import type { Instance } from "./instance_schema.ts";
import { CliError } from "./errors.ts";
import { updateInstance } from "./config_update.ts";
import { runTargets, statusTargets, stopTargets } from "./lifecycle_targets.ts";
import { initInstance } from "./init_instance.ts";
import { nativePaths } from "./native_plan.ts";
import { freePort, probeHttp } from "./process.ts";
import { readSecrets } from "./secrets.ts";

const ROOT = Deno.uid() === 0;
const decoder = new TextDecoder();

/** Runs a command as `nobody`; returns its exit code and output. */
async function asNobody(command: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command("runuser", {
    args: [
      "-u",
      "nobody",
      "--",
      "env",
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      command,
      ...args,
    ],
    cwd: "/",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout).trim(),
    stderr: decoder.decode(out.stderr).trim(),
  };
}

/** The paths of an instance, following `databases/pg` when it links elsewhere. */
async function pathsOf(instance: Instance) {
  const link = join(instance.instanceDir, "databases", "pg");
  const info = await Deno.lstat(link).catch(() => undefined);
  return info?.isSymlink
    ? nativePaths(instance.instanceDir, dirname(await Deno.readLink(link)))
    : nativePaths(instance.instanceDir);
}

/** Every path under `root` (not following symlinks), `root` included. */
async function walk(root: string): Promise<{ path: string; info: Deno.FileInfo }[]> {
  const all = [{ path: root, info: await Deno.lstat(root) }];
  for (let i = 0; i < all.length; i++) {
    if (!all[i].info.isDirectory) continue;
    for await (const entry of Deno.readDir(all[i].path)) {
      const path = join(all[i].path, entry.name);
      all.push({ path, info: await Deno.lstat(path) });
    }
  }
  return all;
}

/** A redis-server run by `nobody` on 127.0.0.1:`port`, without a password. */
async function squatterRedis(port: number) {
  const dir = await Deno.makeTempDir({ prefix: "wb-squatter-" });
  const id = await new Deno.Command("id", { args: ["-u", "nobody"], stdout: "piped" }).output();
  const nobody = Number(decoder.decode(id.stdout).trim());
  await Deno.chown(dir, nobody, null);
  const child = new Deno.Command("runuser", {
    args: [
      "-u",
      "nobody",
      "--",
      "redis-server",
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--logfile",
      join(dir, "log"),
    ],
    cwd: "/",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const cli = async (...args: string[]) =>
    decoder.decode(
      (await new Deno.Command("redis-cli", {
        args: ["-h", "127.0.0.1", "-p", String(port), ...args],
        stdout: "piped",
        stderr: "null",
      }).output()).stdout,
    ).trim();
  for (let i = 0; i < 100 && await cli("PING") !== "PONG"; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(await cli("PING"), "PONG", "the squatter answers");
  const connections = async () =>
    Number((await cli("INFO", "stats")).match(/total_connections_received:(\d+)/)?.[1]);
  const errors = async () => (await cli("INFO", "errorstats")).trim();
  return {
    cli,
    connections,
    errors,
    async [Symbol.asyncDispose]() {
      // SIGKILL of `runuser` would orphan the redis-server it started: stop the server first.
      await cli("SHUTDOWN", "NOSAVE").catch(() => "");
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

Deno.test({
  name:
    "co-tenant: an unprivileged local user cannot connect to a native instance's Postgres or Redis nor read any file under its directory (real app on the Unix sockets)",
  ignore: !ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using wb = await tempWb({ healthTimeoutMs: 60_000, buildClient: false });
    const instance = await initInstance(wb.context, "sec1", {
      port: freePort(),
      postgresPort: freePort(),
      redisPort: freePort(),
    });
    try {
      await runTargets(wb.context, ["sec1"]);
      const health = await probeHttp(`http://127.0.0.1:${instance.port}/healthz`);
      assert.equal(health.ok, true);
      assert.deepEqual(
        [
          (health.body as Record<string, unknown>).instance,
          (health.body as Record<string, unknown>).postgres,
          (health.body as Record<string, unknown>).redis,
        ],
        ["sec1", "up", "up"],
        "the real app reached Postgres and Redis on their Unix sockets",
      );
      const paths = await pathsOf(instance);
      const secrets = await readSecrets(instance.instanceDir);

      // The app's log: JSON lines, each with an ISO time and a level.
      const appLog = (await Deno.readTextFile(paths.appLog)).split("\n").filter(Boolean);
      assert.ok(appLog.length > 0);
      for (const line of appLog) {
        const entry = JSON.parse(line);
        assert.match(entry.time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, line);
        assert.ok(["debug", "info", "warn", "error"].includes(entry.level), line);
      }
      assert.ok(appLog.some((l) => JSON.parse(l).event === "listening"));

      // Postgres: the socket is behind a directory nobody cannot enter; no TCP listener.
      const socketDir = paths.pgSocketDir;
      const pgPort = String(instance.postgresPort);
      const viaSocket = await asNobody(
        "psql",
        ["-h", socketDir, "-p", pgPort, "-U", "postgres", "-d", "wb", "-w", "-tAc", "select 1"],
        { PGPASSWORD: secrets.postgresPassword }, // even with the password (it cannot read it)
      );
      assert.notEqual(viaSocket.code, 0, viaSocket.stdout);
      assert.match(viaSocket.stderr, /Permission denied|No such file/);
      const viaTcp = await asNobody(
        "psql",
        ["-h", "127.0.0.1", "-p", pgPort, "-U", "postgres", "-d", "wb", "-w", "-tAc", "select 1"],
      );
      assert.notEqual(viaTcp.code, 0);
      assert.match(viaTcp.stderr, /refused/);

      // Redis: the same.
      const redisSocket = await asNobody("redis-cli", ["-s", paths.redisSocket, "PING"]);
      assert.notEqual(redisSocket.stdout, "PONG");
      assert.match(redisSocket.stdout + redisSocket.stderr, /Permission denied|No such file/);
      const redisTcp = await asNobody("redis-cli", [
        "-h",
        "127.0.0.1",
        "-p",
        String(instance.redisPort),
        "PING",
      ]);
      assert.notEqual(redisTcp.stdout, "PONG");
      assert.match(redisTcp.stdout + redisTcp.stderr, /refused/);

      // The owner (root here) with the password gets in; without it, not even the owner.
      const owner = await new Deno.Command("psql", {
        args: [
          "-h",
          socketDir,
          "-p",
          pgPort,
          "-U",
          "postgres",
          "-d",
          "wb",
          "-w",
          "-tAc",
          "select 1",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.notEqual(owner.code, 0, "no password, no connection (SCRAM, no trust)");
      assert.match(decoder.decode(owner.stderr), /password/);

      // Files: nothing under the instance directory (or Postgres' own) is readable by nobody.
      const roots = [
        instance.instanceDir,
        ...(paths.pgHome.startsWith(instance.instanceDir) ? [] : [paths.pgHome]),
      ];
      const entries = (await Promise.all(roots.map(walk))).flat();
      assert.ok(entries.length > 50, `walked ${entries.length} entries`);
      for (const { path, info } of entries) {
        if (info.isSymlink) continue;
        const mode = info.mode! & 0o777;
        assert.equal(mode & 0o007, 0, `${path} grants others ${mode.toString(8)}`);
        if (!info.isDirectory) {
          assert.equal(
            mode & 0o077,
            0,
            `${path} is readable beyond its owner (${mode.toString(8)})`,
          );
        } else {
          assert.equal(
            mode & 0o060,
            0,
            `${path} lets its group list or write (${mode.toString(8)})`,
          );
        }
      }
      const files = entries.filter((e) => !e.info.isDirectory && !e.info.isSymlink).map((e) =>
        e.path
      );
      const readable = await asNobody("sh", [
        "-c",
        'for f in "$@"; do if [ -r "$f" ] && cat "$f" >/dev/null 2>&1; then echo "$f"; fi; done',
        "sh",
        ...files,
      ]);
      assert.equal(readable.stdout, "", `nobody could read:\n${readable.stdout}`);
      const listing = await asNobody("ls", [instance.instanceDir]);
      assert.notEqual(listing.code, 0, "nobody cannot list the instance directory");
    } finally {
      await stopTargets(wb.context, ["sec1"]);
    }
  },
});

Deno.test({
  name:
    "co-tenant: a Redis the local user started on the instance's ports is never used or sent a secret; with tcp on, wb refuses to start",
  ignore: !ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using wb = await tempWb({ healthTimeoutMs: 60_000, buildClient: false });
    const redisPort = freePort();
    const instance = await initInstance(wb.context, "sec2", {
      port: freePort(),
      postgresPort: freePort(),
      redisPort,
    });
    await using squatter = await squatterRedis(redisPort);
    const before = await squatter.connections();
    try {
      await runTargets(wb.context, ["sec2"]);
      const [status] = await statusTargets(wb.context, ["sec2"]);
      assert.equal(status.verdict, "healthy", status.problems.join("; "));
      assert.ok((status.redisKeys ?? 0) >= 1, "the app wrote to the instance's own Redis");
      const { redisPassword } = await readSecrets(instance.instanceDir);
      assert.equal(await squatter.cli("DBSIZE"), "0", "nothing reached the squatter");
      // Our own DBSIZE and this INFO are the only connections it had since `before`.
      assert.equal(await squatter.connections(), before + 2, "no one else connected to it");
      assert.doesNotMatch(await squatter.errors(), /AUTH/i, "no AUTH attempt");
      assert.ok(!(await squatter.cli("CLIENT", "LIST")).includes(redisPassword));
    } finally {
      await stopTargets(wb.context, ["sec2"]);
    }

    // Asked to listen on TCP too, wb refuses to start rather than share the port.
    await updateInstance(wb.context, "sec2", { tcp: true });
    const connections = await squatter.connections();
    await assert.rejects(runTargets(wb.context, ["sec2"]), (error) => {
      assert.ok(error instanceof CliError);
      assert.equal(error.code, "preflight");
      assert.match(error.message, new RegExp(`Redis port ${redisPort} is held by another program`));
      return true;
    });
    assert.equal(await squatter.connections(), connections + 1, "still untouched");
    const [status] = await statusTargets(wb.context, ["sec2"]);
    assert.equal(status.verdict, "stopped", "nothing was started");
  },
});
