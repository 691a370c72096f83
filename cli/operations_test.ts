/**
 * `wb` on a bad day (issue 15), with real processes: concurrent `wb c add` and lifecycle
 * commands, restarts refused before anything stops, SIGINT at each step of a restart,
 * `wb status` for every kind of failure and its exit codes, `wb restart @all` leaving
 * stopped instances alone.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { tempWb } from "./_test_helpers.ts";
import { loadConfig } from "./config.ts";
import { type Instance } from "./instance_schema.ts";
import { updateInstance } from "./config_update.ts";
import { CliError } from "./errors.ts";
import { runtimeFor } from "./instances.ts";
import {
  restartTargets,
  runTargets,
  STATUS_EXIT,
  statusExitCode,
  statusTargets,
  stopTargets,
} from "./lifecycle_targets.ts";
import { initInstance } from "./init_instance.ts";
import { formatStatusTable } from "./status.ts";
import { nativePaths } from "./native_plan.ts";
import { freePort, isAlive, probeHttp, readPidFile } from "./process.ts";

const FAKE_APP = [
  Deno.execPath(),
  "run",
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  new URL("./testdata/fake_app.ts", import.meta.url).pathname,
];
const WB = new URL("./testdata/wb_fake_app.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

/** `wb <args>` as a separate process (with the fake app); its output as it arrives. */
function spawnWb(home: string, args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", WB, ...args],
    env: { WB_HOME: home, CI: "true", NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const listeners: (() => void)[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      output += decoder.decode(chunk);
      listeners.forEach((l) => l());
    }
  };
  const done = Promise.all([pump(child.stdout), pump(child.stderr), child.status]).then((
    [, , status],
  ) => status);
  return {
    child,
    done,
    output: () => output,
    /** Resolves once the output matches `pattern` (or the process ended). */
    waitFor: (pattern: RegExp) =>
      new Promise<boolean>((resolve) => {
        const check = () => {
          if (pattern.test(output)) resolve(true);
        };
        listeners.push(check);
        check();
        done.then(() => resolve(pattern.test(output)));
      }),
  };
}

async function nativeInstance(wb: Awaited<ReturnType<typeof tempWb>>, id: string) {
  return await initInstance(wb.context, id, {
    port: freePort(),
    postgresPort: freePort(),
    redisPort: freePort(),
  });
}

