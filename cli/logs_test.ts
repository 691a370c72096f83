/**
 * Native logs: `--since` parsing and filtering over the three log formats, the rotation
 * loop run for real on files being written, and the client build's staleness check.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { clientBuildState, ensureClientBuilt } from "./client_build.ts";
import { UsageError } from "./errors.ts";
import { lineTime, parseSince, selectLines } from "./logs.ts";
import { nativePaths } from "./native_plan.ts";
import { logRotationStep } from "./native_app_plan.ts";
import { terminate } from "./process.ts";
import { memoryReporter } from "./reporter.ts";

Deno.test("parseSince() takes durations and ISO times; anything else is a usage error", () => {
  const now = new Date("2025-06-01T12:00:00Z");
  assert.equal(parseSince("30s", now).toISOString(), "2025-06-01T11:59:30.000Z");
  assert.equal(parseSince("10m", now).toISOString(), "2025-06-01T11:50:00.000Z");
  assert.equal(parseSince("2h", now).toISOString(), "2025-06-01T10:00:00.000Z");
  assert.equal(parseSince("1d", now).toISOString(), "2025-05-31T12:00:00.000Z");
  assert.equal(parseSince("2025-06-01T08:00:00Z", now).toISOString(), "2025-06-01T08:00:00.000Z");
  for (const bad of ["yesterday", "10", "-5m", "2025-13-45"]) {
    assert.throws(() => parseSince(bad, now), UsageError, bad);
  }
});

Deno.test("lineTime() reads the app's JSON, Postgres' and Redis' timestamps", () => {
  assert.equal(
    lineTime('{"time":"2025-06-01T08:00:00.000Z","level":"warn","event":"redis_unavailable"}')
      ?.toISOString(),
    "2025-06-01T08:00:00.000Z",
  );
  assert.equal(
    lineTime("2025-06-01 08:00:01.250 UTC [4242] LOG:  database system is ready")?.toISOString(),
    "2025-06-01T08:00:01.250Z",
  );
  const redis = lineTime("4242:M 01 Jun 2025 08:00:02.500 * Ready to accept connections tcp");
  assert.deepEqual(
    [
      redis?.getFullYear(),
      redis?.getMonth(),
      redis?.getDate(),
      redis?.getHours(),
      redis?.getMilliseconds(),
    ],
    [2025, 5, 1, 8, 500],
  );
  assert.equal(lineTime("    at stack (file.ts:1:1)"), undefined);
});

Deno.test("selectLines() keeps the lines since a time (continuation lines with theirs), then the tail", () => {
  const lines = [
    "no time yet",
    '{"time":"2025-06-01T08:00:00Z","level":"info","event":"a"}',
    '{"time":"2025-06-01T09:00:00Z","level":"error","event":"request_error"}',
    "    at handler (app.ts:1:1)",
    '{"time":"2025-06-01T10:00:00Z","level":"info","event":"c"}',
  ];
  assert.deepEqual(selectLines(lines, { since: new Date("2025-06-01T08:30:00Z") }), lines.slice(2));
  assert.deepEqual(selectLines(lines, { tailLines: 2 }), lines.slice(3));
  assert.deepEqual(
    selectLines(lines, { since: new Date("2025-06-01T08:30:00Z"), tailLines: 1 }),
    lines.slice(4),
  );
  assert.deepEqual(selectLines(lines, {}), lines);
});

Deno.test({
  name:
    "the rotation loop keeps each native log under its bound while a writer appends to it, keeping 5 rotated files",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "wb-rotate-" });
    try {
      const paths = nativePaths(dir);
      await Deno.mkdir(paths.logsDir, { recursive: true });
      const step = logRotationStep(paths, { maxBytes: 2_000, keep: 5, intervalS: 1 });
      const loop = new Deno.Command(step.command, {
        args: step.args,
        stdout: "null",
        stderr: "null",
        detached: true,
      }).spawn();
      // An appending writer, as the app's shell redirect is (O_APPEND).
      const log = await Deno.open(paths.appLog, { create: true, append: true, mode: 0o600 });
      const line = new TextEncoder().encode(`${"x".repeat(99)}\n`);
      for (let i = 0; i < 150; i++) {
        await log.write(line);
        if (i % 25 === 24) await new Promise((r) => setTimeout(r, 700));
      }
      await new Promise((r) => setTimeout(r, 1_500));
      log.close();
      await terminate(loop.pid, 2_000);
      await loop.status;
      const names = [...Deno.readDirSync(paths.logsDir)].map((e) => e.name).sort();
      assert.ok(names.includes("app.log.1"), names.join(", "));
      assert.ok(!names.includes("app.log.6"), "at most 5 rotated files");
      const size = (await Deno.stat(paths.appLog)).size;
      assert.ok(size <= 2_000 + 25 * 100, `app.log is bounded (${size} bytes)`);
      const rotated = await Deno.stat(join(paths.logsDir, "app.log.1"));
      assert.equal(rotated.mode! & 0o077, 0, "rotated files stay private");
      const text = await Deno.readTextFile(paths.appLog);
      assert.ok(text.split("\n").filter(Boolean).every((l) => l === "x".repeat(99)), "whole lines");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("clientBuildState() is missing, then fresh after a build, then stale when a source changes; ensureClientBuilt() builds only then", async () => {
  const repo = await Deno.makeTempDir({ prefix: "wb-client-" });
  try {
    await Deno.mkdir(join(repo, "client", "src"), { recursive: true });
    await Deno.writeTextFile(join(repo, "client", "src", "app.tsx"), "export {};\n");
    // A stand-in build that writes dist/index.html and counts its runs.
    await Deno.writeTextFile(
      join(repo, "client", "build.ts"),
      `await Deno.mkdir(new URL("./dist/", import.meta.url), { recursive: true });
await Deno.writeTextFile(new URL("./dist/index.html", import.meta.url), "<html>");
await Deno.writeTextFile(new URL("./runs", import.meta.url), "x", { append: true });\n`,
    );
    const past = new Date(Date.now() - 60_000);
    await Deno.utime(join(repo, "client", "build.ts"), past, past);
    await Deno.utime(join(repo, "client", "src", "app.tsx"), past, past);
    await Deno.utime(join(repo, "client", "src"), past, past);
    assert.equal(await clientBuildState(repo), "missing");
    const context = { home: repo, repoRoot: repo, reporter: memoryReporter() };
    assert.equal(await ensureClientBuilt(context), "missing");
    assert.equal(await clientBuildState(repo), "fresh");
    assert.equal(await ensureClientBuilt(context), "fresh");
    assert.equal(await Deno.readTextFile(join(repo, "client", "runs")), "x", "built once");
    await new Promise((r) => setTimeout(r, 20));
    await Deno.writeTextFile(join(repo, "client", "src", "app.tsx"), "export const a = 1;\n");
    assert.equal(await clientBuildState(repo), "stale");
    assert.equal(await ensureClientBuilt(context), "stale");
    assert.equal(await Deno.readTextFile(join(repo, "client", "runs")), "xx");
    assert.match(
      context.reporter.lines.map((l) => l.message).join("\n"),
      /The web client is stale: building it/,
    );
  } finally {
    await Deno.remove(repo, { recursive: true });
  }
});
