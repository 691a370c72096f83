/**
 * `wb`: the operator CLI. This entry only parses arguments, builds the context from the
 * environment, installs the SIGINT/SIGTERM handlers of lifecycle commands and maps errors
 * to exit codes (0 ok, 1 failure, 2 usage, 130 interrupted; `wb status`: see
 * {@linkcode STATUS_EXIT}). Each command group's options are in `cli/commands/` (one module
 * per group); the work is in the functions of `cli/mod.ts`.
 *
 * @module
 */

import { Command, CommanderError, type CommandUnknownOpts } from "@commander-js/extra-typings";
import tab from "@bomb.sh/tab/commander";
import { addConfigCommands, addInitCommand } from "./commands/config.ts";
import { addInstanceCommands } from "./commands/instance.ts";
import { addDemoCommand, addLifecycleCommands } from "./commands/lifecycle.ts";
import { type CommandEnv, examples, EXIT, TARGETS } from "./commands/shared.ts";
import { addUserCommands } from "./commands/users.ts";
import { resolveWbHome, targetCompletions } from "./config.ts";
import { defaultRepoRoot, type WbContext } from "./context.ts";
import { CliError } from "./errors.ts";
import { imageSettingsFromEnv } from "./images.ts";
import { STATUS_EXIT } from "./lifecycle_targets.ts";
import { consoleReporter, type Reporter, spinnerReporter } from "./reporter.ts";

export { EXIT, STATUS_EXIT };

/** Options of {@linkcode buildProgram}. */
export interface ProgramOptions {
  /** Whether stdin is a terminal (`wb redis-cli` then gets one in docker). @default {false} */
  stdinIsTty?: boolean;
  /** Receives help text (`--help`). @default {commander's: stdout} */
  writeOut?: (text: string) => void;
  /** Receives usage errors and the help shown after them. @default {commander's: stderr} */
  writeErr?: (text: string) => void;
  /**
   * Lifecycle commands (`run`, `stop`, `restart`, `demo`) handle SIGINT and SIGTERM: the
   * first finishes the step under way and rolls back (exit 130), a second exits at once.
   * `main()` turns it on; tests pass their own `context.signal`. @default {false}
   */
  handleSignals?: boolean;
}

/**
 * Runs `work` with SIGINT and SIGTERM turned into an abort of the signal it receives:
 * the first asks the lifecycle code to finish the step under way and roll back, a second
 * exits at once (130), saying the instance may be half-started.
 */
async function withSignals<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const handlers: [Deno.Signal, () => void][] = (["SIGINT", "SIGTERM"] as const).map((
    name,
  ) => [name, () => {
    if (controller.signal.aborted) {
      console.error(
        `\n${name} again: exiting now; the instance may be half-started or half-stopped (check \`wb status\`)`,
      );
      Deno.exit(EXIT.interrupted);
    }
    console.error(
      `\n${name}: finishing the step under way, then rolling back a partial start (again to exit now)`,
    );
    controller.abort(name);
  }]);
  for (const [name, handler] of handlers) Deno.addSignalListener(name, handler);
  try {
    return await work(controller.signal);
  } finally {
    for (const [name, handler] of handlers) Deno.removeSignalListener(name, handler);
  }
}

/**
 * Builds the commander program bound to a context.
 *
 * @param context The context every command uses.
 * @param setExit Receives the exit code a command wants (e.g. 1 when the demo's cache did
 *   not survive the restart, or redis-cli's own exit code).
 * @param options Terminal facts.
 * @returns The program; call `parseAsync(args, { from: "user" })`.
 * @example
 * ```ts
 * import { buildProgram } from "./main.ts";
 * import { memoryReporter } from "./reporter.ts";
 * const program = buildProgram({ home: "/tmp/wb", repoRoot: ".", reporter: memoryReporter() }, () => {});
 * ```
 */
