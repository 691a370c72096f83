/**
 * Every command in `README.md` and `docs/*.md` works as written (issue 19).
 *
 * `_doc_commands.ts` finds the commands: fenced `sh`/`bash`/`shell`/`zsh`/`console`
 * blocks, the first column of tables headed `task` or `command`, and code spans in prose
 * that start with `wb ` or `deno task `. A new `docs/*.md` is picked up by itself.
 *
 * Each command is checked by the first of {@linkcode RULES} that matches it:
 * - quick and safe ones run for real: `--help` of every `wb` command, `wb c add|list|show|
 *   update|tag|untag|remove|validate` and `wb complete` on a temporary `WB_HOME` (in
 *   process), `deno task load …` on a throwaway database (spawned exactly as written, capped
 *   with `--facility-limit 20`), `deno task build`, `deno task registry:check`;
 * - long or destructive ones are parsed, not run: `wb run|stop|restart|…` through `wb`'s own
 *   parser with every action replaced by a no-op (unknown commands and options, arity,
 *   choices), `deno task chaos` through `parseChaosArgs`;
 * - some only have their arguments checked against what the script accepts (`deno task
 *   bench`, `deno task start` take none), with the reason they are not run.
 * Environment assignments in front of a command (`FUZZ_RUNS=20000 …`) must name a variable
 * the code reads.
 *
 * ## A command this test does not know
 *
 * It fails with "… is not classified". Then either
 * - it is a `wb` command: add its path (`"user add"`) to {@linkcode WB_RUN} when it is quick
 *   and touches nothing but `WB_HOME`, else to {@linkcode WB_PARSE_ONLY} with the reason;
 * - it is a new `deno task`: add a rule to {@linkcode RULES} (`check` runs it, parses its
 *   arguments, or only checks them, and says why in `reason`);
 * - it is another program (`curl`, `docker`, `psql`…): add a rule that says how to check it,
 *   or that it is not run and why.
 * A synopsis placeholder (`<csv>`, `[targets]`, `N`) needs a value in
 * {@linkcode PLACEHOLDERS}.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseChaosArgs } from "../chaos/args.ts";
import { parseNationalArgs } from "../bench/national_bench.ts";
import { SCENARIOS } from "../chaos/scenarios/mod.ts";
import { buildProgram, main as wb } from "../cli/main.ts";
import { memoryReporter } from "../cli/reporter.ts";
import { parseLoadArgs } from "../server/load.ts";
import { findDefaultGrid3Csv } from "../server/load/mod.ts";
import { createTestDatabase } from "../server/testing/pg.ts";
import {
  type DocCommand,
  expandCommand,
  type ExpandedCommand,
  extractCommands,
  type Placeholders,
} from "./_doc_commands.ts";

const REPO = fileURLToPath(new URL("../", import.meta.url));

/** The documents checked: the README and every `docs/*.md`. */
async function documents(): Promise<string[]> {
  const docs: string[] = [];
  for await (const entry of Deno.readDir(join(REPO, "docs"))) {
    if (entry.isFile && entry.name.endsWith(".md")) docs.push(`docs/${entry.name}`);
  }
  return ["README.md", ...docs.sort()];
}

/** Values of the placeholders synopses use. Add one when a doc uses a new placeholder. */
const PLACEHOLDERS: Placeholders = {
  id: "demo",
  instance: "demo",
  target: "demo",
  targets: "demo",
  email: "ada@example.org",
  hostname: "demo.wb.example.org",
  service: "redis",
  args: "DBSIZE",
  shell: "bash",
  tag: "canary",
  tags: "canary",
  size: "1gb",
  policy: "allkeys-lfu",
  version: "1.4.2",
  command: "--help", // `deno task wb <command>`: the command list
  csv: (await findDefaultGrid3Csv()) ??
    join(REPO, "server", "load", "testdata", "grid3_quoted_names.csv"),
  ref: "wb-local/redis:7",
  repository: "registry.example.org/wb-server",
  N: "2",
  M: "2",
  S: "2",
};

// --- wb ---------------------------------------------------------------------------------

/** `wb` commands that run for real on a temporary `WB_HOME`: quick, touch nothing else. */
const WB_RUN = new Set([
  "", // `wb` alone: its help
  "c",
  "c list",
  "c show",
  "c add",
  "init",
  "c update",
  "c remove",
  "c tag",
  "c untag",
  "c validate",
  "c images",
  "complete",
  "user",
  "proxy", // prints an nginx block for an instance of WB_HOME
]);