/** Polls an instance's /healthz until stopped; counts the failed probes. */
function watch(instance: Instance) {
  let running = true;
  let failures = 0;
  let probes = 0;
  const loop = (async () => {
    while (running) {
      const probe = await probeHttp(`http://127.0.0.1:${instance.port}/healthz`, 5_000);
      probes++;
      if (!probe.ok) failures++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { failures, probes };
    },
  };
}

Deno.test({
  name:
    "4 concurrent `wb c add` each land with a distinct port; 2 concurrent lifecycle commands on one instance serialise and the last one wins",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using wb = await tempWb({ appCommand: FAKE_APP, healthTimeoutMs: 20_000 });
    const adds = ["a1", "a2", "a3", "a4"].map((id) => spawnWb(wb.home, ["c", "add", id]));
    const codes = await Promise.all(adds.map((a) => a.done.then((s) => s.code)));
    assert.deepEqual(codes, [0, 0, 0, 0], adds.map((a) => a.output()).join("\n"));
    const { instances } = await loadConfig(wb.home);
    assert.deepEqual(instances.map((i) => i.id).sort(), ["a1", "a2", "a3", "a4"]);
    assert.equal(new Set(instances.map((i) => i.port)).size, 4, "distinct ports");

    const instance = await nativeInstance(wb, "life");
    await runTargets(wb.context, ["life"]);
    try {
      // Two commands at once, each with its own lock holder: they run one after the other.
      const log: { command: string; message: string }[] = [];
      const contextOf = (command: string) => {
        const record = (message: string) => log.push({ command, message });
        return {
          ...wb.context,
          reporter: { step: record, info: record, warn: record },
          command,
          lockWaitMs: 60_000,
        };
      };
      await Promise.all([
        restartTargets(contextOf("wb restart life"), ["life"]),
        stopTargets(contextOf("wb stop life"), ["life"]),
      ]);
      // The first step each takes under the lock, and its last line.
      const firstStep = (command: string) =>
        log.findIndex((l) =>
          l.command === command && /^(Check that|Stop the app|The app of)/.test(l.message)
        );
      const lastLine = (command: string) =>
        log.findLastIndex((l) =>
          l.command === command && /^(Restarted|Stopped) 'life'/.test(l.message)
        );
      const spans = ["wb restart life", "wb stop life"].map((c) => ({
        c,
        from: firstStep(c),
        to: lastLine(c),
      })).sort((a, b) => a.from - b.from);
      assert.ok(spans.every((s) => s.from >= 0 && s.to > s.from), JSON.stringify(log));
      assert.ok(spans[0].to < spans[1].from, `no interleaving: ${JSON.stringify(log)}`);
      const last = spans[1].c.split(" ")[1];
      const [status] = await statusTargets(wb.context, ["life"]);
      assert.equal(
        status.verdict,
        last === "stop" ? "stopped" : "healthy",
        `the final state is the last command's (${spans.map((s) => s.c).join(" then ")})`,
      );

      // --wait 0: a held lock fails at once, naming its holder.
      const { lockInstance } = await import("./instances.ts");
      await using _held = await lockInstance(
        { ...wb.context, command: "wb restart life" },
        instance,
      );
      await assert.rejects(
        runTargets({ ...wb.context, lockWaitMs: 0 }, ["life"]),
        (error) =>
          error instanceof CliError && error.code === "locked" &&
          /instance 'life' is busy: `wb restart life` \(pid \d+/.test(error.message),
      );
    } finally {
      await stopTargets(wb.context, ["life"]);
    }
  },
});

Deno.test({
  name:
    "wb restart refuses before stopping anything when the start could not succeed (a foreign listener on the new app port; a duplicate port in servers.json); the instance keeps answering",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using wb = await tempWb({ appCommand: FAKE_APP, healthTimeoutMs: 20_000 });
    const instance = await nativeInstance(wb, "keep");
    await runTargets(wb.context, ["keep"]);
    const pids = await Promise.all(
      [nativePaths(instance.instanceDir).appPidFile, nativePaths(instance.instanceDir).redisPidFile]
        .map(readPidFile),
    );
    const watcher = watch(instance);
    try {
      // 1. The next port is held by another program.
      const foreign = Deno.listen({ hostname: "127.0.0.1", port: freePort() });
      const foreignPort = (foreign.addr as Deno.NetAddr).port;
      await updateInstance(wb.context, "keep", { port: foreignPort });
      await assert.rejects(restartTargets(wb.context, ["keep"]), (error) => {
        assert.ok(error instanceof CliError);
        assert.equal(error.code, "preflight");
        assert.match(error.message, /Not restarting 'keep': its start could not succeed/);
        assert.match(
          error.message,
          new RegExp(`app port ${foreignPort} is held by another program`),
        );
        return true;
      });
      foreign.close();
      await updateInstance(wb.context, "keep", { port: instance.port });

      // 2. Another instance was given the same port by hand.
      const path = join(wb.home, "servers.json");
      const raw = JSON.parse(await Deno.readTextFile(path));
      raw.instances.push({
        id: "twin",
        port: instance.port,
        runtime: "native",
        postgresPort: freePort(),
        redisPort: freePort(),
      });
      await Deno.writeTextFile(path, JSON.stringify(raw));
      await assert.rejects(restartTargets(wb.context, ["keep"]), (error) => {
        assert.ok(error instanceof CliError);
        assert.equal(error.code, "preflight");
        assert.match(
          error.message,
          new RegExp(
            `servers.json: port ${instance.port}: app port of 'keep' and app port of 'twin'`,
          ),
        );
        return true;
      });
      const [twin] = await statusTargets(wb.context, ["twin"]);
      assert.equal(twin.verdict, "unhealthy", "twin's port answers as 'keep'");
      assert.ok(twin.problems.some((p) => /answers as instance 'keep', not 'twin'/.test(p)));
      assert.equal(statusExitCode([twin]), STATUS_EXIT.unhealthy);
    } finally {
      const seen = await watcher.stop();
      assert.equal(seen.failures, 0, `the instance answered all ${seen.probes} probes`);
      for (const pid of pids) assert.ok(pid !== undefined && await isAlive(pid), "not restarted");
      await stopTargets(wb.context, ["keep"]);
    }
  },
});