export function buildProgram(
  context: WbContext,
  setExit: (code: number) => void,
  options: ProgramOptions = {},
) {
  const print = (text: string) => context.reporter.info(text);
  const program = new Command()
    .name("wb")
    .description(
      "Operate health-analytics server instances (Postgres + Redis + app).\n" +
        `Targets: ${TARGETS}. Config: $WB_HOME/servers.json (default ~/.wb).`,
    )
    .configureOutput({
      ...(options.writeOut ? { writeOut: options.writeOut } : {}),
      ...(options.writeErr ? { writeErr: options.writeErr } : {}),
    })
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride()
    .addHelpText(
      "after",
      examples(
        "wb c add web1 --port 8720 --tag prod",
        "wb run @prod",
        "wb restart @all            # rolling: one instance at a time",
        "wb status --json",
        "wb complete bash > /etc/bash_completion.d/wb",
      ),
    );

  const env: CommandEnv = {
    context,
    setExit,
    print,
    stdinIsTty: options.stdinIsTty ?? false,
    guard: options.handleSignals ? withSignals : (work) => work(),
  };
  addInitCommand(
    program,
    "init",
    "create an instance: config entry, directories, secrets (= wb c add)",
    env,
  );
  addConfigCommands(program, env);
  addLifecycleCommands(program, env);
  addInstanceCommands(program, env);
  addUserCommands(program, env);
  addDemoCommand(program, env);

  addCompletions(program, context.home);
  return program;
}

/** `wb complete <shell>` (and the hidden `complete -- <words>`), with targets completed. */
function addCompletions(program: Command, home: string): void {
  const completion = tab(program as never);
  const services = ["app", "redis", "postgres", "admin"];
  for (const command of completion.commands.values()) {
    for (const [name, argument] of command.arguments) {
      if (name === "targets" || name === "target") {
        argument.handler = (complete) => {
          for (const [value, description] of targetCompletions(home)) complete(value, description);
        };
      } else if (name === "id") {
        argument.handler = (complete) => {
          for (const [value, description] of targetCompletions(home)) {
            if (!value.startsWith("@") && !value.startsWith("server=")) {
              complete(value, description);
            }
          }
        };
      } else if (name === "service") {
        argument.handler = (complete) => services.forEach((s) => complete(s, "service"));
      }
    }
  }
  const shell = program.commands.find((cmd) => cmd.name() === "complete");
  shell?.addHelpText(
    "after",
    examples(
      "wb complete bash > /etc/bash_completion.d/wb",
      'wb complete zsh > "${fpath[1]}/_wb"',
      "wb complete fish > ~/.config/fish/completions/wb.fish",
      "# wb must be on PATH, e.g.: deno install -g -A -n wb --config cli/deno.json cli/main.ts",
    ),
  );
}

/**
 * Drops the `--` that `deno task` passes through: `deno task wb -- c add x --port 1` runs
 * `cli/main.ts -- c add x --port 1`, and `deno task demo -- --once` runs
 * `cli/main.ts demo -- --once`. Only a `--` preceded by nothing but command names, of a
 * command that takes no arguments, is dropped; elsewhere it keeps its meaning
 * (`wb redis-cli demo -- --scan`, and `wb complete -- <words>`, which shells call).
 *
 * @param program The program (its command names decide).
 * @param args Command-line arguments (without the program).
 * @returns `args` without that `--`.
 * @example
 * ```ts
 * import { buildProgram, dropTaskSeparator } from "./main.ts";
 * import { memoryReporter } from "./reporter.ts";
 * const program = buildProgram({ home: "/tmp/wb", repoRoot: ".", reporter: memoryReporter() }, () => {});
 * dropTaskSeparator(program, ["demo", "--", "--once"]); // ["demo", "--once"]
 * ```
 */
export function dropTaskSeparator(program: CommandUnknownOpts, args: string[]): string[] {
  let command = program;
  for (const [i, arg] of args.entries()) {
    if (arg === "--") {
      return command.registeredArguments.length === 0
        ? [...args.slice(0, i), ...args.slice(i + 1)]
        : args;
    }
    const sub = command.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (sub === undefined) return args;
    command = sub;
  }
  return args;
}

