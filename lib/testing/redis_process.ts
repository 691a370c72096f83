/**
 * The lifecycle of one test `redis-server` process, shared by the test launchers
 * (`startRedis`, `startRedisCluster`, the chaos suite's `startChaosRedis`): spawn, wait
 * until it answers PING (its log in the error otherwise), SIGKILL, wait for its exit.
 *
 * @module
 */

/** Options of {@linkcode redisProcess}. */
export interface RedisProcessOptions {
  /** Builds the command that runs the server (called on every start). */
  command: () => Deno.Command;
  /** Sends PING and returns the reply (`"PONG"` when up; may throw while starting). */
  ping: () => Promise<string>;
  /** The server's `--logfile`, quoted in the error when it does not come up. */
  logFile: string;
  /** What the error calls it, e.g. `redis-server on port 6390`. */
  name: string;
  /** How long to wait for PONG, in ms. @default {5000} */
  readyTimeoutMs?: number;
}

/** Handles on one server process. */
export interface RedisProcess {
  /** Process id while running, else `undefined`. */
  pid(): number | undefined;
  /**
   * Spawns the server and waits until it answers PING with `PONG` (or, with
   * `{ loading: true }`, with `LOADING` too: it is reading its AOF back).
   * @throws {Error} If it does not within `readyTimeoutMs` (its log is in the message).
   */
  start(options?: { loading?: boolean }): Promise<void>;
  /** SIGKILLs it (no flush beyond what already reached the kernel) and waits for the exit. */
  kill(): Promise<void>;
  /** Waits for an exit the server was asked for (e.g. after `SHUTDOWN`). */
  exited(): Promise<void>;
}

/** Creates the handles; nothing runs until `start()`. */
export function redisProcess(options: RedisProcessOptions): RedisProcess {
  let child: Deno.ChildProcess | undefined;
  const exited = async () => {
    if (!child) return;
    await child.status;
    child = undefined;
  };
  return {
    pid: () => child?.pid,
    async start(startOptions = {}) {
      child = options.command().spawn();
      const timeoutMs = options.readyTimeoutMs ?? 5000;
      const deadline = Date.now() + timeoutMs;
      const answered = (reply: string) =>
        reply === "PONG" || (startOptions.loading === true && reply.startsWith("LOADING"));
      while (Date.now() < deadline) {
        if (answered(await options.ping().catch(() => ""))) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      const log = await Deno.readTextFile(options.logFile).catch(() => "");
      throw new Error(`${options.name} did not answer PING within ${timeoutMs / 1000} s:\n${log}`);
    },
    async kill() {
      try {
        child?.kill("SIGKILL");
      } catch { /* already gone */ }
      await exited();
    },
    exited,
  };
}