/** `wb` commands that are parsed, not run (every `--help` still runs), and why. */
const WB_PARSE_ONLY: Record<string, string> = {
  run: "starts Postgres, Redis and the app (cli/native_runtime_test.ts starts real ones)",
  stop: "stops an instance's services (cli/native_runtime_test.ts)",
  restart: "restarts instances (cli/native_runtime_test.ts, cli/demo_test.ts)",
  status: "probes the services of instances (cli/main_test.ts runs it)",
  pull: "pulls docker images from a registry",
  build: "builds a docker image (docker/wb_e2e.ts builds one on a real engine)",
  logs: "reads the logs of a started instance",
  "redis-cli": "connects to a started instance's Redis",
  "flush-cache": "empties a started instance's caches",
  "user add": "writes to a started instance's database (cli/users_test.ts)",
  "user list": "reads a started instance's database (cli/users_test.ts)",
  "user revoke": "writes to a started instance's database (cli/users_test.ts)",
  "user remove": "writes to a started instance's database (cli/users_test.ts)",
  load: "loads a started instance's database (its loader runs for real as `deno task load`)",
  demo: "starts a whole instance for about a minute (cli/demo_test.ts runs it)",
};

/** `wb`'s command tree, to name the command an argument vector reaches. */
const WB_TREE = buildProgram(
  { home: "/nonexistent", repoRoot: REPO, reporter: memoryReporter() },
  () => {},
);

/** The command path `args` reach (`["c", "add", "x"]` → `"c add"`), aliases resolved. */
function wbPath(args: string[]): string {
  let command = WB_TREE as unknown as typeof WB_TREE.commands[number];
  const path: string[] = [];
  for (const arg of args.filter((a) => a !== "--")) {
    const sub = command.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (sub === undefined) break;
    path.push(sub.name());
    command = sub;
  }
  return path.join(" ");
}

interface Captured {
  code: number;
  output: string;
}

/** Runs `wb` in process with console output captured. */
async function runWb(
  args: string[],
  env: Record<string, string>,
  parseOnly = false,
): Promise<Captured> {
  let output = "";
  const write = (text: string) => output += text.endsWith("\n") ? text : `${text}\n`;
  const saved = { log: console.log, error: console.error };
  console.log = (...parts: unknown[]) => write(parts.join(" "));
  console.error = (...parts: unknown[]) => write(parts.join(" "));
  const reporter = memoryReporter();
  try {
    const code = await wb(args, { NO_COLOR: "1", ...env }, {
      reporter,
      writeOut: write,
      writeErr: write,
      parseOnly,
    });
    for (const line of reporter.lines) write(`${line.level}: ${line.message}`);
    return { code, output };
  } finally {
    Object.assign(console, saved);
  }
}

/** A temporary `WB_HOME` with the instances a command names (ids, `@tag`s) already added. */
async function seededHome(path: string, args: string[]): Promise<string> {
  const home = await Deno.makeTempDir({ prefix: "wb-docs-test-" });
  if (path === "c add" || path === "init") return home;
  const positional = args.slice(path.split(" ").length).filter((a) => !a.startsWith("-"));
  const tags = positional.filter((a) => a.startsWith("@") && a !== "@all").map((a) => a.slice(1));
  const ids = positional.filter((a) => /^[a-z][a-z0-9-]{0,30}$/.test(a));
  // Docker-only settings (images, the publish address) need a docker instance.
  const docker = args.some((a) => /^--((postgres|redis|app|deno)-image|publish-address)$/.test(a));
  for (const id of ids.length ? ids : ["demo"]) {
    const added = await runWb([
      "c",
      "add",
      id,
      ...(tags.length ? ["--tag", ...tags] : []),
      ...(docker ? ["--runtime", "docker"] : []),
    ], { WB_HOME: home });
    assert.equal(added.code, 0, `seeding ${home} with '${id}' failed:\n${added.output}`);
  }
  return home;
}

/**
 * Checks a `wb` command: it parses (a synopsis may leave out required arguments), the
 * `--help` of its command runs, and, when its command is in {@linkcode WB_RUN} (or it asks
 * for help), it runs for real on a temporary `WB_HOME` and exits 0.
 */