Deno.test({
  name:
    "SIGINT to `wb restart` at each step: afterwards the instance is running and healthy or fully stopped, exit 130, and the message says which",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using wb = await tempWb({ appCommand: FAKE_APP, healthTimeoutMs: 20_000 });
    const instance = await nativeInstance(wb, "sig");
    const steps = [
      /Check that 'sig' can start/,
      /Stop the app of 'sig'/,
      /Stop Redis of 'sig'/,
      /Stop Postgres/,
      /Start Postgres/,
      /Wait for Postgres/,
      /Start Redis/,
      /Start the app of 'sig'/,
      /Wait for http:/,
    ];
    const outcomes: string[] = [];
    try {
      for (const step of steps) {
        await runTargets(wb.context, ["sig"]);
        const wbProcess = spawnWb(wb.home, ["restart", "sig"]);
        assert.ok(await wbProcess.waitFor(step), `saw ${step}:\n${wbProcess.output()}`);
        wbProcess.child.kill("SIGINT");
        const { code } = await wbProcess.done;
        const text = wbProcess.output();
        const [status] = await statusTargets(wb.context, ["sig"]);
        const said = text.match(/'sig' is (running and healthy|stopped)/)?.[1];
        outcomes.push(`${step.source}: exit ${code}, ${status.verdict}, said ${said}`);
        assert.equal(code, 130, `${step}: exit 130\n${text}`);
        assert.ok(said, `${step}: the message says where the instance is:\n${text}`);
        if (said === "stopped") {
          assert.equal(status.verdict, "stopped", `${step}: fully stopped\n${text}`);
          const pids = await Promise.all(
            [
              nativePaths(instance.instanceDir).appPidFile,
              nativePaths(instance.instanceDir).redisPidFile,
            ]
              .map(readPidFile),
          );
          for (const pid of pids) assert.ok(pid === undefined || !await isAlive(pid));
        } else {
          assert.equal(status.verdict, "healthy", `${step}: running and healthy\n${text}`);
        }
      }
      console.log(outcomes.join("\n"));
    } finally {
      await stopTargets(wb.context, ["sig"]);
    }
  },
});

