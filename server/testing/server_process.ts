/**
 * Test helper: the real server entry (`server/main.ts`) as a child process on loopback,
 * with its JSON log lines collected.
 *
 * @module
 */
import { freePort } from "../../lib/testing/redis_server.ts";

/** A running server process. Dispose it (or `stop()`) to SIGTERM it and wait. */
export interface ServerProcess extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  pid: number;
  /** Everything it wrote to stderr so far. */
  logs(): string;
  /** Everything it wrote to stdout so far (empty unless started with `captureStdout`). */
  stdout(): string;
  /** Its stderr lines that are JSON objects, parsed. */
  logLines(): Record<string, unknown>[];
  /**
   * Waits for a log line matching `predicate`.
   *
   * @throws {Error} After `timeoutMs` (a bound against hanging), with the logs.
   */
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** SIGTERMs it and waits for its exit. Safe to call twice. */
  stop(): Promise<Deno.CommandStatus>;
}

/**
 * Starts `server/main.ts` with `env` (plus `PORT`, `HOST=127.0.0.1`) and waits until
 * `/healthz` answers.
 *
 * @param env The server's environment (DATABASE_URL, REDIS_URL, ADMIN_TOKEN, ...).
 * @param options `port`: a port chosen beforehand (default: a free one); `captureStdout`:
 *   keep what it writes to stdout too (default: discarded).
 * @throws {Error} If `/healthz` does not answer within 30 s (the logs are in the message).
 */
export async function startServer(
  env: Record<string, string>,
  options: { port?: number; captureStdout?: boolean } = {},
): Promise<ServerProcess> {
  const port = options.port ?? freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../main.ts", import.meta.url).pathname],
    env: { PORT: String(port), HOST: "127.0.0.1", DENO_NO_UPDATE_CHECK: "1", ...env },
    stdout: options.captureStdout ? "piped" : "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  let out = "";
  const drain = async (stream: ReadableStream<Uint8Array>, append: (chunk: string) => void) => {
    const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      append(value);
    }
  };
  const reading = Promise.all([
    drain(child.stderr, (chunk) => text += chunk),
    options.captureStdout ? drain(child.stdout, (chunk) => out += chunk) : undefined,
  ]);
  const logLines = () =>
    text.split("\n").flatMap((line) => {
      if (!line.startsWith("{")) return [];
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  let status: Promise<Deno.CommandStatus> | undefined;
  const stop = () => {
    status ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const result = await child.status;
      await reading;
      return result;
    })();
    return status;
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const health = await fetch(`${url}/healthz`).catch(() => undefined);
    if (health?.ok) {
      await health.body?.cancel();
      break;
    }
    await health?.body?.cancel();
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`server on port ${port} did not answer /healthz within 30 s:\n${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    port,
    pid: child.pid,
    logs: () => text,
    stdout: () => out,
    logLines,
    async waitForLog(predicate, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const found = logLines().find(predicate);
        if (found) return found;
        if (Date.now() > until) {
          throw new Error(`no matching log line within ${timeoutMs} ms on port ${port}:\n${text}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}
