/**
 * Errors of `wb`. Every error the CLI raises on purpose is a {@linkcode CliError} with a
 * stable `code`; `cli/main.ts` maps them to exit codes (usage errors exit 2).
 *
 * @module
 */

/** Stable machine-readable error codes of {@linkcode CliError}. */
export type CliErrorCode =
  | "usage"
  | "config"
  | "unknown_target"
  | "command_failed"
  | "timeout"
  | "prerequisites"
  | "not_running"
  | "start_failed"
  | "demo_failed"
  | "locked"
  | "preflight"
  | "interrupted";

/**
 * Base error of the CLI. `code` is stable and safe to branch on.
 *
 * @example Branch on the code
 * ```ts
 * import { CliError } from "./errors.ts";
 * const error: unknown = new CliError("config", "bad servers.json");
 * if (error instanceof CliError && error.code === "config") console.error(error.message);
 * ```
 */
export class CliError extends Error {
  /** Stable code of this error. */
  readonly code: CliErrorCode;

  /**
   * Creates an error with a stable code.
   *
   * @param code Stable error code.
   * @param message Human-readable message.
   * @param options Standard error options (`cause`).
   */
  constructor(code: CliErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CliError";
    this.code = code;
  }
}

/**
 * A bad command-line argument (id, port, runtime...). The CLI exits with code 2.
 *
 * @example
 * ```ts
 * import { UsageError } from "./errors.ts";
 * throw new UsageError("Invalid port 'abc'");
 * ```
 */
export class UsageError extends CliError {
  /**
   * @param message What was wrong with the arguments.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super("usage", message, options);
    this.name = "UsageError";
  }
}

/**
 * A target (`<id>`, `@all`, `@<tag>`, `server=<version>`) that matches no configured
 * instance.
 *
 * @example
 * ```ts
 * import { UnknownTargetError } from "./errors.ts";
 * const error = new UnknownTargetError("nope", ["demo", "prod"]);
 * console.log(error.message); // Unknown instance 'nope'. Known instances: demo, prod
 * ```
 */
export class UnknownTargetError extends CliError {
  /** The target as given. */
  readonly target: string;
  /** Ids of the configured instances. */
  readonly knownIds: string[];

  /**
   * @param target The target as given on the command line.
   * @param knownIds Ids of all configured instances.
   * @param knownVersions Server versions in use, named when a `server=` target matches nothing.
   */
  constructor(target: string, knownIds: string[], knownVersions: string[] = []) {
    const known = knownIds.length > 0
      ? knownIds.join(", ")
      : "(none; create one with `wb c add <id>`)";
    const message = target.startsWith("@")
      ? `No instance has tag '${target.slice(1)}'. Known instances: ${known}`
      : target.startsWith("server=")
      ? `No instance runs server version '${target.slice(7)}'. Versions in use: ${
        knownVersions.length > 0 ? knownVersions.join(", ") : "(none)"
      }`
      : `Unknown instance '${target}'. Known instances: ${known}`;
    super("unknown_target", message);
    this.name = "UnknownTargetError";
    this.target = target;
    this.knownIds = knownIds;
  }
}

/**
 * An external command (docker, pg_ctl, redis-server...) exited non-zero. The message
 * shows the command line and its stderr.
 *
 * @example
 * ```ts
 * import { CommandFailedError } from "./errors.ts";
 * const error = new CommandFailedError("docker", ["network", "create", "x"], 1, "daemon down");
 * console.log(error.message);
 * ```
 */
export class CommandFailedError extends CliError {
  /** The program that was run. */
  readonly command: string;
  /** Its arguments. */
  readonly args: string[];
  /** Exit code, or `undefined` when the program could not be started. */
  readonly exitCode: number | undefined;
  /** Its standard error, trimmed. */
  readonly stderr: string;

  /**
   * @param command The program.
   * @param args Its arguments.
   * @param exitCode Exit code (`undefined` when it could not be spawned).
   * @param stderr Its standard error.
   * @param options Standard error options (`cause`).
   */
  constructor(
    command: string,
    args: string[],
    exitCode: number | undefined,
    stderr: string,
    options?: ErrorOptions,
  ) {
    const line = formatCommand(command, args);
    const status = exitCode === undefined ? "could not be started" : `failed (exit ${exitCode})`;
    const detail = stderr.trim() ? `\n${indent(stderr.trim())}` : "";
    super("command_failed", `Command ${status}: ${line}${detail}`, options);
    this.name = "CommandFailedError";
    this.command = command;
    this.args = args;
    this.exitCode = exitCode;
    this.stderr = stderr.trim();
  }
}

/**
 * Something did not become ready in time (Postgres, Redis, the app's `/healthz`).
 *
 * @example
 * ```ts
 * import { ReadinessTimeoutError } from "./errors.ts";
 * throw new ReadinessTimeoutError("App of 'demo' did not answer /healthz within 60 s", "log tail");
 * ```
 */
export class ReadinessTimeoutError extends CliError {
  /** Last lines of the relevant log file, if any. */
  readonly logTail: string;