/** Options of {@linkcode main}: where output goes, and whether to run anything. */
export interface MainOptions {
  /** Receives progress and results. @default {a spinner on a terminal, else console lines} */
  reporter?: Reporter;
  /** Receives help text. @default {stdout} */
  writeOut?: (text: string) => void;
  /** Receives usage errors and failure messages. @default {stderr} */
  writeErr?: (text: string) => void;
  /**
   * Parse and check the arguments (commands, options, arity, choices), run no command:
   * exit 0 when they parse, 2 when not. The docs test checks documented commands this way.
   * @default {false}
   */
  parseOnly?: boolean;
  /** Context fields a test entry sets (a fake app command, short timeouts). */
  context?: Partial<Omit<WbContext, "reporter">>;
}

/**
 * Runs `wb` with arguments and environment; returns the exit code.
 *
 * @param args Command-line arguments (without the program); a leading `--` from
 *   `deno task` is dropped ({@linkcode dropTaskSeparator}).
 * @param env Environment (`WB_HOME`, `HOME`, `NO_COLOR`, `CI`, `TERM`).
 * @param options Output destinations; `parseOnly`; context fields a test entry sets.
 * @returns 0 on success, 1 on failure, 2 on a usage error, 130 when interrupted (SIGINT,
 *   SIGTERM); `wb status` 0, 1, 3 or 4 ({@linkcode STATUS_EXIT}).
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * const code = await main(["status"], { WB_HOME: await Deno.makeTempDir() });
 * ```
 */
export async function main(
  args: string[],
  env: Record<string, string>,
  options: MainOptions = {},
): Promise<number> {
  const color = !env.NO_COLOR && Deno.stdout.isTerminal();
  const interactive = Deno.stderr.isTerminal() && !env.CI && env.TERM !== "dumb";
  const reporter = options.reporter ??
    (interactive ? spinnerReporter({ color }) : consoleReporter({ color }));
  const writeErr = options.writeErr ?? ((text: string) => console.error(text.trimEnd()));
  let exitCode: number = EXIT.ok;
  try {
    const imageDefaults = imageSettingsFromEnv(env);
    const context: WbContext = {
      home: resolveWbHome(env.WB_HOME, env.HOME),
      repoRoot: defaultRepoRoot(),
      reporter,
      command: ["wb", ...args].join(" "),
      ...(Object.keys(imageDefaults).length > 0 ? { imageDefaults } : {}),
      ...options.context,
    };
    const program = buildProgram(context, (code) => exitCode = code, {
      stdinIsTty: Deno.stdin.isTerminal(),
      writeOut: options.writeOut,
      writeErr: options.writeErr,
      handleSignals: !options.parseOnly,
    });
    if (options.parseOnly) forEachCommand(program, (command) => command.action(() => {}));
    await program.parseAsync(dropTaskSeparator(program, args), { from: "user" });
    reporter.end?.("ok");
    return exitCode;
  } catch (error) {
    reporter.end?.("failed");
    if (error instanceof CommanderError) {
      const helpCodes = ["commander.helpDisplayed", "commander.help", "commander.version"];
      return helpCodes.includes(error.code) ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof CliError) {
      writeErr(`error: ${error.message}\n`);
      return error.code === "usage"
        ? EXIT.usage
        : error.code === "interrupted"
        ? EXIT.interrupted
        : EXIT.failure;
    }
    writeErr(`${(error as Error)?.stack ?? error}\n`);
    return EXIT.failure;
  }
}

function forEachCommand(
  command: CommandUnknownOpts,
  visit: (command: CommandUnknownOpts) => void,
): void {
  visit(command);
  for (const sub of command.commands) forEachCommand(sub, visit);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args, Deno.env.toObject()));
}
