import assert from "node:assert/strict";
import { CommandFailedError, formatCommand, ReadinessTimeoutError } from "./errors.ts";
import { memoryReporter } from "./reporter.ts";
import { execStep, runStep, runSteps } from "./runner.ts";

const sh = (script: string) => ({ title: script, command: "sh", args: ["-c", script] });

Deno.test("runStep() throws CommandFailedError with the command line and stderr", async () => {
  await assert.rejects(runStep(sh("echo nope >&2; exit 3")), (error) => {
    assert.ok(error instanceof CommandFailedError);
    assert.equal(error.exitCode, 3);
    assert.equal(error.stderr, "nope");
    assert.equal(error.message, "Command failed (exit 3): sh -c 'echo nope >&2; exit 3'\n  nope");
    return true;
  });
});

Deno.test("runStep() accepts a failure whose stderr matches okIfStderr", async () => {
  const result = await runStep({
    ...sh("echo 'network demo already exists' >&2; exit 1"),
    okIfStderr: "already exists",
  });
  assert.equal(result.status, "already");
});

Deno.test("runStep() turns an optional failure into a warning with the hint", async () => {
  const reporter = memoryReporter();
  const result = await runStep({
    ...sh("echo broken >&2; exit 1"),
    optional: true,
    hint: "Carry on.",
  }, { reporter });
  assert.equal(result.status, "warned");
  const warning = reporter.lines.find((l) => l.level === "warn")!;
  assert.match(
    warning.message,
    /failed; continuing\. Carry on\.\nCommand failed \(exit 1\): sh -c/,
  );
  assert.match(warning.message, /broken/);
});

Deno.test("runStep() retries until success within retryForMs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script =
      `n=$(cat ${dir}/n 2>/dev/null || echo 0); echo $((n+1)) > ${dir}/n; [ $n -ge 2 ]`;
    const result = await runStep({ ...sh(script), retryForMs: 5_000 }, { retryIntervalMs: 10 });
    assert.equal(result.status, "ok");
    assert.equal((await Deno.readTextFile(`${dir}/n`)).trim(), "3");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runSteps() stops at the first required failure", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(runSteps([sh("exit 1"), sh(`touch ${dir}/ran`)]), CommandFailedError);
    await assert.rejects(Deno.stat(`${dir}/ran`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("execStep() reports a missing program as exit 127; env and timeouts apply", async () => {
  assert.equal((await execStep({ title: "x", command: "no-such-program-wb", args: [] })).code, 127);
  const env = await execStep(sh('printf %s "$WB_X"'), { env: { WB_X: "42" } });
  assert.equal(env.stdout, "42");
  const started = Date.now();
  const slow = await execStep({ ...sh("exec sleep 5"), timeoutMs: 200 });
  assert.notEqual(slow.code, 0);
  assert.ok(Date.now() - started < 3_000);
});

Deno.test("formatCommand() quotes what the shell would split", () => {
  assert.equal(
    formatCommand("docker", ["run", "-e", "A=b c", "it's"]),
    `docker run -e 'A=b c' 'it'\\''s'`,
  );
});

Deno.test("runStep() ends a readiness poll at once when stderr says the awaited thing is gone", async () => {
  const dir = await Deno.makeTempDir();
  const count = `${dir}/attempts`;
  await assert.rejects(
    runStep({
      ...sh(
        `echo x >> ${count}; echo 'Error response from daemon: Container 0a is not running' >&2; exit 1`,
      ),
      retryForMs: 30_000,
      giveUpIfStderr: "is not running",
      notReadyMessage: "Postgres of 'web' did not accept connections",
    }),
    (error) => {
      assert.ok(error instanceof ReadinessTimeoutError);
      assert.match(
        error.message,
        /^Postgres of 'web' did not accept connections: it stopped\. Last attempt: Command failed/,
      );
      return true;
    },
  );
  assert.equal((await Deno.readTextFile(count)).trim().split("\n").length, 1, "one attempt");
  await Deno.remove(dir, { recursive: true });
});
