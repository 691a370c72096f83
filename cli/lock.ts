/**
 * Advisory locks (`flock`) that serialise `wb` commands: one on `servers.json` for config
 * edits, one per instance for lifecycle commands. A lock is released when its holder closes
 * it or dies (the kernel drops `flock` locks of a closed file), so a `wb` killed with
 * SIGKILL never leaves a stale lock behind.
 *
 * The lock file records its holder (`pid`, command, since when) so a waiting command can say
 * what it waits for.
 *
 * @module
 */

import { CliError } from "./errors.ts";
import type { Reporter } from "./reporter.ts";
import { sleep } from "./runner.ts";

/** Who holds a lock, as written into the lock file. */
export interface LockHolder {
  /** Process id of the holder. */
  pid: number;
  /** What it is doing, e.g. `wb restart web1`. */
  command: string;
  /** When it took the lock (ISO 8601). */
  since: string;
}

/** Options of {@linkcode acquireLock}. */
export interface LockOptions {
  /** What the lock protects, for messages: `instance 'web1'`, `servers.json`. */
  what: string;
  /** What this process will do while holding it, e.g. `wb restart web1`. */
  command: string;
  /** How long to wait for a held lock, in milliseconds; 0 fails at once. @default {300_000} */
  waitMs?: number;
  /** Receives the "waiting for ..." message. */
  reporter?: Reporter;
  /** Pause between attempts, in milliseconds. @default {100} */
  pollMs?: number;
}

/** A held lock; release it with `await using` or {@linkcode HeldLock.release}. */
export interface HeldLock extends AsyncDisposable {
  /** Releases the lock (idempotent). */
  release(): Promise<void>;
}

/** Default of {@linkcode LockOptions.waitMs}: five minutes. */
export const DEFAULT_LOCK_WAIT_MS = 300_000;

/**
 * The holder recorded in a lock file, if it can be read.
 *
 * @param path The lock file.
 * @returns The holder, or `undefined` when the file is empty, missing or not ours.
 * @example
 * ```ts
 * import { readLockHolder } from "./lock.ts";
 * await readLockHolder("/nonexistent.lock"); // undefined
 * ```
 */
export async function readLockHolder(path: string): Promise<LockHolder | undefined> {
  try {
    const parsed = JSON.parse(await Deno.readTextFile(path));
    return typeof parsed?.pid === "number" && typeof parsed?.command === "string"
      ? parsed as LockHolder
      : undefined;
  } catch {
    return undefined;
  }
}

function describe(holder: LockHolder | undefined): string {
  return holder
    ? `\`${holder.command}\` (pid ${holder.pid}, since ${holder.since.slice(11, 19)} UTC)`
    : "another wb command";
}

/**
 * Takes an exclusive advisory lock on `path` (created with mode 0600), waiting up to
 * `waitMs` while another process holds it.
 *
 * @param path The lock file.
 * @param options What it protects, who takes it, how long to wait.
 * @returns The held lock.
 * @throws {CliError} Code `locked` when the lock is still held after `waitMs`; the message
 *   names the holder and `--wait`.
 * @example Serialise two edits
 * ```ts
 * import { acquireLock } from "./lock.ts";
 * const path = `${await Deno.makeTempDir()}/x.lock`;
 * await using _lock = await acquireLock(path, { what: "x", command: "wb c add a" });
 * ```
 */
export async function acquireLock(path: string, options: LockOptions): Promise<HeldLock> {
  const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  const waitMs = options.waitMs ?? DEFAULT_LOCK_WAIT_MS;
  const deadline = Date.now() + waitMs;
  let told = false;
  try {
    while (!(await file.tryLock(true))) {
      const holder = await readLockHolder(path);
      if (Date.now() >= deadline) {
        throw new CliError(
          "locked",
          `${options.what} is busy: ${describe(holder)} holds its lock${
            waitMs > 0 ? `; gave up after ${Math.round(waitMs / 1000)} s` : ""
          }. Wait for it, or pass --wait <seconds> to wait longer`,
        );
      }
      if (!told) {
        options.reporter?.info(
          `${options.what} is busy: ${describe(holder)}; waiting up to ${
            Math.round(waitMs / 1000)
          } s for it to finish`,
        );
        told = true;
      }
      await sleep(options.pollMs ?? 100);
    }
  } catch (error) {
    file.close();
    throw error;
  }
  const holder: LockHolder = {
    pid: Deno.pid,
    command: options.command,
    since: new Date().toISOString(),
  };
  await file.truncate(0);
  await file.write(new TextEncoder().encode(JSON.stringify(holder) + "\n"));
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    try {
      await file.truncate(0);
    } catch { /* best effort: the lock matters, not the note */ }
    file.close(); // closing drops the flock
  };
  return { release, [Symbol.asyncDispose]: release };
}
