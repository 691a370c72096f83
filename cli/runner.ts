/**
 * How to run a {@linkcode Step}: spawn it with `Deno.Command`, retry readiness polls,
 * treat expected "already done" errors as success, downgrade optional failures to
 * warnings, and throw {@linkcode CommandFailedError} (command line + stderr) otherwise.
 *
 * @module
 */

import { CommandFailedError, ReadinessTimeoutError } from "./errors.ts";
import type { Step } from "./plan.ts";
import type { Reporter } from "./reporter.ts";

/** Options shared by the runner functions. */
export interface RunOptions {
  /** Extra environment for every step (e.g. a `PATH` with a fake `docker` first). */
  env?: Record<string, string>;
  /** Receives step titles and warnings. */
  reporter?: Reporter;
  /** Pause between attempts of a retried step, in milliseconds. @default {250} */
  retryIntervalMs?: number;
  /** Also copy the program's stdout and stderr to ours while it runs. @default {false} */
  echo?: boolean;
  /** Receives each line of stdout as it arrives (e.g. `docker pull` progress). */
  onStdoutLine?: (line: string) => void;
}

/** Output of one run of a program. */
export interface StepOutput {
  /** Exit code; 127 when the program could not be started. */
  code: number;
  /** Standard output, decoded. */
  stdout: string;
  /** Standard error, decoded. */
  stderr: string;
}

/** How a step ended without throwing. */
export type StepStatus = "ok" | "already" | "warned";

/** Result of {@linkcode runStep}. */
export interface StepResult {
  /** The step. */
  step: Step;
  /** `ok`, `already` (failed with an expected message), or `warned` (optional, failed). */
  status: StepStatus;
  /** Output of the last attempt. */
  output: StepOutput;
}

const decoder = new TextDecoder();

/**
 * Runs a step's program once and returns its output; never throws for a non-zero exit.
 *
 * @param step The step (`retryForMs`, `optional`, `okIfStderr` are ignored here).
 * @param options Extra environment.
 * @returns Exit code and output.
 * @example
 * ```ts
 * import { execStep } from "./runner.ts";
 * const { code, stdout } = await execStep({ title: "echo", command: "echo", args: ["hi"] });
 * ```
 */
export async function execStep(step: Step, options: RunOptions = {}): Promise<StepOutput> {
  try {
    const command = new Deno.Command(step.command, {
      args: step.args,
      env: { ...options.env, ...step.env },
      cwd: step.cwd,
      signal: step.timeoutMs ? AbortSignal.timeout(step.timeoutMs) : undefined,
      stdin: step.stdin === undefined ? "null" : "piped",
      // Its own process group: a Ctrl-C meant for wb does not kill the step under way, which
      // wb finishes before it rolls back (see `cli/main.ts`).
      detached: true,
      stdout: "piped",
      stderr: "piped",
    });
    if (step.stdin !== undefined) {
      const child = command.spawn();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(step.stdin)).catch(() => {});
      await writer.close().catch(() => {});
      const output = await child.output();
      return {
        code: output.code,
        stdout: decoder.decode(output.stdout),
        stderr: decoder.decode(output.stderr),
      };
    }
    if (options.echo || options.onStdoutLine) {
      return await streamOutput(command.spawn(), options.echo ?? false, options.onStdoutLine);
    }
    const output = await command.output();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { code: 127, stdout: "", stderr: `${step.command}: command not found` };
    }
    throw error;
  }
}

/** Collects a child's output while copying it to ours (`echo`) and/or passing stdout lines on. */
async function streamOutput(
  child: Deno.ChildProcess,
  echo: boolean,
  onLine?: (line: string) => void,
): Promise<StepOutput> {
  const pump = async (
    stream: ReadableStream<Uint8Array>,
    sink: { write(p: Uint8Array): Promise<number> },
    lines?: (line: string) => void,
  ) => {
    const chunks: Uint8Array[] = [];
    const text = new TextDecoder();
    let partial = "";
    for await (const chunk of stream) {
      chunks.push(chunk);
      if (echo) await writeAll(sink, chunk);
      if (lines) {
        const parts = (partial + text.decode(chunk, { stream: true })).split(/\r?\n|\r/);
        partial = parts.pop() ?? "";
        parts.forEach(lines);
      }
    }
    if (lines && partial) lines(partial);
    return decoder.decode(concat(chunks));
  };
  const [stdout, stderr, status] = await Promise.all([
    pump(child.stdout, Deno.stdout, onLine),
    pump(child.stderr, Deno.stderr),
    child.status,
  ]);
  return { code: status.code, stdout, stderr };
}

