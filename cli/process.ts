/**
 * Process helpers of the native runtime: pid files, liveness, signals, log tails, HTTP
 * health waits and free ports.
 *
 * @module
 */

import { sleep } from "./runner.ts";

/**
 * Reads a pid file (first line).
 *
 * @param path The pid file.
 * @returns The pid, or `undefined` when the file is missing or not a number.
 * @example
 * ```ts
 * import { readPidFile } from "./process.ts";
 * await readPidFile("/nonexistent.pid"); // undefined
 * ```
 */
export async function readPidFile(path: string): Promise<number | undefined> {
  try {
    const first = (await Deno.readTextFile(path)).split("\n")[0].trim();
    const pid = Number(first);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a process is alive. Zombies (exited, not yet reaped) count as gone.
 *
 * @param pid Process id.
 * @returns `true` when the process exists and is not a zombie.
 * @example
 * ```ts
 * import { isAlive } from "./process.ts";
 * await isAlive(Deno.pid); // true
 * ```
 */
export async function isAlive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    // NotFound, or ESRCH ("No such process") when it exits while we read.
    try {
      await Deno.stat("/proc/self/stat");
      return false; // procfs exists, so the process does not
    } catch {
      const { code } = await new Deno.Command("kill", { args: ["-0", String(pid)] }).output();
      return code === 0;
    }
  }
}

/**
 * The live pid recorded in a pid file; a stale file (process gone) yields `undefined`.
 *
 * @param path The pid file.
 * @returns The pid of a live process, or `undefined`.
 * @example
 * ```ts
 * import { livePid } from "./process.ts";
 * await livePid("/nonexistent.pid"); // undefined
 * ```
 */
export async function livePid(path: string): Promise<number | undefined> {
  const pid = await readPidFile(path);
  return pid !== undefined && await isAlive(pid) ? pid : undefined;
}

/**
 * Sends a signal to a process group (the process leads one when spawned detached) and to
 * the process itself; a process that is already gone is not an error.
 *
 * @param pid Process id.
 * @param signal The signal.
 * @example
 * ```ts
 * import { signalProcess } from "./process.ts";
 * signalProcess(999999, "SIGTERM");
 * ```
 */
export function signalProcess(pid: number, signal: Deno.Signal): void {
  for (const target of [-pid, pid]) {
    try {
      Deno.kill(target, signal);
    } catch { /* no such process (group) */ }
  }
}

/**
 * Waits until a process is gone.
 *
 * @param pid Process id.
 * @param timeoutMs How long to wait, in milliseconds.
 * @returns `true` when it is gone, `false` on timeout.
 * @example
 * ```ts
 * import { waitForExit } from "./process.ts";
 * await waitForExit(999999, 100); // true
 * ```
 */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

/**
 * Stops a process: SIGTERM, wait up to `graceMs`, then SIGKILL.
 *
 * @param pid Process id.
 * @param graceMs How long SIGTERM gets, in milliseconds. @default {10_000}
 * @returns `"term"` or `"kill"`: what ended it (`"gone"` if it was not running).
 * @example
 * ```ts
 * import { terminate } from "./process.ts";
 * await terminate(999999); // "gone"
 * ```
 */
export async function terminate(pid: number, graceMs = 10_000): Promise<"gone" | "term" | "kill"> {
  if (!await isAlive(pid)) return "gone";
  signalProcess(pid, "SIGTERM");
  if (await waitForExit(pid, graceMs)) return "term";
  signalProcess(pid, "SIGKILL");
  await waitForExit(pid, 5_000);
  return "kill";
}

/**
 * The last lines of a log file.
 *
 * @param path The file.
 * @param lines How many lines. @default {20}
 * @returns The lines joined, or `""` when the file cannot be read.
 * @example
 * ```ts
 * import { tailFile } from "./process.ts";
 * await tailFile("/nonexistent.log"); // ""
 * ```
 */
export async function tailFile(path: string, lines = 20): Promise<string> {
  try {
    const text = await Deno.readTextFile(path);
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/** Result of one `/healthz` probe. */
export interface HealthProbe {
  /** `true` on HTTP 200. */
  ok: boolean;
  /** HTTP status, when a response came back. */
  status?: number;
  /** Round trip in milliseconds. */
  ms: number;
  /** Network error message, when no response came back. */
  error?: string;
  /** The response body parsed as JSON, when it is JSON (e.g. `/healthz`'s `version`). */
  body?: unknown;
}

/**
 * Probes `GET <url>` once.
 *
 * @param url Full URL, e.g. `http://127.0.0.1:8710/healthz`.
 * @param timeoutMs Request timeout in milliseconds. @default {2_000}
 * @returns The probe result.
 * @example
 * ```ts
 * import { probeHttp } from "./process.ts";
 * const { ok } = await probeHttp("http://127.0.0.1:9/healthz");
 * ```
 */
export async function probeHttp(url: string, timeoutMs = 2_000): Promise<HealthProbe> {
  const started = performance.now();
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch { /* not JSON */ }
    return {
      ok: response.status === 200,
      status: response.status,
      ms: Math.round(performance.now() - started),
      ...(body === undefined ? {} : { body }),
    };
  } catch (error) {
    return { ok: false, ms: Math.round(performance.now() - started), error: String(error) };
  }
}

/**
 * Whether a TCP port can be bound on all interfaces right now.
 *
 * @param port The port.
 * @returns `true` when it is free.
 * @example
 * ```ts
 * import { isPortFree } from "./process.ts";
 * isPortFree(8710);
 * ```
 */
export function isPortFree(port: number): boolean {
  for (const hostname of ["0.0.0.0", "127.0.0.1"]) {
    try {
      Deno.listen({ hostname, port }).close();
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * A TCP port that was free on 127.0.0.1 a moment ago (bind port 0).
 *
 * @param taken Ports already handed out: the port returned is not one of them, and is added.
 * @returns The port.
 * @example
 * ```ts
 * import { freePort } from "./process.ts";
 * const port = freePort();
 * ```
 */
export function freePort(taken?: Set<number>): number {
  for (;;) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr as Deno.NetAddr;
    listener.close();
    if (taken?.has(port)) continue; // the kernel may hand a just-closed port out again
    taken?.add(port);
    return port;
  }
}
