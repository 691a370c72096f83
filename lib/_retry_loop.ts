/**
 * `RetryLoop`: retries a background task until it reports that nothing is left, with a
 * delay from 250 ms doubling to 5 s, on a timer that does not keep the process alive.
 * The clears of `TimCacheC` (`_pending_clears.ts`) and the invalidations of the memo
 * (`_pending_invalidations.ts`) that could not reach Redis are retried with it.
 *
 * @module
 */

/** One retry timer at a time for one task; see the module doc. */
export class RetryLoop {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #delayMs = 250;

  /** @param attempt Retries what is pending; resolves `true` when nothing is left. */
  constructor(private readonly attempt: () => Promise<boolean>) {}

  /** Schedules the next attempt, unless one is scheduled already. */
  schedule(): void {
    if (this.#timer !== undefined) return;
    this.#timer = unref(setTimeout(async () => {
      this.#timer = undefined;
      if (await this.attempt()) {
        this.#delayMs = 250;
        return;
      }
      this.#delayMs = Math.min(this.#delayMs * 2, 5000);
      this.schedule();
    }, this.#delayMs));
  }
}

/** A retry timer that does not keep the process alive. */
function unref(timer: ReturnType<typeof setTimeout>): ReturnType<typeof setTimeout> {
  const deno = (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno;
  if (typeof timer === "number") deno?.unrefTimer?.(timer);
  else (timer as { unref?(): void }).unref?.();
  return timer;
}
