/**
 * What `wb` remembers about an instance between commands: when it last started it and
 * how (`<instanceDir>/wb-state.json`). Shown by `wb status` as the last restart.
 *
 * @module
 */

import { join } from "node:path";

/** Name of the state file inside the instance directory. */
export const STATE_FILE = "wb-state.json";

/** The last successful start of an instance. */
export interface StartRecord {
  /** When it finished starting (ISO 8601). */
  at: string;
  /** Which command started it. */
  action: "run" | "restart";
  /** How long the start (or stop and start) took, in milliseconds. */
  ms: number;
}

/**
 * Records a successful start.
 *
 * @param instanceDir The instance directory.
 * @param record When, how, how long.
 * @example
 * ```ts
 * import { recordStart } from "./instance_state.ts";
 * await recordStart(await Deno.makeTempDir(), { at: new Date().toISOString(), action: "run", ms: 1200 });
 * ```
 */
export async function recordStart(instanceDir: string, record: StartRecord): Promise<void> {
  const path = join(instanceDir, STATE_FILE);
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify({ lastStart: record }, null, 2) + "\n", {
    mode: 0o600,
  });
  await Deno.rename(tmp, path);
}

/**
 * Reads the last start, if any.
 *
 * @param instanceDir The instance directory.
 * @returns The record, or `undefined` when there is none or it is unreadable.
 * @example
 * ```ts
 * import { readStartRecord } from "./instance_state.ts";
 * await readStartRecord("/nonexistent"); // undefined
 * ```
 */
export async function readStartRecord(instanceDir: string): Promise<StartRecord | undefined> {
  try {
    const parsed = JSON.parse(await Deno.readTextFile(join(instanceDir, STATE_FILE)));
    const record = parsed?.lastStart;
    return typeof record?.at === "string" ? record as StartRecord : undefined;
  } catch {
    return undefined;
  }
}
