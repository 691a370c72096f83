/**
 * `PendingInvalidations`: the invalidations of a `StaleWhileRevalidate` memo that Redis did
 * not get yet. This process treats what they cover as stale at once, and retries them in
 * Redis in the background (backoff 250 ms to 5 s, on a timer that does not keep the
 * process alive) until they land, so an invalidation is never silently lost.
 *
 * @module
 */
import { RetryLoop } from "./_retry_loop.ts";

/** Invalidations not yet in Redis, by key, and of every key; retried until they land. */
export class PendingInvalidations {
  /** Key → when it was invalidated (epoch ms). */
  readonly #keys = new Map<string, number>();
  /** When every key was invalidated (epoch ms). */
  #allAt: number | undefined;
  readonly #retry = new RetryLoop(() => this.#retryPending());

  /** @param invalidate Marks `key` (every key when `undefined`) stale in Redis; `false` when it could not. */
  constructor(private readonly invalidate: (key?: string) => Promise<boolean>) {}

  /** Remembers an invalidation of `key` (every key when `undefined`) made at `at` (epoch ms), and retries it. */
  add(key: string | undefined, at: number): void {
    if (key === undefined) this.#allAt = at;
    else this.#keys.set(key, at);
    this.#retry.schedule();
  }

  /** Whether a pending invalidation makes a value of `key` computed at `computedAt` (epoch ms) stale. */
  covers(key: string, computedAt: number): boolean {
    const at = Math.max(this.#allAt ?? -Infinity, this.#keys.get(key) ?? -Infinity);
    return computedAt <= at;
  }

  /** Retries the pending invalidations; `true` when none is left. */
  async #retryPending(): Promise<boolean> {
    if (this.#allAt !== undefined && await this.invalidate()) {
      this.#allAt = undefined;
      this.#keys.clear();
    }
    for (const key of [...this.#keys.keys()]) {
      if (await this.invalidate(key)) this.#keys.delete(key);
    }
    return this.#allAt === undefined && this.#keys.size === 0;
  }
}