async function writeAll(sink: { write(p: Uint8Array): Promise<number> }, data: Uint8Array) {
  let written = 0;
  while (written < data.length) written += await sink.write(data.subarray(written));
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * Runs one step with its policies: polls while `retryForMs` allows (unless a failure's
 * stderr matches `giveUpIfStderr`), accepts failures whose stderr matches `okIfStderr`, and
 * reports optional failures as warnings.
 *
 * @param step The step.
 * @param options Environment, reporter, retry interval.
 * @returns How it ended.
 * @throws {CommandFailedError} If a required step fails (message: command line + stderr).
 * @throws {ReadinessTimeoutError} If a required retried step with `notReadyMessage` runs out
 *   of time (message: what is not ready, then the last attempt's command line + stderr).
 * @example
 * ```ts
 * import { runStep } from "./runner.ts";
 * await runStep({ title: "Say hi", command: "echo", args: ["hi"] });
 * ```
 */
export async function runStep(step: Step, options: RunOptions = {}): Promise<StepResult> {
  options.reporter?.step(step.title);
  const deadline = Date.now() + (step.retryForMs ?? 0);
  const succeeded = (out: StepOutput) =>
    out.code === 0 && (!step.expectStdout || new RegExp(step.expectStdout).test(out.stdout));
  const givesUp = (out: StepOutput) =>
    step.giveUpIfStderr !== undefined && new RegExp(step.giveUpIfStderr, "i").test(out.stderr);
  let output = await execStep(step, options);
  while (!succeeded(output) && !givesUp(output) && Date.now() < deadline) {
    await sleep(options.retryIntervalMs ?? 250);
    output = await execStep(step, options);
  }
  if (succeeded(output)) return { step, status: "ok", output };
  if (step.okIfStderr && new RegExp(step.okIfStderr, "i").test(output.stderr)) {
    return { step, status: "already", output };
  }
  const failed = new CommandFailedError(
    step.command,
    step.args,
    output.code,
    output.code === 0 ? output.stdout || output.stderr : output.stderr,
  );
  const error = step.retryForMs !== undefined && step.notReadyMessage
    ? new ReadinessTimeoutError(
      givesUp(output)
        ? `${step.notReadyMessage}: it stopped. Last attempt: ${failed.message}`
        : `${step.notReadyMessage} within ${
          step.retryForMs / 1000
        } s. Last attempt: ${failed.message}`,
      "",
      { cause: failed },
    )
    : failed;
  if (step.optional) {
    const hint = step.hint ? ` ${step.hint}` : "";
    options.reporter?.warn(`${step.title} failed; continuing.${hint}\n${error.message}`);
    return { step, status: "warned", output };
  }
  options.reporter?.end?.("failed");
  throw error;
}

/**
 * Runs steps in order, stopping at the first required failure.
 *
 * @param steps The plan.
 * @param options Environment, reporter, retry interval.
 * @returns One result per step run.
 * @throws {CommandFailedError} At the first required step that fails.
 * @example
 * ```ts
 * import { runSteps } from "./runner.ts";
 * await runSteps([{ title: "a", command: "true", args: [] }, { title: "b", command: "true", args: [] }]);
 * ```
 */
export async function runSteps(
  steps: readonly Step[],
  options: RunOptions = {},
): Promise<StepResult[]> {
  const results: StepResult[] = [];
  for (const step of steps) results.push(await runStep(step, options));
  return results;
}

/**
 * Resolves after `ms` milliseconds.
 *
 * @param ms Delay in milliseconds.
 * @returns A promise.
 * @example
 * ```ts
 * import { sleep } from "./runner.ts";
 * await sleep(10);
 * ```
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs a step attached to our terminal (stdin, stdout and stderr inherited), e.g.
 * `redis-cli` or `docker logs --follow`.
 *
 * @param step The step (`env` carries secrets such as `REDISCLI_AUTH`).
 * @param options Extra environment.
 * @returns The program's exit code; 127 when it could not be started.
 * @example
 * ```ts
 * import { runInteractive } from "./runner.ts";
 * await runInteractive({ title: "echo", command: "echo", args: ["hi"] }); // 0
 * ```
 */
export async function runInteractive(step: Step, options: RunOptions = {}): Promise<number> {
  try {
    const child = new Deno.Command(step.command, {
      args: step.args,
      env: { ...options.env, ...step.env },
      cwd: step.cwd,
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    return (await child.status).code;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      options.reporter?.warn(`${step.command}: command not found`);
      return 127;
    }
    throw error;
  }
}