async function checkWb(command: ExpandedCommand, args: string[]): Promise<string> {
  const env = { ...command.env, HOME: Deno.env.get("HOME") ?? "/root" };
  const path = wbPath(args);
  const help = args.includes("--help") || args.includes("-h");
  if (!WB_RUN.has(path) && !(path in WB_PARSE_ONLY) && !help) {
    throw new Error(
      `\`wb ${path}\` is not classified: add "${path}" to WB_RUN (quick, touches only ` +
        "WB_HOME) or to WB_PARSE_ONLY with the reason, in docs/commands_test.ts",
    );
  }
  const home = await Deno.makeTempDir({ prefix: "wb-docs-test-" });
  try {
    const parsed = await runWb(args, { ...env, WB_HOME: home }, true);
    const elided = command.doc.kind !== "block" && parsed.code === 2 &&
      /missing required argument/.test(parsed.output);
    if (parsed.code !== 0 && !elided) {
      throw new Error(
        `\`wb ${args.join(" ")}\` does not parse (exit ${parsed.code}):\n${parsed.output}`,
      );
    }
    const pathHelp = await runWb([...path.split(" ").filter(Boolean), "--help"], {
      ...env,
      WB_HOME: home,
    });
    assert.equal(pathHelp.code, 0, `\`wb ${path} --help\` failed:\n${pathHelp.output}`);
    if (elided) return `parsed (arguments left out), wb ${path} --help ran`;
    if (!WB_RUN.has(path) && !help) {
      return `parsed, wb ${path} --help ran; not run: ${WB_PARSE_ONLY[path]}`;
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
  const seeded = await seededHome(path, args);
  try {
    const ran = await runWb(args, { ...env, WB_HOME: seeded });
    if (ran.code !== 0) {
      throw new Error(
        `\`wb ${args.join(" ")}\` exited ${ran.code} on a fresh WB_HOME:\n${ran.output}`,
      );
    }
    return "ran on a temporary WB_HOME, exit 0";
  } finally {
    await Deno.remove(seeded, { recursive: true });
  }
}

// --- deno task ----------------------------------------------------------------------------

const DENO_JSON = JSON.parse(await Deno.readTextFile(join(REPO, "deno.json"))) as {
  tasks: Record<string, string | { command: string }>;
};

/** `deno task <name> …` resolved through deno.json: its script (`deno run` tasks) and args. */
interface Task {
  name: string;
  /** What the task runs, e.g. `deno run -A cli/main.ts demo`. */
  command: string;
  /** For a `deno run` task: the script, relative to the repository. */
  script?: string;
  /** Arguments the script receives: the task's own, then the documented ones. */
  scriptArgs: string[];
  /** The documented arguments after the task name. */
  args: string[];
}

function resolveTask(argv: string[]): Task | undefined {
  if (argv[0] !== "deno" || argv[1] !== "task") return undefined;
  const name = argv[2];
  const definition = DENO_JSON.tasks[name];
  if (definition === undefined) {
    throw new Error(
      `deno.json has no task '${name}' (tasks: ${Object.keys(DENO_JSON.tasks).join(", ")})`,
    );
  }
  const command = typeof definition === "string" ? definition : definition.command;
  const words = command.split(/\s+/);
  const args = argv.slice(3);
  if (words[0] === "deno" && words[1] === "run") {
    const at = words.findIndex((w, i) => i > 1 && !w.startsWith("-"));
    return {
      name,
      command,
      script: words[at],
      scriptArgs: [...words.slice(at + 1), ...args],
      args,
    };
  }
  return { name, command, scriptArgs: args, args };
}

/** Spawns `deno <args>` in the repository; returns exit code and output. */
async function spawnDeno(args: string[], env: Record<string, string> = {}): Promise<Captured> {
  const inherited = Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([name]) =>
      !/^(DATABASE_URL|REDIS_URL|REDIS_CLUSTER_NODES|CACHE_MIRRORS|MIRROR_SECRET)$/.test(name)
    ),
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: REPO,
    env: { ...inherited, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, output: text.decode(out.stdout) + text.decode(out.stderr) };
}

// --- rules --------------------------------------------------------------------------------

/** How one kind of command is checked. The first rule that matches a command checks it. */
interface Rule {
  /** What the rule covers. */
  name: string;
  /** Whether it covers this command (with `deno task` already resolved). */
  match: (command: ExpandedCommand, task: Task | undefined) => boolean;
  /** Throws when the command does not work as documented; returns what was done. */
  check: (command: ExpandedCommand, task: Task | undefined) => Promise<string>;
}

/** A task that is not run: its documented arguments must be ones the script accepts. */
function notRun(reason: string, acceptsArgs: (args: string[]) => void = noArgs): Rule["check"] {
  return (_command, task) => {
    acceptsArgs(task!.args);
    return Promise.resolve(`arguments checked; not run: ${reason}`);
  };
}

function noArgs(args: string[]): void {
  const rest = args[0] === "--" ? args.slice(1) : args;
  assert.ok(
    rest.every((a) => a === "--help" || a === "-h"),
    `this task takes no arguments (only --help), but the doc passes: ${args.join(" ")}`,
  );
}

/** Runs a task as documented (spawned through `deno task`) and expects exit 0. */
function runTask(extraArgs: string[] = []): Rule["check"] {
  return async (command) => {
    const ran = await spawnDeno([...command.argv.slice(1), ...extraArgs], command.env);
    assert.equal(ran.code, 0, `\`${command.text}\` exited ${ran.code}:\n${ran.output}`);
    return "ran, exit 0";
  };
}

const isTask = (name: string) => (_: ExpandedCommand, task: Task | undefined) =>
  task?.name === name;

/** The classification of every command the docs may show. Order matters: first match. */
const RULES: Rule[] = [
  {
    name: "wb (wb …, deno task wb …, deno task demo …)",
    match: (command, task) => command.argv[0] === "wb" || task?.script === "cli/main.ts",
    check: (command, task) => checkWb(command, task ? task.scriptArgs : command.argv.slice(1)),
  },
  {
    name: "deno task load: runs on a throwaway database, capped with --facility-limit 20",
    match: (_, task) => task?.script === "server/load.ts",
    check: async (command, task) => {
      const parsed = parseLoadArgs(task!.scriptArgs); // throws on an unknown option
      if (parsed.help) return runTask()(command, task);
      await using database = await createTestDatabase();
      const limit = parsed.options.facilityLimit ? [] : ["--facility-limit", "20"];
      const ran = await spawnDeno([...command.argv.slice(1), ...limit], {
        ...command.env,
        DATABASE_URL: database.url,
      });
      assert.equal(ran.code, 0, `\`${command.text}\` exited ${ran.code}:\n${ran.output}`);
      const [{ n }] = await database.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM facilities",
      );
      assert.ok(n > 0, `\`${command.text}\` loaded no facilities:\n${ran.output}`);
      return `ran on ${database.name} (${n} facilities), exit 0`;
    },
  },
  {
    name: "deno task chaos: parsed; not run (about 5 minutes, its own Postgres cluster)",
    match: (_, task) => task?.script === "chaos/main.ts",
    check: notRun(
      "about 5 minutes; its figures are in docs/reliability.md",
      (args) => void parseChaosArgs(args, SCENARIOS.map((s) => s.id)),
    ),
  },
  {
    name: "deno task bench",
    match: isTask("bench"),
    check: notRun("about 6 minutes; its tables are in docs/performance.md"),
  },
  {
    name: "deno task bench:national",
    match: isTask("bench:national"),
    check: notRun(
      "a national load (about 27 M HMIS rows) and 1 GiB of cache, tens of minutes; its table is " +
        "in docs/performance.md",
      (args) => void parseNationalArgs(args),
    ),
  },
  {
    name: "deno task start",
    match: isTask("start"),
    check: notRun("a server that runs until stopped (server/main_test.ts boots it)"),
  },
  {
    name: "deno task test",
    match: isTask("test"),
    check: notRun("the suite this test is part of", () => {}),
  },
  {
    name: "deno task security",
    match: isTask("security"),
    check: notRun("part of `deno task test` (server/security/)"),
  },
  {
    name: "deno task check",
    match: isTask("check"),
    check: notRun("about a minute of fmt, lint and type checks; run before each commit"),
  },
  { name: "deno task build", match: isTask("build"), check: runTask() },
  {
    name: "deno task docker:images",
    match: isTask("docker:images"),
    check: notRun(
      "needs root, a Docker engine and mmdebstrap, and minutes; .ci/run runs it",
      (args) =>
        assert.ok(
          args.every((a) => ["--force", "--help", "postgres", "redis", "deno"].includes(a)),
          `docker/images.ts takes --force and image names, not: ${args.join(" ")}`,
        ),
    ),
  },
  {
    name: "deno task test:docker",
    match: isTask("test:docker"),
    check: notRun("the docker suite: a real engine for minutes; .ci/run runs it"),
  },
  { name: "deno task registry:check", match: isTask("registry:check"), check: runTask() },
  {
    name: "deno run -A bench/<file>.ts: the benchmark exists; not run",
    match: (command) =>
      command.argv[0] === "deno" && command.argv[1] === "run" &&
      command.argv.some((a) => /^bench\/[a-z0-9_]+\.ts$/.test(a)),
    check: async (command) => {
      const file = command.argv.find((a) => /^bench\/[a-z0-9_]+\.ts$/.test(a))!;
      assert.ok((await Deno.stat(join(REPO, file))).isFile, `${file} is missing`);
      return "the benchmark exists; not run: benchmarks take minutes on a quiet machine and " +
        "their tables are in docs/performance.md";
    },
  },
  {
    name: "deno run -A chaos/repro/<file>.ts: the file exists; not run",
    match: (command) =>
      command.argv[0] === "deno" && command.argv[1] === "run" &&
      command.argv.some((a) => a.startsWith("chaos/repro/")),
    check: async (command) => {
      const file = command.argv.find((a) => a.startsWith("chaos/repro/"))!;
      assert.ok((await Deno.stat(join(REPO, file))).isFile, `${file} is missing`);
      return "the script exists; not run: each reproduces a fixed bug in 45-60 s " +
        "(output quoted in docs/reliability.md)";
    },
  },
];

