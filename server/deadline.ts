/**
 * `withDeadline`: a promise, or a rejection once a deadline passes (for Redis calls made
 * outside the cache library, which has its own guard).
 *
 * @module
 */

/**
 * Resolves as `promise` does, or rejects after `ms` (the promise itself keeps running).
 *
 * @throws {Error} `no reply from Redis within <ms> ms` when the deadline passes first.
 * @example
 * ```ts
 * const value = await withDeadline(redis.get("wb:cache_format"), 1000);
 * ```
 */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no reply from Redis within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
