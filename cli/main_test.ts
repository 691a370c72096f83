import assert from "node:assert/strict";
import { loadConfig } from "./config.ts";
import { buildProgram, dropTaskSeparator, EXIT, main, STATUS_EXIT } from "./main.ts";
import { memoryReporter } from "./reporter.ts";

async function withHome(fn: (env: Record<string, string>, home: string) => Promise<void>) {
  const home = await Deno.makeTempDir({ prefix: "wb-main-test-" });
  try {
    await fn({ WB_HOME: home, NO_COLOR: "1" }, home);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("main() exits 2 on usage errors: unknown command, bad id, bad port, bad runtime", async () => {
  await withHome(async (env) => {
    assert.equal(await main(["frobnicate"], env), EXIT.usage);
    assert.equal(await main(["init", "Bad_Id"], env), EXIT.usage);
    assert.equal(await main(["init", "ok", "--port", "99999"], env), EXIT.usage);
    assert.equal(await main(["init", "ok", "--runtime", "podman"], env), EXIT.usage);
    assert.equal(await main(["run"], env), EXIT.usage, "targets are required");
  });
});

Deno.test("main() init stores the instance; an unknown target exits 1", async () => {
  await withHome(async (env, home) => {
    assert.equal(
      await main(
        ["init", "alpha", "--port", "18500", "--tag", "blue", "green", "--label", "Alpha"],
        env,
      ),
      EXIT.ok,
    );
    const [alpha] = (await loadConfig(home)).instances;
    assert.deepEqual(
      {
        id: alpha.id,
        port: alpha.port,
        tags: alpha.tags,
        label: alpha.label,
        pg: alpha.postgresPort,
        redis: alpha.redisPort,
      },
      {
        id: "alpha",
        port: 18500,
        tags: ["blue", "green"],
        label: "Alpha",
        pg: 28500,
        redis: 38500,
      },
    );
    assert.equal(await main(["init", "alpha"], env), EXIT.failure, "ids are unique");
    assert.equal(await main(["stop", "nope"], env), EXIT.failure);
    assert.equal(await main(["status", "@blue"], env), STATUS_EXIT.stopped);
    assert.equal(await main(["--help"], env), EXIT.ok);
  });
});

Deno.test("every wb command's --help has examples", async () => {
  const home = await Deno.makeTempDir({ prefix: "wb-main-test-" });
  try {
    const program = buildProgram({ home, repoRoot: ".", reporter: memoryReporter() }, () => {});
    const all = (command: typeof program): (typeof program)[] => [
      command,
      ...command.commands.flatMap((c) => all(c as typeof program)),
    ];
    const names: string[] = [];
    for (const command of all(program)) {
      // commander's own `help`, and tab's hidden `complete -- <words>` (same name as ours).
      if (command.name() === "help" || (command as unknown as { _hidden: boolean })._hidden) {
        continue;
      }
      let help = "";
      command.configureOutput({ writeOut: (text) => help += text });
      command.outputHelp();
      assert.match(help, /\nExamples:\n {2}\$ wb /, `wb ${command.name()} --help has examples`);
      names.push(command.parent?.name() === "c" ? `c ${command.name()}` : command.name());
    }
    for (
      const expected of [
        "c list",
        "c show",
        "c add",
        "c update",
        "c remove",
        "c tag",
        "c untag",
        "c validate",
        "run",
        "stop",
        "restart",
        "status",
        "pull",
        "logs",
        "redis-cli",
        "flush-cache",
        "complete",
      ]
    ) {
      assert.ok(names.includes(expected), `${expected} is a command`);
    } // deno-fmt-ignore
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("main() c commands: add, tag, validate exit 0; a bad version exits 2, a port clash 1", async () => {
  await withHome(async (env, home) => {
    assert.equal(await main(["c", "add", "web", "--port", "18600", "--tag", "eu"], env), EXIT.ok);
    assert.equal(
      await main(["c", "add", "api", "--port", "18610", "--server-version", "1 0"], env),
      EXIT.usage,
    );
    assert.equal(await main(["c", "add", "api", "--port", "18600"], env), EXIT.failure);
    assert.equal(await main(["c", "update", "web", "--redis-policy", "lru"], env), EXIT.usage);
    assert.equal(await main(["c", "update", "web", "--redis-maxmemory", "1gb"], env), EXIT.ok);
    assert.equal(await main(["c", "tag", "@eu", "canary"], env), EXIT.ok);
    assert.equal(await main(["c", "untag", "web", "eu"], env), EXIT.ok);
    assert.equal(await main(["c", "validate"], env), EXIT.ok);
    assert.equal(await main(["c", "show", "nope"], env), EXIT.failure);
    assert.equal(await main(["restart", "web", "--parallel", "0"], env), EXIT.usage);
    const [web] = (await loadConfig(home)).instances;
    assert.deepEqual([web.tags, web.redisMaxmemory], [["canary"], "1gb"]);
    await Deno.writeTextFile(
      `${home}/servers.json`,
      JSON.stringify({ instances: [web, { ...web, id: "dup" }] }),
    );
    assert.equal(await main(["c", "validate"], env), EXIT.failure, "duplicate ports");
  });
});

Deno.test("wb complete: a bash script for `wb`, and targets completed from servers.json", async () => {
  await withHome(async (env) => {
    assert.equal(await main(["c", "add", "web", "--port", "18600", "--tag", "eu"], env), EXIT.ok);
    const wb = async (...args: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL("./main.ts", import.meta.url).pathname, ...args],
        env: { ...env, DENO_NO_UPDATE_CHECK: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      return new TextDecoder().decode(out.stdout);
    };
    const script = await wb("complete", "bash");
    assert.match(script, /^# bash completion for wb/);
    assert.match(script, /complete .*wb/);
    const targets = (await wb("complete", "--", "restart", "")).split("\n");
    for (const word of ["@all", "@eu", "web", "server=latest"]) {
      assert.ok(targets.some((l) => l.startsWith(`${word}\t`)), `${word} in ${targets}`);
    }
    const commands = (await wb("complete", "--", "c", "")).split("\n").map((l) => l.split("\t")[0]);
    for (const c of ["list", "show", "add", "update", "remove", "tag", "untag", "validate"]) {
      assert.ok(commands.includes(c), `c ${c}`);
    }
  });
});

Deno.test("dropTaskSeparator() drops the `--` deno task passes on, only where no argument can follow", () => {
  const program = buildProgram(
    { home: "/nonexistent", repoRoot: ".", reporter: memoryReporter() },
    () => {},
  );
  assert.deepEqual(dropTaskSeparator(program, ["--", "c", "add", "x"]), ["c", "add", "x"]);
  assert.deepEqual(dropTaskSeparator(program, ["demo", "--", "--once"]), ["demo", "--once"]);
  assert.deepEqual(dropTaskSeparator(program, ["user", "--", "add", "x", "a@b.c"]), [
    "user",
    "add",
    "x",
    "a@b.c",
  ]);
  // After an argument, `--` keeps its meaning (here: redis-cli's arguments).
  const redisCli = ["redis-cli", "demo", "--", "--scan"];
  assert.deepEqual(dropTaskSeparator(program, redisCli), redisCli);
  // The shells' completion call: `complete` takes an argument, so its `--` stays.
  const complete = ["complete", "--", "restart", ""];
  assert.deepEqual(dropTaskSeparator(program, complete), complete);
  assert.deepEqual(dropTaskSeparator(program, ["status"]), ["status"]);
});

Deno.test("main() accepts the `--` of `deno task wb -- …` and `deno task demo -- …`", async () => {
  await withHome(async (env, home) => {
    assert.equal(await main(["--", "c", "add", "web", "--port", "18700"], env), EXIT.ok);
    assert.equal((await loadConfig(home)).instances[0].port, 18700);
    const errors: string[] = [];
    const code = await main(["demo", "--", "--onse"], env, {
      parseOnly: true,
      writeErr: (text) => errors.push(text),
    });
    assert.equal(code, EXIT.usage, "an unknown option behind the `--` is still refused");
    assert.match(errors.join(""), /unknown option '--onse'/);
    assert.equal(await main(["demo", "--", "--once"], env, { parseOnly: true }), EXIT.ok);
  });
});