/** Every identifier the code mentions, to check documented environment variables. */
const CODE_TEXT = await (async () => {
  const texts: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      if (/^(\.|node_modules$|test-artifacts$|dist$)/.test(entry.name)) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (/\.tsx?$/.test(entry.name) && !path.startsWith(join(REPO, "docs"))) {
        texts.push(await Deno.readTextFile(path));
      }
    }
  };
  await walk(REPO);
  return texts.join("\n");
})();

/**
 * Checks one documented command by its rule.
 *
 * @returns What was done (ran, parsed, why not run).
 * @throws {Error} When it does not work as documented or no rule covers it.
 */
async function checkCommand(command: ExpandedCommand): Promise<string> {
  let argv = command.argv;
  if (argv[0] === "npx") {
    // `npx -y deno@2.9.6 task demo`: the pinned Deno must be the one running these tests.
    const at = argv.findIndex((a) => a.startsWith("deno@"));
    assert.ok(at > 0, `\`${command.text}\`: npx of what?`);
    assert.equal(
      argv[at].slice("deno@".length),
      Deno.version.deno,
      `\`${command.text}\` pins another Deno than the one running the tests`,
    );
    argv = ["deno", ...argv.slice(at + 1)];
  }
  for (const name of Object.keys(command.env)) {
    assert.ok(CODE_TEXT.includes(name), `\`${command.text}\` sets ${name}, which no code reads`);
  }
  const normalized = { ...command, argv, text: argv.join(" ") };
  const task = resolveTask(argv);
  const rule = RULES.find((r) => r.match(normalized, task));
  if (rule === undefined) {
    throw new Error(
      `\`${command.text}\` (${command.doc.file}:${command.doc.line}) is not classified: ` +
        "add a rule to RULES in docs/commands_test.ts saying how to check it (run it, parse " +
        "its arguments, or why it is not run)",
    );
  }
  return await rule.check(normalized, task);
}

