/**
 * Running short commands (`pg_ctl`, `psql`, `redis-cli`, `prlimit`) with their output.
 *
 * @module
 */

/** What a finished command printed, and its exit code. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command` with `args` to completion; never throws for a non-zero exit. */
export async function run(command: string, args: string[]): Promise<RunResult> {
  const out = await new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { LC_ALL: "C" },
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/**
 * Runs `command` with `args` and returns its stdout.
 *
 * @throws {Error} If it exits non-zero (the command line and its stderr are in the message).
 */
export async function runOk(command: string, args: string[]): Promise<string> {
  const result = await run(command, args);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`,
    );
  }
  return result.stdout;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `check` every `everyMs` until it returns true.
 *
 * @throws {Error} After `timeoutMs`, naming `what`.
 */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  options: { timeoutMs?: number; everyMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    if (await Promise.resolve().then(check).catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(options.everyMs ?? 50);
  }
}

const cleanups = new Map<number, () => Promise<void>>();
let nextCleanUp = 0;

/**
 * Registers `fn` to run by {@linkcode cleanUp} (a scenario that timed out still has its
 * processes stopped); returns a function that unregisters it.
 */
export function onCleanUp(fn: () => Promise<void>): () => void {
  const id = nextCleanUp++;
  cleanups.set(id, fn);
  return () => cleanups.delete(id);
}

/** A mark: {@linkcode cleanUp} with it runs only what was registered after it. */
export function cleanUpMark(): number {
  return nextCleanUp;
}

/**
 * Runs the registered clean-ups (stopping processes the suite started), newest first,
 * ignoring their errors.
 *
 * @param since Only those registered at or after this {@linkcode cleanUpMark}. @default {0}
 */
export async function cleanUp(since = 0): Promise<void> {
  const pending = [...cleanups].filter(([id]) => id >= since).sort(([a], [b]) => b - a);
  for (const [id, fn] of pending) {
    cleanups.delete(id);
    await fn().catch(() => {});
  }
}
