/**
 * How to run a {@linkcode Step}: spawn it with `Deno.Command`, retry readiness polls,
 * treat expected "already done" errors as success, downgrade optional failures to
 * warnings, and throw {@linkcode CommandFailedError} (command line + stderr) otherwise.
 *
 * @module
 */

import { CommandFailedError } from "./errors.ts";
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
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
    if (options.echo) return await echoOutput(command.spawn());
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

/** Copies a child's output to ours while collecting it. */
async function echoOutput(child: Deno.ChildProcess): Promise<StepOutput> {
  const pump = async (
    stream: ReadableStream<Uint8Array>,
    sink: { write(p: Uint8Array): Promise<number> },
  ) => {
    const chunks: Uint8Array[] = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      await writeAll(sink, chunk);
    }
    return decoder.decode(concat(chunks));
  };
  const [stdout, stderr, status] = await Promise.all([
    pump(child.stdout, Deno.stdout),
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
 * Runs one step with its policies: polls while `retryForMs` allows, accepts failures
 * whose stderr matches `okIfStderr`, and reports optional failures as warnings.
 *
 * @param step The step.
 * @param options Environment, reporter, retry interval.
 * @returns How it ended.
 * @throws {CommandFailedError} If a required step fails (message: command line + stderr).
 * @example
 * ```ts
 * import { runStep } from "./runner.ts";
 * await runStep({ title: "Say hi", command: "echo", args: ["hi"] });
 * ```
 */
export async function runStep(step: Step, options: RunOptions = {}): Promise<StepResult> {
  options.reporter?.step(step.title);
  const deadline = Date.now() + (step.retryForMs ?? 0);
  let output = await execStep(step, options);
  while (output.code !== 0 && Date.now() < deadline) {
    await sleep(options.retryIntervalMs ?? 250);
    output = await execStep(step, options);
  }
  if (output.code === 0) return { step, status: "ok", output };
  if (step.okIfStderr && new RegExp(step.okIfStderr, "i").test(output.stderr)) {
    return { step, status: "already", output };
  }
  const error = new CommandFailedError(step.command, step.args, output.code, output.stderr);
  if (step.optional) {
    const hint = step.hint ? ` ${step.hint}` : "";
    options.reporter?.warn(`${step.title} failed; continuing.${hint}\n${error.message}`);
    return { step, status: "warned", output };
  }
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