// --- tests --------------------------------------------------------------------------------

Deno.test("extractCommands() finds fenced, console, table and prose commands", () => {
  const markdown = [
    "Run `wb status --json` or `deno task test`; `redis-cli` is not ours.",
    "",
    "```sh",
    "deno task chaos --only oom   # a comment",
    "# a comment line",
    "FUZZ_RUNS=5 deno task \\",
    "  security",
    "```",
    "",
    "```console",
    "$ wb c list",
    "web1  8720",
    "```",
    "",
    "```ts",
    "deno task not-a-command",
    "```",
    "",
    "| command | what |",
    "| --- | --- |",
    "| `wb run\\|stop <targets> [--parallel N]` | uses `wb c add` too |",
    "",
    "| variable | default |",
    "| --- | --- |",
    "| `PORT` | `8000` |",
  ].join("\n");
  const found = extractCommands(markdown, "x.md");
  assert.deepEqual(found.map((c) => [c.line, c.kind, c.text]), [
    [1, "prose", "wb status --json"],
    [1, "prose", "deno task test"],
    [4, "block", "deno task chaos --only oom   # a comment"],
    [6, "block", "FUZZ_RUNS=5 deno task security"],
    [11, "block", "wb c list"],
    [21, "table", "wb run|stop <targets> [--parallel N]"],
    [21, "prose", "wb c add"],
  ]);
  const expanded = found.flatMap((c) => expandCommand(c, PLACEHOLDERS));
  assert.deepEqual(expanded.map((c) => [c.argv.join(" "), c.env]), [
    ["wb status --json", {}],
    ["deno task test", {}],
    ["deno task chaos --only oom", {}],
    ["deno task security", { FUZZ_RUNS: "5" }],
    ["wb c list", {}],
    ["wb run demo --parallel 2", {}],
    ["wb stop demo --parallel 2", {}],
    ["wb c add", {}],
  ]);
  assert.throws(
    () => expandCommand({ file: "x.md", line: 1, kind: "table", text: "wb x <nope>" }, {}),
    /add "nope" to PLACEHOLDERS/,
  );
});

