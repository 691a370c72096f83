/**
 * Polling for tests: waits for a condition that a background process (a listener, a
 * notification) makes true, without a timer between polls (`setImmediate`), so what is
 * measured is the delay itself.
 *
 * @module
 */
import { setImmediate } from "node:timers";

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
