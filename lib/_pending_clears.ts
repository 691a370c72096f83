/**
 * `PendingClears`: the clears of a `TimCacheC` that could not reach Redis, kept in this
 * process and retried in the background until they land.
 *
 * @module
 */
import { RetryLoop } from "./_retry_loop.ts";
import type { ClearResult } from "./types.ts";

/**
 * Clears that could not reach Redis, retried in the background (backoff 250 ms to 5 s)
 * until they land. While one is pending, the cache treats what it covers as unavailable in
 * this process (never served, never written), so a clear is never silently undone. At most
 * 10,000 keys are remembered; past that, the whole cache is cleared instead.
 */
export class PendingClears {
  readonly #keys = new Set<string>();
  #all = false;
  readonly #retry = new RetryLoop(() => this.#retryPending());

  constructor(
    private readonly deleteKey: (uniquenessHash: string) => Promise<boolean>,
    private readonly deleteAll: () => Promise<number | undefined>,
  ) {}

  /** The keys still to clear, and whether the whole cache is. */
  get size(): { keys: number; all: boolean } {
    return { keys: this.#keys.size, all: this.#all };
  }

  /** Whether a pending clear covers `uniquenessHash`. */
  covers(uniquenessHash: string): boolean {
    return this.#all || (this.#keys.size > 0 && this.#keys.has(uniquenessHash));
  }

  /** Clears one key now, or remembers it and retries (`pending`). */
  async clear(uniquenessHash: string): Promise<ClearResult> {
    if (this.#all) return { status: "pending" };
    if (await this.deleteKey(uniquenessHash)) {
      this.#keys.delete(uniquenessHash);
      return { status: "cleared" };
    }
    if (this.#keys.size >= 10_000) this.#all = true;
    else this.#keys.add(uniquenessHash);
    this.#schedule();
    return { status: "pending" };
  }

  /** Clears the whole cache now, or remembers that and retries (`pending`). */
  async clearAll(): Promise<ClearResult> {
    const deleted = await this.deleteAll();
    if (deleted !== undefined) {
      this.#all = false;
      this.#keys.clear();
      return { status: "cleared", deleted };
    }
    this.#all = true;
    this.#keys.clear();
    this.#schedule();
    return { status: "pending" };
  }

  #schedule(): void {
    this.#retry.schedule();
  }

  /** Retries the pending clears; `true` when none is left. */
  async #retryPending(): Promise<boolean> {
    if (this.#all) {
      if (await this.deleteAll() !== undefined) this.#all = false;
    } else {
      for (const key of [...this.#keys]) {
        if (await this.deleteKey(key)) this.#keys.delete(key);
        else break;
      }
    }
    return !this.#all && this.#keys.size === 0;
  }
}