Deno.test({
  name:
    "wb status shows each failure as it is (Redis down, Postgres down, app down, a duplicate port, the Docker daemon down) with the documented exit codes",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using wb = await tempWb({ appCommand: FAKE_APP, healthTimeoutMs: 20_000 });
    const instance = await nativeInstance(wb, "st");
    const runtime = runtimeFor(wb.context, instance);
    const check = async (
      verdict: string,
      exit: number,
      problem?: RegExp,
      targets = ["st"],
    ) => {
      const statuses = await statusTargets(wb.context, targets);
      const [status] = statuses;
      assert.equal(status.verdict, verdict, status.problems.join("; "));
      if (problem) {
        assert.ok(status.problems.some((p) => problem.test(p)), status.problems.join("; "));
      }
      assert.equal(statusExitCode(statuses), exit);
      return formatStatusTable(statuses);
    };
    try {
      await check("stopped", STATUS_EXIT.stopped);
      await runTargets(wb.context, ["st"]);
      const healthy = await check("healthy", STATUS_EXIT.healthy);
      assert.match(healthy, /\bhealthy\b/);

      const redisPid = (await readPidFile(nativePaths(instance.instanceDir).redisPidFile))!;
      Deno.kill(redisPid, "SIGKILL");
      while (await isAlive(redisPid)) await new Promise((r) => setTimeout(r, 20));
      const degraded = await check("degraded", STATUS_EXIT.unhealthy, /cannot reach Redis/);
      assert.match(degraded, /degraded/);
      await runTargets(wb.context, ["st"]);
      await check("healthy", STATUS_EXIT.healthy);

      await runtime.stop(instance, "postgres");
      await check("unhealthy", STATUS_EXIT.unhealthy, /the app cannot reach Postgres/);
      const [down] = await statusTargets(wb.context, ["st"]);
      assert.equal(down.app?.postgres, "down", "/healthz says Postgres is down");
      assert.ok(down.problems.includes("postgres is stopped"));
      await runTargets(wb.context, ["st"]);

      await runtime.stop(instance, "app");
      await check("unhealthy", STATUS_EXIT.unhealthy, /^app is stopped$/);
      await runTargets(wb.context, ["st"]);

      const path = join(wb.home, "servers.json");
      const raw = JSON.parse(await Deno.readTextFile(path));
      raw.instances.push({ id: "dup", port: instance.port, runtime: "docker" });
      await Deno.writeTextFile(path, JSON.stringify(raw));
      await check(
        "unhealthy",
        STATUS_EXIT.unhealthy,
        new RegExp(`port ${instance.port}: app port of 'st' and app port of 'dup'`),
      );
      raw.instances.pop();

      // A docker instance whose daemon does not answer: unknown, not "absent".
      const bin = join(wb.home, "bin");
      await Deno.mkdir(bin);
      await Deno.writeTextFile(
        join(bin, "docker"),
        "#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2\nexit 1\n",
        { mode: 0o755 },
      );
      raw.instances.push({ id: "dock", port: freePort(), runtime: "docker" });
      await Deno.writeTextFile(path, JSON.stringify(raw));
      wb.context.env = { PATH: `${bin}:${Deno.env.get("PATH")}` };
      const table = await check("unknown", STATUS_EXIT.unknown, /Docker daemon is unreachable/, [
        "dock",
      ]);
      assert.match(table, /unknown/);
      assert.doesNotMatch(table, /absent/);
      const both = await statusTargets(wb.context, ["@all"]);
      assert.equal(statusExitCode(both), STATUS_EXIT.unknown, "healthy + unknown is 4");
      wb.context.env = undefined;
    } finally {
      await stopTargets(wb.context, ["st"]);
    }
  },
});

Deno.test({
  name:
    "wb restart @all restarts only the running instances; --start-stopped starts the others; an id named explicitly is restarted",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using wb = await tempWb({ appCommand: FAKE_APP, healthTimeoutMs: 20_000 });
    await nativeInstance(wb, "up1");
    await nativeInstance(wb, "down1");
    try {
      await runTargets(wb.context, ["up1"]);
      const results = await restartTargets(wb.context, ["@all"]);
      assert.deepEqual(results.map((r) => [r.id, r.outcome]), [["up1", "ok"], [
        "down1",
        "skipped",
      ]]);
      assert.match(results[1].warnings[0], /'down1' is stopped; left stopped \(--start-stopped/);
      let statuses = await statusTargets(wb.context, ["@all"]);
      assert.deepEqual(statuses.map((s) => s.verdict), ["healthy", "stopped"]);

      await restartTargets(wb.context, ["@all"], { startStopped: true });
      statuses = await statusTargets(wb.context, ["@all"]);
      assert.deepEqual(statuses.map((s) => s.verdict), ["healthy", "healthy"]);

      await stopTargets(wb.context, ["down1"]);
      await restartTargets(wb.context, ["down1"]);
      assert.equal((await statusTargets(wb.context, ["down1"]))[0].verdict, "healthy");
    } finally {
      await stopTargets(wb.context, ["@all"]);
    }
  },
});
