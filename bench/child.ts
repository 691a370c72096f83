/**
 * Child processes of the benchmarks: a `deno` child whose stderr is drained, so it never
 * blocks on a full pipe, and whose last lines are kept for error messages.
 *
 * @module
 */

/** A spawned child and the tail of its stderr. */
export interface DrainedChild {
  child: Deno.ChildProcess;
  /** The last `tailBytes` characters of its stderr. */
  tail(): string;
}

/**
 * Spawns `deno <args>` with `env`, stdin and stdout closed, stderr drained.
 *
 * @param tailBytes How much of stderr to keep, in characters. @default {8192}
 */
export function spawnDrained(
  args: string[],
  env: Record<string, string>,
  tailBytes = 8192,
): DrainedChild {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let tail = "";
  (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      tail = (tail + decoder.decode(chunk, { stream: true })).slice(-tailBytes);
    }
  })().catch(() => {});
  return { child, tail: () => tail };
}

/**
 * Waits for `child` to exit, SIGKILLing it if it has not within `graceMs` (after the caller
 * asked it to stop: a signal, or a `SHUTDOWN` for Redis).
 */
export async function exitWithin(child: Deno.ChildProcess, graceMs: number): Promise<void> {
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, graceMs);
  await child.status;
  clearTimeout(timer);
}

/** SIGTERM, then SIGKILL after `graceMs` (default 10 s); resolves when the child is gone. */
export async function stopChild(child: Deno.ChildProcess, graceMs = 10_000): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch { /* already gone */ }
  await exitWithin(child, graceMs);
}

/** Where `bare_server.ts` reads from, and what its routes answer for. */
export interface BareServerTarget {
  port: number;
  redisUrl: string;
  databaseUrl: string;
  /** The Redis key whose bytes `/bare` answers. */
  key: string;
  /** The presentation object whose version query `/bare_pg` runs. */
  projectId: string;
  poId: string;
}

/** Spawns `bare_server.ts` (the benchmarks' control route) on `target.port`. */
export function spawnBareServer(target: BareServerTarget): DrainedChild {
  return spawnDrained([
    "run",
    "-A",
    new URL("./bare_server.ts", import.meta.url).pathname,
    String(target.port),
    target.redisUrl,
    target.databaseUrl,
    target.key,
    target.projectId,
    target.poId,
  ], { DENO_NO_UPDATE_CHECK: "1" });
}

/**
 * Polls `url` every 100 ms until it answers 2xx (the body is discarded).
 *
 * @param what The child's log tail, for the error.
 * @throws {Error} After `timeoutMs`, naming the URL, with `what()`.
 */
export async function waitForOk(url: string, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(url).then(async (r) => {
      await r.body?.cancel();
      return r.ok;
    }, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms:\n${what()}`);
}
