/**
 * Waiting on the version table in tests: polling for a condition a background process (a
 * listener, a notification) makes true, without a timer between polls (`setImmediate`), so
 * what is measured is the delay itself; and cutting the table's listener.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { VERSION_LISTENER_APP } from "../version_table.ts";

/**
 * Polls `check` until it is true.
 *
 * @param timeoutMs How long to poll, in ms. @default {15_000}
 * @returns `true` when `check` became true, `false` after `timeoutMs`.
 */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return false;
}

/**
 * Terminates the version table's listener backend (`pg_terminate_backend`) from `db`, another
 * connection to the same database: what a Postgres restart or a network cut does to it.
 *
 * @returns How many backends were terminated (1 when one table listens).
 */
export async function terminateVersionListener(
  db: { query<R>(text: string, params?: unknown[]): Promise<R[]> },
): Promise<number> {
  const [{ killed }] = await db.query<{ killed: number }>(
    `SELECT count(pg_terminate_backend(pid))::int AS killed FROM pg_stat_activity
      WHERE application_name = $1 AND datname = current_database()`,
    [VERSION_LISTENER_APP],
  );
  return killed;
}