Deno.test("checkCommand() fails on an unknown flag, task, command or program", async () => {
  const check = (text: string, kind: DocCommand["kind"] = "block") =>
    Promise.all(
      expandCommand({ file: "x.md", line: 1, kind, text }, PLACEHOLDERS).map(checkCommand),
    );
  await assert.rejects(check("wb run demo --paralel 2"), /does not parse/);
  await assert.rejects(check("deno task wb -- c add x --prot 8720"), /does not parse/);
  await assert.rejects(
    check("wb c show", "block"),
    /does not parse/,
    "a block names every argument",
  );
  await assert.rejects(check("deno task load -- --facilitie x.csv"), /Unknown option/);
  await assert.rejects(check("deno task chaos --only nope"), /unknown scenario/);
  await assert.rejects(check("deno task bench --quick"), /takes no arguments/);
  await assert.rejects(check("deno task frobnicate"), /no task 'frobnicate'/);
  await assert.rejects(check("curl http://127.0.0.1:8000/healthz"), /is not classified/);
  await assert.rejects(check("NO_SUCH_SETTING=1 deno task test"), /no code reads/);
  await assert.rejects(check("npx -y deno@1.0.0 task test"), /pins another Deno/);
  // A synopsis may leave out required arguments, not misspell an option.
  assert.match((await check("wb c show", "prose"))[0], /arguments left out/);
  await assert.rejects(check("wb restart <id> --paralel N", "table"), /does not parse/);
});

Deno.test("every command in README.md and docs/*.md works as written", async (t) => {
  const seen = new Map<string, string>();
  let commands = 0;
  for (const file of await documents()) {
    const markdown = await Deno.readTextFile(join(REPO, file));
    for (const doc of extractCommands(markdown, file)) {
      for (const command of expandCommand(doc, PLACEHOLDERS)) {
        commands++;
        const key = JSON.stringify([command.env, command.argv, doc.kind === "block"]);
        const name = `${file}:${doc.line} ${command.text}`;
        if (seen.has(key)) continue; // checked already, at the first place it appears
        seen.set(key, name);
        await t.step(name, async () => void await checkCommand(command));
      }
    }
  }
  // The extractor must not go blind: the README's two setup commands and its loader commands.
  const checked = [...seen.values()].join("\n");
  for (
    const expected of [
      "README.md:12 npx -y deno@",
      "README.md:20 npx -y deno@",
      "deno task load --facilities",
      "deno task load -- --scale",
    ]
  ) {
    assert.ok(checked.includes(expected), `no command '${expected}' found in the docs`);
  }
  assert.ok(commands > 20, `only ${commands} commands found`);
});

Deno.test("every example in wb's help texts parses", async () => {
  const paths: string[][] = [];
  const walk = (command: typeof WB_TREE.commands[number], path: string[]) => {
    paths.push(path);
    for (const sub of command.commands) walk(sub, [...path, sub.name()]);
  };
  walk(WB_TREE as unknown as typeof WB_TREE.commands[number], []);
  const home = await Deno.makeTempDir({ prefix: "wb-docs-test-" });
  try {
    let examples = 0;
    for (const path of paths) {
      const help = await runWb([...path, "--help"], { WB_HOME: home });
      assert.equal(help.code, 0, `wb ${path.join(" ")} --help:\n${help.output}`);
      for (const [, line] of help.output.matchAll(/^\s+\$ (wb .*)$/gm)) {
        const doc: DocCommand = {
          file: `wb ${path.join(" ")} --help`,
          line: 0,
          kind: "block",
          text: line,
        };
        for (const command of expandCommand(doc, PLACEHOLDERS)) {
          const parsed = await runWb(command.argv.slice(1), { WB_HOME: home }, true);
          assert.equal(
            parsed.code,
            0,
            `example \`${command.text}\` does not parse:\n${parsed.output}`,
          );
          examples++;
        }
      }
    }
    assert.ok(examples > 30, `only ${examples} examples found`);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