  /**
   * @param message What did not become ready.
   * @param logTail Last lines of the relevant log, appended to the message.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, logTail = "", options?: ErrorOptions) {
    super(
      "timeout",
      logTail ? `${message}\nLast log lines:\n${indent(logTail)}` : message,
      options,
    );
    this.name = "ReadinessTimeoutError";
    this.logTail = logTail;
  }
}

/**
 * A start that failed and was rolled back. The message is the failure (for a command: its
 * command line and stderr), then what the rollback removed; `cause` is the original error.
 *
 * @example
 * ```ts
 * import { CommandFailedError, StartFailedError } from "./errors.ts";
 * const cause = new CommandFailedError("docker", ["run", "x"], 1, "boom");
 * const error = new StartFailedError("web", cause, ["removed container web-postgres"]);
 * console.log(error.message);
 * ```
 */
export class StartFailedError extends CliError {
  /** The instance that failed to start. */
  readonly instanceId: string;
  /** What the rollback did, e.g. `removed container web-postgres`, `stopped redis`. */
  readonly removed: string[];
  /** Why the rollback itself failed, if it did. */
  readonly rollbackError?: unknown;

  /**
   * @param instanceId The instance.
   * @param cause What failed.
   * @param removed What the rollback removed or stopped.
   * @param rollbackError Why the rollback failed, if it did.
   */
  constructor(instanceId: string, cause: unknown, removed: string[], rollbackError?: unknown) {
    const what = cause instanceof Error ? cause.message : String(cause);
    const rollback = rollbackError === undefined
      ? removed.length > 0
        ? `Rolled back '${instanceId}': ${removed.join(", ")}.`
        : `Rolled back '${instanceId}': nothing was left to remove.`
      : `Rolling back '${instanceId}' failed too; check \`wb status ${instanceId}\`:\n${
        indent(rollbackError instanceof Error ? rollbackError.message : String(rollbackError))
      }`;
    super("start_failed", `${what}\n${rollback}`, { cause });
    this.name = "StartFailedError";
    this.instanceId = instanceId;
    this.removed = removed;
    this.rollbackError = rollbackError;
  }
}

/**
 * `wb run`, `stop` or `restart` was interrupted (SIGINT, SIGTERM): the step under way was
 * finished, a partial start rolled back (or the stop finished), and `state` says where the
 * instance is now. The CLI exits 130.
 *
 * @example
 * ```ts
 * import { InterruptedError } from "./errors.ts";
 * throw new InterruptedError("web1", "SIGINT", "stopped", "rolled back the partial start");
 * ```
 */
export class InterruptedError extends CliError {
  /** The instance. */
  readonly instanceId: string;
  /** Which signal. */
  readonly signal: string;
  /** Where the instance is now: `running` (and healthy) or `stopped`. */
  readonly state: "running" | "stopped";

  /**
   * @param instanceId The instance.
   * @param signal The signal received.
   * @param state Where the instance is now.
   * @param what What was done after the signal.
   */
  constructor(
    instanceId: string,
    signal: string,
    state: "running" | "stopped",
    what: string,
  ) {
    super(
      "interrupted",
      `Interrupted by ${signal}: ${what}; '${instanceId}' is ${
        state === "running" ? "running and healthy" : "stopped"
      }`,
    );
    this.name = "InterruptedError";
    this.instanceId = instanceId;
    this.signal = signal;
    this.state = state;
  }
}

/**
 * Some instances of a multi-instance command failed; `failures` has each one's error.
 *
 * @example
 * ```ts
 * import { BatchFailedError, CliError } from "./errors.ts";
 * const error = new BatchFailedError(3, [["b", new CliError("timeout", "no /healthz")]], ["c"]);
 * console.log(error.message);
 * ```
 */
export class BatchFailedError extends CliError {
  /** Instance id and error of each failure. */
  readonly failures: [string, unknown][];
  /** Instances not touched because an earlier one failed (rolling restart). */
  readonly skipped: string[];

  /**
   * @param total How many instances the command targeted.
   * @param failures Instance id and error of each failure.
   * @param skipped Instances left alone after the failure.
   */
  constructor(total: number, failures: [string, unknown][], skipped: string[] = []) {
    const lines = failures.map(([id, e]) =>
      `- ${id}: ${indent(e instanceof Error ? e.message : String(e)).trimStart()}`
    );
    const skip = skipped.length > 0 ? `\nNot touched after the failure: ${skipped.join(", ")}` : "";
    const first = failures[0]?.[1];
    super(
      first instanceof CliError ? first.code : "command_failed",
      `${failures.length} of ${total} instances failed:\n${lines.join("\n")}${skip}`,
      { cause: first },
    );
    this.name = "BatchFailedError";
    this.failures = failures;
    this.skipped = skipped;
  }
}

/**
 * Formats a command line for messages, quoting arguments that need it.
 *
 * @param command The program.
 * @param args Its arguments.
 * @returns A shell-like, copy-pasteable command line.
 * @example
 * ```ts
 * import { formatCommand } from "./errors.ts";
 * formatCommand("docker", ["run", "a b"]); // docker run 'a b'
 * ```
 */
export function formatCommand(command: string, args: readonly string[]): string {
  return [command, ...args].map(quote).join(" ");
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

function indent(text: string): string {
  return text.split("\n").map((line) => `  ${line}`).join("\n");
}
